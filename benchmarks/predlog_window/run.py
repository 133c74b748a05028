"""Prediction-log window benchmark: `python benchmarks/predlog_window/run.py [--rows 10000000] [--repeat 3]`.

Trains a churn logistic regression into a temporary store and registers it, then writes a
prediction log of ``--rows`` rows inside the last 7 days (plus 20% more rows on the 3 days
before, which the window must skip) directly as the service's partitioned Parquet
(model=churn/version=1/date=<day>/part-...parquet, 2 workers x 24 files a day), with inputs
sampled from data/churn.csv and the model's own probabilities. Then it runs, as a user does,

    mlplat monitor drift churn --since 7d --format json

``--repeat`` times, measuring wall time and the peak resident memory of that process
(getrusage of the child), and the same window read by DuckDB (``--duckdb-python``: a
Python of a separate venv with duckdb and pandas; reads the window's rows and columns into
pandas, no drift check) for comparison. Writes RESULTS.md next to this file.
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CLI = [sys.executable, "-m", "mlplat.cli"]
DAY = 86400.0


def sh(args: list[str], env: dict, cwd: Path) -> str:
    return subprocess.run([*CLI, *args], env=env, cwd=cwd, check=True, capture_output=True, text=True).stdout


def _hex_ids(rng, n: int) -> pa.Array:
    """``n`` random 32-hex-digit request ids, built as one Arrow buffer (a Python loop costs minutes at 10M)."""
    data = pa.py_buffer(rng.bytes(16 * n).hex().encode())
    offsets = pa.py_buffer(np.arange(0, 32 * n + 1, 32, dtype=np.int32).tobytes())
    return pa.Array.from_buffers(pa.string(), n, [None, offsets, data])


def generate(root: Path, model, rows: int, now: float) -> dict:
    """``rows`` rows spread over the 7 days before ``now`` and rows // 5 over the 3 days before those."""
    src = pd.read_csv(REPO / "data" / "churn.csv").drop(columns=["customer_id", "churned"])
    rng = np.random.default_rng(0)
    files = n_in = n_out = 0
    plan = [(d, rows // (7 * 48)) for d in range(7)] + [(d, rows // 5 // (3 * 48)) for d in range(7, 10)]
    for day_back, per_file in plan:
        day_start = now - (day_back + 1) * DAY
        for f in range(48):
            ts = np.sort(day_start + rng.uniform(0, DAY, per_file))
            sample = src.iloc[rng.integers(0, len(src), per_file)].reset_index(drop=True)
            proba = model.predict_proba(sample)
            table = pa.table({
                "ts": ts, "request_id": _hex_ids(rng, per_file),
                "row": np.zeros(per_file, dtype=np.int64), "latency_ms": rng.gamma(2.0, 1.5, per_file),
                **{f"input.{c}": pa.array(sample[c], from_pandas=True) for c in sample.columns},
                "prediction": proba.argmax(axis=1), "proba.0": proba[:, 0], "proba.1": proba[:, 1]})
            # one file per hour-ish flush of one of two workers, in the UTC date folder of its rows
            for day in sorted({time.strftime("%Y-%m-%d", time.gmtime(t)) for t in (ts[0], ts[-1])}):
                lo = calendar.timegm(time.strptime(day, "%Y-%m-%d"))
                part = table.filter(pc.and_(pc.greater_equal(table["ts"], lo), pc.less(table["ts"], lo + DAY)))
                if not len(part):
                    continue
                d = root / "model=churn" / "version=1" / f"date={day}"
                d.mkdir(parents=True, exist_ok=True)
                first, last = int(part["ts"][0].as_py() * 1000), int(part["ts"][-1].as_py() * 1000)
                pq.write_table(part, d / f"part-{first:013d}-{last:013d}-{1000 + f % 2}-{uuid.uuid4().hex[:12]}.parquet")
                files += 1
            if day_back < 7:
                n_in += per_file
            else:
                n_out += per_file
    return {"files": files, "rows_in_window": n_in, "rows_before": n_out}


READ = """
import sys, time
from mlplat.serving.predlog import read_prediction_log
from mlplat.serving.predlog_columns import read_window_columns
mode, root, since = sys.argv[1], sys.argv[2], float(sys.argv[3])
cols = [f"input.{c}" for c in ("tenure_months", "monthly_charges", "support_calls", "contract", "region")]
cols.append("proba.1")
t0 = time.perf_counter()
if mode == "plain":
    df = read_prediction_log("churn", since, root=root, version=1, columns=cols, ordered=False)
else:
    df = read_window_columns("churn", since, None, root=root, version=1, columns=cols)
print("RESULT", len(df), time.perf_counter() - t0, df.memory_usage(deep=True).sum() / 2**20)
"""

DUCKDB = """
import sys, time, duckdb
root, since = sys.argv[1], float(sys.argv[2])
duckdb.sql("SET enable_progress_bar = false")
t0 = time.perf_counter()
df = duckdb.sql(f"SELECT \\"input.tenure_months\\", \\"input.monthly_charges\\", \\"input.support_calls\\", "
                f"\\"input.contract\\", \\"input.region\\", \\"proba.1\\" FROM read_parquet('{root}/**/*.parquet', "
                f"hive_partitioning = true) WHERE model = 'churn' AND version = 1 AND ts >= {since}").df()
print("RESULT", len(df), time.perf_counter() - t0)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--duckdb-python", help="a Python with duckdb + pandas (its own venv, see README)")
    args = ap.parse_args()
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="mlplat-bench-window-"))
    url = f"sqlite:///{tmp}/mlplat.db"
    env = {**os.environ, "MLPLAT_STORE_URL": url, "MLPLAT_ARTIFACTS": str(tmp / "artifacts"), "MLPLAT_ACTOR": "bench"}
    sh(["train", "dataset=churn", "evaluation=fast", "model=logreg", f"tracking.url={url}",
        f"tracking.artifacts={tmp / 'artifacts'}"], env, tmp)
    run_id = json.loads(sh(["runs", "list", "--format", "json"], env, tmp))[0]["id"]
    sh(["models", "register", run_id, "--name", "churn"], env, tmp)

    from mlplat import ops
    from mlplat.serving.holder import load_version

    model = load_version(ops.open_store(url=url), "churn", 1).model
    now = time.time()
    t0 = time.perf_counter()
    info = generate(tmp / "runs" / "predictions", model, args.rows, now)
    gen_s = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in (tmp / "runs" / "predictions").rglob("*.parquet"))
    print(f"generated {info['rows_in_window']:,} rows in the window + {info['rows_before']:,} before, "
          f"{info['files']} files, {size / 2**20:.0f} MiB, in {gen_s:.0f} s", flush=True)

    runs = []
    for i in range(args.repeat):
        # /usr/bin/time -f %M: the peak resident set of that one process, in KiB
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", *CLI, "monitor", "drift", "churn", "--since", "7d",
                            "--format", "json"], env=env, cwd=tmp, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode not in (0, 1):
            raise SystemExit(f"monitor drift failed ({p.returncode}): {p.stderr}")
        peak_mib = int(p.stderr.strip().splitlines()[-1]) / 1024
        out = json.loads(p.stdout)
        runs.append({"wall": wall, "peak": peak_mib, "n_rows": out["n_rows"], "status": out["status"]})
        print(f"run {i + 1}: {wall:.2f} s wall, peak RSS {peak_mib:.0f} MiB, n_rows {out['n_rows']:,}, "
              f"status {out['status']}", flush=True)
    # the read alone, each reader in a process of its own (wall of the read, peak RSS of that process):
    # the plain reader (pyarrow to_table + to_pandas) and the compact one the drift check uses
    reads: dict[str, list[dict]] = {"plain": [], "compact": []}
    for _ in range(args.repeat):
        for mode in reads:
            p = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, "-c", READ, mode,
                                str(tmp / "runs" / "predictions"), str(time.time() - 7 * DAY)],
                               capture_output=True, text=True, env=env)
            if p.returncode:
                raise SystemExit(f"{mode} read failed: {p.stderr}")
            n, secs, mib = next(ln for ln in p.stdout.splitlines() if ln.startswith("RESULT")).split()[1:]
            reads[mode].append({"wall": float(secs), "peak": int(p.stderr.strip().splitlines()[-1]) / 1024})
            print(f"{mode} read: {float(secs):.2f} s, peak RSS {reads[mode][-1]['peak']:.0f} MiB, {int(n):,} rows, "
                  f"{float(mib):.0f} MiB as pandas", flush=True)
    duck = []
    if args.duckdb_python:
        for _ in range(args.repeat):
            p = subprocess.run(["/usr/bin/time", "-f", "%M", args.duckdb_python, "-c", DUCKDB,
                                str(tmp / "runs" / "predictions"), str(now - 7 * DAY)], capture_output=True, text=True)
            if p.returncode:
                raise SystemExit(f"duckdb failed: {p.stderr}")
            n, secs = next(ln for ln in p.stdout.splitlines() if ln.startswith("RESULT")).split()[1:]
            duck.append({"wall": float(secs), "peak": int(p.stderr.strip().splitlines()[-1]) / 1024, "n": int(n)})
            print(f"duckdb read: {float(secs):.2f} s, peak RSS {duck[-1]['peak']:.0f} MiB, {int(n):,} rows", flush=True)
    load_after = os.getloadavg()

    def stat(xs: list[float]) -> str:
        return f"{np.median(xs):.2f} (range {min(xs):.2f}-{max(xs):.2f})"

    walls, peaks = [r["wall"] for r in runs], [r["peak"] for r in runs]
    met = np.median(walls) <= 10 and max(peaks) <= 1024
    loaded = max(load_before[0], load_after[0]) > 1.0
    lines = [
        f"## Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
        f"`python benchmarks/predlog_window/run.py --rows {args.rows} --repeat {args.repeat}` on {platform.node()} "
        f"({os.cpu_count()} cores, Python {platform.python_version()}).",
        f"{'**Taken under load**: ' if loaded else 'Quiet machine: '}load average (1/5/15 min) before "
        f"{load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f}, after {load_after[0]:.1f}/"
        f"{load_after[1]:.1f}/{load_after[2]:.1f}" + ("; on an idle machine every figure is lower." if loaded else "."),
        "",
        f"Log: {info['rows_in_window']:,} predictions of churn:1 in the last 7 days plus {info['rows_before']:,} on "
        f"the 3 days before (outside the window), {info['files']} Parquet files ({size / 2**20:.0f} MiB), "
        "hive-partitioned model/version/date as the service writes them.", "",
        "| what | wall s, median (range) | peak RSS MiB, median (range) | rows |", "|---|---:|---:|---:|",
        f"| `mlplat monitor drift churn --since 7d` (whole command: start-up, read, drift, reports) | {stat(walls)} | "
        f"{stat(peaks)} | {runs[0]['n_rows']:,} |",
        f"| the window's read alone, plain (`read_prediction_log(..., version=1, columns=[inputs, proba.1])`) | "
        f"{stat([r['wall'] for r in reads['plain']])} | {stat([r['peak'] for r in reads['plain']])} | |",
        f"| the window's read alone, compact (`read_window_columns`, what the drift check uses) | "
        f"{stat([r['wall'] for r in reads['compact']])} | {stat([r['peak'] for r in reads['compact']])} | |",
        *([f"| DuckDB: read the same window's columns into pandas (no drift check) | "
           f"{stat([d['wall'] for d in duck])} | {stat([d['peak'] for d in duck])} | {duck[0]['n']:,} |"] if duck else []),
        "", f"Target: <= 10 s wall and <= 1 GiB peak memory -> {'met' if met else 'NOT met'} "
        f"({args.repeat} runs).", "",
    ]
    # each run adds a dated section below the earlier ones: the file is the benchmark's history
    results = HERE / "RESULTS.md"
    earlier = results.read_text().rstrip() + "\n\n" if results.exists() else "# Prediction-log window benchmark\n\n"
    results.write_text(earlier + "\n".join(lines))
    print(f"median wall {np.median(walls):.2f} s, max peak {max(peaks):.0f} MiB -> {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
