"""Run inside MLflow's own venv (never a dependency of mlplat): the same runs in MLflow's SQLite store.

    python mlflow_side.py RUNS_JSON WORKDIR

Writes the runs run.py generated (the store_scale population) with ``MlflowClient.log_batch``,
each named by its mlplat run id (tag mlflow.runName) so both UIs show the same names, then
prints one JSON line: the version, the experiment id and, in job order, the MLflow run ids.
A populated store is reused.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient


def main() -> None:
    data = json.loads(Path(sys.argv[1]).read_text())
    workdir = Path(sys.argv[2])
    workdir.mkdir(parents=True, exist_ok=True)
    marker = workdir / "populated.json"
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlflow.db")
    client = MlflowClient()
    if marker.exists():
        print(marker.read_text())
        return
    exp_id = client.create_experiment("bench", artifact_location=str(workdir / "a"))
    ids = {}
    for d in data:
        ms = int(d["started_at"] * 1000)
        run = client.create_run(exp_id, start_time=ms, run_name=d["id"])
        tags = [RunTag(k, v) for k, v in d["tags"].items()]
        tags += [RunTag("dataset", d["dataset"]), RunTag("model", d["model"]), RunTag("sweep", d["sweep"])]
        client.log_batch(run.info.run_id, metrics=[Metric(k, v, ms, 0) for k, v in d["metrics"].items()],
                         params=[Param(k, str(v)) for k, v in d["params"].items()], tags=tags)
        client.set_terminated(run.info.run_id, end_time=ms + 2000)
        ids[d["id"]] = run.info.run_id
    out = json.dumps({"version": mlflow.__version__, "experiment_id": exp_id, "run_ids": ids})
    marker.write_text(out)
    print(out)


if __name__ == "__main__":
    main()
