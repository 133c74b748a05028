"""What dominates the single-row tail: `python benchmarks/serving/tail.py` (about 3 minutes).

Open loop, 200 single-row requests a second for 5 s (after 2 s of warm-up), against `mlplat serve`
with its prediction log on and off (the project's own conf/serving/default.yaml), each with and
without a CPU burner beside it (one busy Python process: load ~2 on 2 cores). The four
variants alternate in each of ``--rounds`` rounds; prints each run's p99 and the medians. The
log-off runs check that no log file was written.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))

from harness import CLI, free_port, load, sh, wait_ready  # noqa: E402

PYPROJECT = '[project]\nname = "tail"\n\n[tool.mlplat]\n'  # makes the folder a project: its conf/ is a layer


def one_run(tmp: Path, env: dict, proj: Path, log_on: bool, burner: bool) -> dict:
    shipped = (REPO / "conf" / "serving" / "default.yaml").read_text()
    (proj / "conf" / "serving").mkdir(parents=True)
    (proj / "pyproject.toml").write_text(PYPROJECT)
    off = shipped.replace("prediction_log:\n  enabled: true", "prediction_log:\n  enabled: false")
    (proj / "conf" / "serving" / "default.yaml").write_text(shipped if log_on else off)
    port = free_port()
    server = subprocess.Popen([*CLI, "serve", "churn", "--alias", "staging", "--port", str(port)],
                              env={**env, "MLPLAT_ACTOR": "bench"}, cwd=proj, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    burn = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if burner else None
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/readyz", server, timeout=60, what="mlplat serve")
        load(base, tmp / "records.json", 1, 16, 200, 2)  # warm-up
        result = load(base, tmp / "records.json", 1, 16, 200, 5)
        result["load"] = os.getloadavg()[0]
    finally:
        if burn is not None:
            burn.kill()
        server.send_signal(signal.SIGINT)
        server.wait(20)
    result["log_files"] = len(list((proj / "runs" / "predictions").rglob("*.parquet")))
    if not log_on and result["log_files"]:
        raise SystemExit(f"the log-off server wrote {result['log_files']} log files: the override was not read")
    return result


def main() -> None:
    import pandas as pd

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mlplat-tail-"))
    url = f"sqlite:///{tmp}/mlplat.db"
    env = {**os.environ, "MLPLAT_STORE_URL": url, "MLPLAT_ARTIFACTS": str(tmp / "artifacts"),
           "OMP_WAIT_POLICY": "PASSIVE"}
    sh(["train", "dataset=churn", "evaluation=fast", "model=logreg"], env, tmp)
    run_id = json.loads(sh(["runs", "list", "--format", "json"], env, tmp))[0]["id"]
    sh(["models", "register", run_id, "--name", "churn"], env, tmp)
    sh(["models", "promote", "churn", "1", "--to", "staging"], env, tmp)
    data = pd.read_csv(REPO / "data" / "churn.csv").drop(columns=["customer_id", "churned"])
    (tmp / "records.json").write_text(data.head(100).to_json(orient="records"))
    p99: dict[tuple[str, str], list[float]] = {}
    for rnd in range(args.rounds):
        for burner in (False, True):
            for log_on in (True, False):
                key = ("a busy process beside" if burner else "nothing beside", "log on" if log_on else "log off")
                r = one_run(tmp, env, tmp / f"p{rnd}-{int(burner)}-{int(log_on)}", log_on, burner)
                p99.setdefault(key, []).append(r["p99"])
                print(f"round {rnd + 1} {key[0]}, {key[1]}: p99 {r['p99']:.2f} ms, p50 {r['p50']:.2f} ms, "
                      f"{r['rps']:.1f} req/s, errors {r['errors']}, load {r['load']:.2f}, log files {r['log_files']}",
                      flush=True)
    for (beside, log), values in p99.items():
        print(f"{beside:22s} {log:8s} p99 median {statistics.median(values):6.2f} ms  runs "
              + ", ".join(f"{v:.2f}" for v in values))


if __name__ == "__main__":
    main()
