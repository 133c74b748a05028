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

# (label, concurrency, rate (0: closed loop), seconds)
SCENARIOS = [("1 row, concurrency 16", 16, 0, 15), ("1 row, open loop 200 req/s", 16, 200, 6)]


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


WRK_SCRIPT = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[%s]]
"""


def _ms(text: str) -> float:
    """wrk's latency figure (``850.00us``, ``1.23ms``, ``2.01s``) in ms."""
    for unit, scale in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    raise ValueError(text)


def run_wrk(base: str, body: str, tmp: Path, conc: int, seconds: int) -> dict:
    """Closed loop at ``conc`` connections with wrk (C, one thread): a load generator that costs the
    2-core machine a fraction of a core, where the Python one costs about one core at this rate and so
    caps what a second worker can show."""
    script = tmp / "post.lua"
    script.write_text(WRK_SCRIPT % body)
    out = subprocess.run(["wrk", "-t1", f"-c{conc}", f"-d{seconds}s", "--latency", "-s", str(script),
                          f"{base}/v1/models/churn/predict"], capture_output=True, text=True, check=True).stdout
    fields = {}
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            fields["rps"] = float(parts[1])
        elif len(parts) == 2 and parts[0] in ("50%", "99%"):
            fields["p50" if parts[0] == "50%" else "p99"] = _ms(parts[1])
        elif "Non-2xx" in line:
            fields["errors"] = int(parts[-1])
    fields.setdefault("errors", 0)
    return fields


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--wrk", action="store_true", help="closed loop with wrk (apt install wrk) instead of the "
                                                       "Python load generator")
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
                    if args.wrk and rate == 0:
                        # 3 s unmeasured first: every worker's connections open and its code paths warm
                        run_wrk(base, json.dumps({"records": records}), tmp, conc, 3)
                        r = run_wrk(base, json.dumps({"records": records}), tmp, conc, seconds)
                    else:
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
    loaded = max(load_before[0], load_after[0]) > 1.0
    gen = ("wrk (one thread) for the closed loop, the Python generator (httpx in threads) for the open loop"
           if args.wrk else "the Python load generator (one process, httpx in threads)")
    lines = [
        f"## Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
        f"`python benchmarks/serve_workers/run.py --repeat {args.repeat}{' --wrk' if args.wrk else ''}` on "
        f"{platform.node()} ({os.cpu_count()} cores, Python {platform.python_version()}).",
        f"{'**Taken under load**: ' if loaded else 'Quiet machine: '}load average (1/5/15 min) before "
        f"{load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f}, after {load_after[0]:.1f}/"
        f"{load_after[1]:.1f}/{load_after[2]:.1f}. Load generator: {gen}, on the same 2 cores.", "",
        "Server: `mlplat serve churn --workers N` (uvicorn's supervisor, prediction log and micro-batching on), "
        "churn logistic regression. Medians over the repeats, range in brackets.", "",
        "| workers | scenario | req/s | p50 ms | p99 ms | errors |", "|---:|---|---:|---:|---:|---:|", *rows, "",
        f"Throughput at concurrency 16, 2 workers / 1 worker: **{ratio:.2f}x** (target >= 1.6x: "
        f"{'met' if ratio >= 1.6 else 'NOT met'}).",
        f"p99 at 200 req/s open loop: 1 worker {p99_1:.2f} ms, 2 workers {p99_2:.2f} ms (target: no worse: "
        f"{'met' if p99_2 <= p99_1 else 'NOT met'}).", "",
    ]
    # each run adds a dated section below the earlier ones: the file is the benchmark's history
    results_md = HERE / "RESULTS.md"
    earlier = (results_md.read_text().rstrip() + "\n\n" if results_md.exists()
               else "# Service workers benchmark\n\n")
    results_md.write_text(earlier + "\n".join(lines))
    print(f"throughput ratio {ratio:.2f}x; open-loop p99 {p99_1:.2f} -> {p99_2:.2f} ms")


if __name__ == "__main__":
    main()
