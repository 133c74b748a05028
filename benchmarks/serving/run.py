"""Serving benchmark: `python benchmarks/serving/run.py` (about a minute on 2 cores).

Trains a churn logreg into a temporary store, registers and promotes it, starts
`mlplat serve` (uvicorn, a separate process) on 127.0.0.1, and drives it from a load
generator in another process (loadgen.py: httpx clients in threads). Scenarios: 1 and
100-row bodies at concurrency 1 and 16 (closed loop), plus single rows at an open-loop
200 req/s. Reports throughput, p50/p95/p99 latency and errors, and the in-process predict
time of the same model; writes RESULTS.md next to this file. The last line is the ratio of
the served single-row p50 to the in-process predict time (the HTTP/validation overhead).
With ``--mlflow-python`` the same scenarios then run against `mlflow models serve` (MLflow in
its own venv, never a dependency) and each scenario's mlplat/MLflow throughput ratio is printed.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "serving"))

from harness import CLI, free_port, load, sh, wait_ready  # noqa: E402


def mlflow_side(python: str, tmp: Path, run_id: str, scenarios: list) -> list[dict]:
    """The same model saved as an MLflow model and served by `mlflow models serve` (MLflow's own venv,
    one uvicorn worker, as mlplat's one process), driven by the same load generator and scenarios."""

    model_dir = tmp / "mlflow_model"
    python = os.path.abspath(python)
    subprocess.run([python, str(REPO / "benchmarks" / "batch_predict" / "mlflow_side.py"),
                    str(tmp / "artifacts" / run_id / "model.joblib"), str(model_dir)], check=True, capture_output=True)
    port = free_port()
    mlflow_bin = str(Path(python).with_name("mlflow"))
    # the pickle holds mlplat's label wrapper: the repository on the path, as for batch_predict's MLflow side
    server = subprocess.Popen([mlflow_bin, "models", "serve", "-m", str(model_dir), "--env-manager", "local",
                               "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
                              # MLflow starts `uvicorn` by name: its venv's bin first on PATH
                              env={**os.environ, "PYTHONPATH": str(REPO),
                                   "PATH": f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
                              cwd=tmp, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    out = []
    try:
        wait_ready(f"{base}/ping", server, timeout=120, what="mlflow models serve")
        for label, rows, conc, rate, seconds in scenarios:
            r = load(base, tmp / "records.json", rows, conc, rate, seconds, "/invocations", "dataframe_records")
            r["label"] = label
            out.append(r)
            print(f"MLflow {label:21s} {r['rps']:8.1f} req/s  p50 {r['p50']:6.2f} ms  p95 {r['p95']:6.2f} ms  "
                  f"p99 {r['p99']:6.2f} ms  errors {r['errors']}", flush=True)
    finally:
        server.terminate()
        server.wait(20)
    return out


def main() -> None:
    import argparse

    import numpy as np
    import pandas as pd

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mlflow-python", help="python of MLflow's venv (.bench-venvs/mlflow/bin/python): the same "
                                            "scenarios against `mlflow models serve`, with mlplat/MLflow ratios")
    args = ap.parse_args()

    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="mlplat-bench-"))
    url = f"sqlite:///{tmp}/mlplat.db"
    env = {**os.environ, "MLPLAT_STORE_URL": url, "MLPLAT_ARTIFACTS": str(tmp / "artifacts"),
           "OMP_WAIT_POLICY": "PASSIVE"}
    sh(["train", "dataset=churn", "evaluation=fast", "model=logreg", f"tracking.url={url}",
        f"tracking.artifacts={tmp / 'artifacts'}"], env, tmp)
    run_id = json.loads(sh(["runs", "list", "--format", "json"], env, tmp))[0]["id"]
    sh(["models", "register", run_id, "--name", "churn"], env, tmp)
    req = json.loads(sh(["models", "promote", "churn", "1", "--to", "staging", "--format", "json"], env, tmp))
    assert req["status"] == "approved"

    data = pd.read_csv(REPO / "data" / "churn.csv").drop(columns=["customer_id", "churned"])
    records = json.loads(data.head(100).to_json(orient="records"))

    # in-process baseline: the same validation + predict the handler runs, without HTTP
    from mlplat import ops
    from mlplat.serving import signature as sig
    from mlplat.serving.holder import load_version

    store = ops.open_store(url=url)
    loaded = load_version(store, "churn", 1)
    inproc = {}
    for n in (1, 100):
        body = {"records": records[:n]}
        times = []
        for _ in range(300 if n == 1 else 100):
            t0 = time.perf_counter()
            loaded.predict(sig.frame(sig.columns_from_body(body, loaded.spec, 10000), loaded.spec))
            times.append(time.perf_counter() - t0)
        inproc[n] = float(np.median(times) * 1000)

    port = free_port()
    server = subprocess.Popen([*CLI, "serve", "churn", "--alias", "staging", "--port", str(port)],
                              env={**env, "MLPLAT_ACTOR": "bench"}, cwd=tmp, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        wait_ready(f"{base}/readyz", server, timeout=60, what="mlplat serve")
        (tmp / "records.json").write_text(json.dumps(records))
        scenarios = [("1 row, concurrency 1", 1, 1, 0, 8), ("1 row, concurrency 16", 1, 16, 0, 8),
                     ("100 rows, concurrency 1", 100, 1, 0, 8), ("100 rows, concurrency 16", 100, 16, 0, 8),
                     ("1 row, open loop 200 req/s", 1, 16, 200, 5)]
        results = []
        for label, rows, conc, rate, seconds in scenarios:
            r = load(base, tmp / "records.json", rows, conc, rate, seconds)
            r["label"] = label
            results.append(r)
            print(f"{label:28s} {r['rps']:8.1f} req/s  p50 {r['p50']:6.2f} ms  p95 {r['p95']:6.2f} ms  "
                  f"p99 {r['p99']:6.2f} ms  errors {r['errors']}", flush=True)
        batched = {line.split('what="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
                   for line in httpx.get(f"{base}/metrics", timeout=5).text.splitlines()
                   if line.startswith("mlplat_predict_batched{")}
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(20)
    mlflow = mlflow_side(args.mlflow_python, tmp, run_id, scenarios) if args.mlflow_python else []
    for ours, theirs in zip(results, mlflow, strict=False):
        print(f"{ours['label']:28s} mlplat/MLflow req/s {ours['rps'] / max(theirs['rps'], 1e-9):6.2f}x  "
              f"(MLflow p99 {theirs['p99']:.2f} ms, errors {theirs['errors']})", flush=True)

    open_loop = results[-1]
    single = results[0]
    ratio = single["p50"] / inproc[1]
    lines = [
        "# Serving benchmark", "",
        f"`python benchmarks/serving/run.py` on {platform.node()} ({os.cpu_count()} cores, Python "
        f"{platform.python_version()}), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "Model: churn logistic regression (5 features, one-hot + scaling pipeline). Server: `mlplat serve` "
        "(uvicorn, 1 process, prediction log on, micro-batching on: serving.micro_batch_rows=2000). "
        "Load generator: a separate process, httpx in threads.", "",
        "| scenario | req/s | p50 ms | p95 ms | p99 ms | errors | requests |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *[f"| {r['label']} | {r['rps']:.1f} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} | {r['errors']} | "
          f"{r['n']} |" for r in results], "",
        f"In-process validation + predict (no HTTP): 1 row {inproc[1]:.3f} ms, 100 rows {inproc[100]:.3f} ms (median).",
        f"Micro-batching over all scenarios: {batched.get('requests', 0):.0f} requests in {batched.get('calls', 0):.0f} "
        f"model calls ({batched.get('requests', 0) / max(batched.get('calls', 1), 1):.2f} requests per call).",
        f"Target single-row p99 <= 10 ms at 200 req/s with zero errors: p99 {open_loop['p99']:.2f} ms, errors "
        f"{open_loop['errors']} -> {'met' if open_loop['p99'] <= 10 and open_loop['errors'] == 0 else 'NOT met'}.",
        f"Machine load average (1 min) before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f}; other "
        "processes sharing the 2 cores inflate every figure, so compare runs on an idle machine.",
        "Latency is measured by the client (includes the load generator's own HTTP stack on the same 2 cores).", "",
        f"Overhead ratio (served single-row p50 / in-process predict): {ratio:.2f}", "",
    ]
    if mlflow:
        lines += ["Same scenarios against `mlflow models serve` (MLflow's venv, one uvicorn worker, the same model "
                  "saved with mlflow.sklearn), run after mlplat's:", "",
                  "| scenario | MLflow req/s | MLflow p99 ms | errors | mlplat/MLflow req/s |", "|---|---:|---:|---:|---:|",
                  *[f"| {t['label']} | {t['rps']:.1f} | {t['p99']:.2f} | {t['errors']} | "
                    f"{o['rps'] / max(t['rps'], 1e-9):.2f}x |" for o, t in zip(results, mlflow, strict=False)], ""]
    (HERE / "RESULTS.md").write_text("\n".join(lines))
    print(f"in-process predict: 1 row {inproc[1]:.3f} ms, 100 rows {inproc[100]:.3f} ms")
    print(f"served single-row p50 / in-process predict = {ratio:.2f}")


if __name__ == "__main__":
    main()
