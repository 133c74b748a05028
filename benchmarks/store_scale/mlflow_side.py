"""Run inside a venv with MLflow (never a dependency of mlplat): populate and time search_runs.

    python mlflow_side.py RUNS_JSON WORKDIR

Reads the runs run.py generated, writes them to MLflow's SQLite tracking store with
``MlflowClient.log_batch`` (its fastest write path) and times the two leaderboard queries
as median of 5 after a warm-up. Prints one JSON line: version, write rate, timings in ms.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient


def median_ms(fn, repeat: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def populate(client: MlflowClient, exp_id: str, data: list[dict]) -> float:
    t = time.perf_counter()
    for d in data:
        ms = int(d["started_at"] * 1000)
        run = client.create_run(exp_id, start_time=ms)
        tags = [RunTag(k, v) for k, v in d["tags"].items()]
        tags += [RunTag("dataset", d["dataset"]), RunTag("model", d["model"]), RunTag("sweep", d["sweep"])]
        client.log_batch(run.info.run_id, metrics=[Metric(k, v, ms, 0) for k, v in d["metrics"].items()],
                         params=[Param(k, str(v)) for k, v in d["params"].items()], tags=tags)
        client.set_terminated(run.info.run_id, end_time=ms + 2000)
    return len(data) / (time.perf_counter() - t)


def main() -> None:
    data = json.loads(Path(sys.argv[1]).read_text())
    workdir = Path(sys.argv[2])
    workdir.mkdir(parents=True, exist_ok=True)
    marker = workdir / "populated.json"
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlflow.db")
    client = MlflowClient()
    exp = client.get_experiment_by_name("bench")
    exp_id = exp.experiment_id if exp else client.create_experiment("bench", artifact_location=str(workdir / "a"))
    rate = json.loads(marker.read_text())["rate"] if marker.exists() else populate(client, exp_id, data)
    marker.write_text(json.dumps({"rate": rate}))
    top10 = median_ms(lambda: client.search_runs([exp_id], "attributes.status = 'FINISHED'",
                                                 order_by=["metrics.roc_auc DESC"], max_results=10))
    filtered = median_ms(lambda: client.search_runs(
        [exp_id], "attributes.status = 'FINISHED' and tags.dataset = 'wage' and tags.model = 'xgboost'",
        order_by=["metrics.roc_auc DESC"], max_results=10))
    print(json.dumps({"version": mlflow.__version__, "rate": rate, "top10": top10, "top10_filtered": filtered}))


if __name__ == "__main__":
    main()
