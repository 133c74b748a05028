"""Service workers benchmark: `python benchmarks/serve_workers/run.py [--repeat 3]` (about 2 minutes per repeat).

Trains a churn logistic regression into a temporary store, registers and promotes it, then
for each repeat starts `mlplat serve churn --workers 1` and `--workers 2` in turn (interleaved,
so a change of the machine's load hits both alike) on 127.0.0.1 and drives each with the
serving benchmark's load generator (benchmarks/serving/loadgen.py, its own process: httpx
clients in threads):

* single-row requests, closed loop at concurrency 16 (throughput);
* single-row requests, open loop at 200 req/s (latency measured from the scheduled send time).

Reports medians and ranges over the repeats, the ratios 2 workers / 1 worker, and the load
average before and after; writes RESULTS.md next to this file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "benchmarks" / "serving"))

from harness import CLI, LOADGEN, free_port, sh  # noqa: E402

SCENARIOS = [("1 row, concurrency 16", 16, 0, 8), ("1 row, open loop 200 req/s", 16, 200, 6)]


def serve(workers: int, env: dict, cwd: Path) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    proc = subprocess.Popen([*CLI, "serve", "churn", "--alias", "staging", "--port", str(port), "--workers",
                             str(workers)], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 240  # start-up is seconds on an idle machine, minutes on a loaded one
    pids: set[str] = set()
    body = {"records": [{"tenure_months": 12, "monthly_charges": 70.5, "support_calls": 3, "contract": "month",
                         "region": "north"}]}
    while len(pids) < workers:  # every worker loaded and answering, not just the first
        try:
            r = httpx.post(f"{base}/v1/models/churn/predict", json=body, timeout=2)
            if r.status_code == 200:
                pids.add(r.headers.get("x-mlplat-worker", "single"))
        except httpx.TransportError:
            time.sleep(0.2)
        if time.time() > deadline or proc.poll() is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
                err = "(still starting)"
            else:
                err = proc.stderr.read().decode()[-2000:]
            raise SystemExit(f"server with {workers} worker(s) did not become ready: {err}")
    return proc, base


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import pandas as pd

    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="mlplat-bench-workers-"))
    url = f"sqlite:///{tmp}/mlplat.db"
    env = {**os.environ, "MLPLAT_STORE_URL": url, "MLPLAT_ARTIFACTS": str(tmp / "artifacts"),
           "OMP_WAIT_POLICY": "PASSIVE", "MLPLAT_ACTOR": "bench"}
    sh(["train", "dataset=churn", "evaluation=fast", "model=logreg", f"tracking.url={url}",
        f"tracking.artifacts={tmp / 'artifacts'}"], env, tmp)
    run_id = json.loads(sh(["runs", "list", "--format", "json"], env, tmp))[0]["id"]
    sh(["models", "register", run_id, "--name", "churn"], env, tmp)
    req = json.loads(sh(["models", "promote", "churn", "1", "--to", "staging", "--format", "json"], env, tmp))
    assert req["status"] == "approved"
    records = json.loads(pd.read_csv(REPO / "data" / "churn.csv").drop(columns=["customer_id", "churned"])
                         .head(1).to_json(orient="records"))
    (tmp / "records.json").write_text(json.dumps(records))

    results: dict[tuple[int, str], list[dict]] = {}
    for rep in range(args.repeat):
        for workers in (1, 2):
            proc, base = serve(workers, env, tmp)
            try:
                for label, conc, rate, seconds in SCENARIOS:
                    out = subprocess.run([sys.executable, str(LOADGEN), base, str(tmp / "records.json"), "1",
                                          str(conc), str(rate), str(seconds)], capture_output=True, text=True,
                                         check=True)
                    r = json.loads(out.stdout)
                    r["load"] = os.getloadavg()[0]
                    results.setdefault((workers, label), []).append(r)
                    print(f"repeat {rep + 1}, {workers} worker(s), {label:28s} {r['rps']:8.1f} req/s  "
                          f"p50 {r['p50']:6.2f}  p99 {r['p99']:6.2f} ms  errors {r['errors']}  "
                          f"(load {r['load']:.1f})", flush=True)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
    load_after = os.getloadavg()

    def med(workers: int, label: str, key: str) -> float:
        return float(np.median([r[key] for r in results[(workers, label)]]))

    def cell(workers: int, label: str, key: str) -> str:
        xs = [r[key] for r in results[(workers, label)]]
        return f"{np.median(xs):.1f} ({min(xs):.1f}-{max(xs):.1f})"

    thr, ol = SCENARIOS[0][0], SCENARIOS[1][0]
    ratio = med(2, thr, "rps") / med(1, thr, "rps")
    p99_1, p99_2 = med(1, ol, "p99"), med(2, ol, "p99")
    rows = [f"| {w} | {label} | {cell(w, label, 'rps')} | {cell(w, label, 'p50')} | {cell(w, label, 'p99')} | "
            f"{sum(r['errors'] for r in results[(w, label)])} |" for label, *_ in SCENARIOS for w in (1, 2)]
    lines = [
        "# Service workers benchmark", "",
        f"`python benchmarks/serve_workers/run.py --repeat {args.repeat}` on {platform.node()} ({os.cpu_count()} "
        f"cores, Python {platform.python_version()}), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        f"**Taken under load**: load average (1/5/15 min) before {load_before[0]:.1f}/{load_before[1]:.1f}/"
        f"{load_before[2]:.1f}, after {load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f}; other sessions "
        "shared the 2 cores, and so does the load generator (one process, httpx in threads).", "",
        "Server: `mlplat serve churn --workers N` (uvicorn's supervisor, prediction log and micro-batching on), "
        "churn logistic regression. Medians over the repeats, range in brackets.", "",
        "| workers | scenario | req/s | p50 ms | p99 ms | errors |", "|---:|---|---:|---:|---:|---:|", *rows, "",
        f"Throughput at concurrency 16, 2 workers / 1 worker: **{ratio:.2f}x** (target >= 1.6x: "
        f"{'met' if ratio >= 1.6 else 'NOT met'}).",
        f"p99 at 200 req/s open loop: 1 worker {p99_1:.2f} ms, 2 workers {p99_2:.2f} ms (target: no worse: "
        f"{'met' if p99_2 <= p99_1 else 'NOT met'}).", "",
    ]
    (HERE / "RESULTS.md").write_text("\n".join(lines))
    print(f"throughput ratio {ratio:.2f}x; open-loop p99 {p99_1:.2f} -> {p99_2:.2f} ms")


if __name__ == "__main__":
    main()
