"""Artifact store: local disk vs S3 (moto's server on 127.0.0.1) for a 40 MB model and a 20-trial sweep.

Issue 16 ("Team mode"): the round trip of a large random-forest model on the S3 stand-in and
on local disk, both reported; a 20-trial sweep with its artifacts in the stand-in adds <= 10%
wall over the same sweep with local artifacts.

a. Round trip: a RandomForestRegressor on 2,400 rows x 30 features whose uncompressed pickle
   is about 40 MB, written with the engine's own call (``artifacts.write_pickle`` under
   ``run_location(root, run_id)`` after ``check_writable(root)``) and read back with the
   serving/predict load path (``artifacts.load_pickle_verified``: sha256 checked, then
   unpickled), for ``<tmp>/artifacts`` and ``s3://<bucket>/roundtripN``. The first S3 load
   is cold (fresh ``MLPLAT_ARTIFACT_CACHE``), the second is served from the digest cache
   (hashed again). The stored size is the ``Artifact`` row that ``write_pickle`` returns (what
   the engine records in the ``artifacts`` table), checked against the object's size on disk
   or in the bucket.
b. Sweep: ``mlplat train -m`` as a subprocess in an empty temporary directory, 20 trials of
   the synthetic dataset's random forest (``model.params.n_estimators=60..79``, one thread,
   ``evaluation=fast``), SQLite store, ``tracking.artifacts`` a local folder or
   ``s3://<bucket>/sweepN`` with the AWS_* variables a user sets for the stand-in. After each
   S3 sweep the store is checked to hold every artifact of every trial at an s3:// location.

The two sides alternate within each repeat (local first, then S3 first, ...); the figures
are medians over ``--repeat`` repeats with their ranges. Every measurement records the
1-minute load average before and after it; one taken at a load above 1 is marked ``*``
(the benchmark's own busy process and moto's server count in that load too). A dated
section is appended to RESULTS.md beside this file (``--no-results`` skips it). The last
lines printed are the ratios S3/local; the very last is the sweep's (target <= 1.10).

Run: .venv/bin/python benchmarks/artifact_store/run.py [--repeat 3] [--trials 20] [--quick]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
from sklearn.datasets import make_regression
from sklearn.ensemble import RandomForestRegressor

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from mlplat.tracking import artifact_cache  # noqa: E402 - this checkout's mlplat, not the venv's
from mlplat.tracking import artifacts as art  # noqa: E402
from tests.s3_kit import S3Server  # noqa: E402 - the tests' moto server on 127.0.0.1

RESULTS = Path(__file__).with_name("RESULTS.md")
TARGET = 1.10


def load1() -> float:
    return os.getloadavg()[0]


class Measure:
    """One timed measurement with the 1-minute load average before and after it."""

    def __init__(self):
        self.load_before = self.load_after = 0.0
        self.seconds = 0.0

    def __enter__(self):
        self.load_before = load1()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.load_after = load1()
        return False

    @property
    def loaded(self) -> bool:
        return max(self.load_before, self.load_after) > 1.0

    def text(self) -> str:
        return f"{self.seconds:.3f} s{'*' if self.loaded else ' '} (load {self.load_before:.2f}->{self.load_after:.2f})"


def med(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} s (range {min(values):.3f}-{max(values):.3f})"


def fit_model(trees: int, rows: int = 2400, features: int = 30):
    X, y = make_regression(n_samples=rows, n_features=features, n_informative=15, noise=10.0, random_state=0)
    model = RandomForestRegressor(n_estimators=trees, random_state=0, n_jobs=1).fit(X, y)
    return model, X


def raw_pickle_size(model) -> int:
    buf = io.BytesIO()
    joblib.dump(model, buf)  # uncompressed: what the model weighs as a plain joblib pickle
    return len(buf.getvalue())


def stored_size(location: str, server: S3Server) -> int:
    """The object's size as the backend has it (not as mlplat recorded it)."""
    if location.startswith("s3://"):
        bucket, key = location[len("s3://"):].split("/", 1)
        return int(server.client().head_object(Bucket=bucket, Key=key)["ContentLength"])
    return Path(location).stat().st_size


def round_trip(side: str, root: str, run_id: str, model, X, server: S3Server, cache: Path) -> dict:
    """Write the model as the engine does, load it twice as serving does; times and sizes."""
    os.environ[artifact_cache.ENV] = str(cache)  # a fresh, empty digest cache: the first load is cold
    art.check_writable(root)  # once per root and process, as the engine does before a fit (not timed)
    with Measure() as write:
        row = art.write_pickle(art.run_location(root, run_id), "model.joblib", model)
    on_backend = stored_size(row.path, server)
    if on_backend != row.size:
        sys.exit(f"{side}: the artifact row says {row.size} bytes, the backend holds {on_backend}")
    expected = model.predict(X[:20])
    with Measure() as cold:
        loaded = art.load_pickle_verified(row.path, row.sha256)
    with Measure() as again:
        loaded_again = art.load_pickle_verified(row.path, row.sha256)
    for m in (loaded, loaded_again):
        if not np.array_equal(m.predict(X[:20]), expected):
            sys.exit(f"{side}: the loaded model predicts differently from the one written")
    cached = (cache / row.sha256).is_file()
    if cached != (side == "s3"):
        sys.exit(f"{side}: digest cache entry {'present' if cached else 'missing'} after the loads")
    art.delete(row.path)
    return {"write": write, "cold": cold, "again": again, "size": row.size}


def cpu_seconds(pid: int) -> float:
    """User + system CPU a running process has used (``/proc/<pid>/stat``), all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sweep(side: str, root: str, trials: int, trees_from: int, workdir: Path, server: S3Server) -> Measure:
    """One ``mlplat train -m`` of ``trials`` jobs as a user runs it; checked, then timed, with the
    CPU the command used and the CPU moto's server used meanwhile (it shares the 2 cores)."""
    db = workdir / "mlplat.db"
    cmd = [sys.executable, "-m", "mlplat.cli", "train", "-m", "dataset=synthetic", "model=random_forest",
           "evaluation=fast", "runtime.threads=1", f"tracking.url=sqlite:///{db}", f"tracking.artifacts={root}",
           "model.params.n_estimators=" + ",".join(str(trees_from + i) for i in range(trials))]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLPLAT_")}
    env.update({"PYTHONPATH": str(REPO), artifact_cache.ENV: str(workdir / "cache")})
    cpu0, moto0 = children_cpu(), cpu_seconds(server.proc.pid)
    with Measure() as m:
        proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    m.cpu, m.moto_cpu = children_cpu() - cpu0, cpu_seconds(server.proc.pid) - moto0
    if proc.returncode != 0:
        sys.exit(f"{side} sweep failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    with sqlite3.connect(db) as conn:
        done = conn.execute("SELECT count(*) FROM runs WHERE status = 'done'").fetchone()[0]
        paths = [r[0] for r in conn.execute("SELECT path FROM artifacts")]
    if done != trials or not paths or not all(p.startswith(root) for p in paths):
        sys.exit(f"{side} sweep: {done} runs done of {trials}, {len(paths)} artifacts, "
                 f"not all under {root}")
    m.artifacts = len(paths)
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="alternated repeats of each side (medians reported)")
    ap.add_argument("--trials", type=int, default=20, help="trials in each sweep")
    ap.add_argument("--trees-from", type=int, default=60, help="first n_estimators of the sweep; +1 per trial")
    ap.add_argument("--model-trees", type=int, default=185,
                    help="trees of the round-trip forest (185 pickle to ~40 MB on 2,400 rows)")
    ap.add_argument("--quick", action="store_true", help="2 repeats, 6 trials, a 60-tree model: a smoke run")
    ap.add_argument("--no-results", action="store_true", help="print only; do not append to RESULTS.md")
    args = ap.parse_args()
    if args.quick:
        args.repeat, args.trials, args.model_trees = 2, 6, 60
    started = datetime.now(UTC)
    load_start = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}; "
          f"load average {load_start[0]:.2f}/{load_start[1]:.2f}/{load_start[2]:.2f} at start", flush=True)

    server = S3Server.start()
    try:
        os.environ.update(server.env())  # what a user sets; the sweeps inherit it
        bucket = server.make_bucket("artbench")
        with tempfile.TemporaryDirectory(prefix="mlplat_artbench_") as tmp_name:
            tmp = Path(tmp_name)
            with Measure() as first:  # s3fs's import, client and the bucket listing, once per process
                art.check_writable(f"s3://{bucket}/roundtrip")
            print(f"S3 first contact (filesystem + bucket check, once per process): {first.text()}", flush=True)

            model, X = fit_model(args.model_trees)
            raw = raw_pickle_size(model)
            with Measure() as ser:
                compressed = io.BytesIO()
                joblib.dump(model, compressed, compress=art.MODEL_COMPRESS)
            print(f"model: {args.model_trees}-tree RandomForestRegressor, raw pickle {raw / 1e6:.1f} MB; "
                  f"serialising it with lz4 (part of every write) {ser.text()}", flush=True)

            trips: dict[str, list[dict]] = {"local": [], "s3": []}
            for i in range(args.repeat):
                for side in (("local", "s3") if i % 2 == 0 else ("s3", "local")):
                    root = str(tmp / "artifacts") if side == "local" else f"s3://{bucket}/roundtrip{i}"
                    r = round_trip(side, root, f"rt{i}", model, X, server, tmp / f"cache-{side}-{i}")
                    trips[side].append(r)
                    print(f"round trip {i + 1} {side:5}: write {r['write'].text()}, read {r['cold'].text()}, "
                          f"2nd read {r['again'].text()}, stored {r['size'] / 1e6:.1f} MB", flush=True)

            sweeps: dict[str, list[Measure]] = {"local": [], "s3": []}
            for i in range(args.repeat):
                for side in (("local", "s3") if i % 2 == 0 else ("s3", "local")):
                    work = tmp / f"sweep-{side}-{i}"
                    work.mkdir()
                    root = str(work / "artifacts") if side == "local" else f"s3://{bucket}/sweep{i}"
                    m = sweep(side, root, args.trials, args.trees_from, work, server)
                    sweeps[side].append(m)
                    print(f"sweep {i + 1} {side:5}: {m.text()}, {m.artifacts} artifacts; CPU {m.cpu:.2f} s, "
                          f"moto's server meanwhile {m.moto_cpu:.2f} s", flush=True)
    finally:
        server.stop()
    load_end = os.getloadavg()

    def col(side, key):
        return [r[key].seconds for r in trips[side]]

    size = statistics.median(r["size"] for r in trips["s3"])
    lw, sw = statistics.median(col("local", "write")), statistics.median(col("s3", "write"))
    lr, sr = statistics.median(col("local", "cold")), statistics.median(col("s3", "cold"))
    ls_, ss = (statistics.median(m.seconds for m in sweeps[k]) for k in ("local", "s3"))
    trip_ratio = (sw + sr) / (lw + lr)
    sweep_ratio = ss / ls_
    added_ms = (ss - ls_) / args.trials * 1000
    def cpu_med(side):
        return statistics.median(m.cpu for m in sweeps[side])

    moto_med = statistics.median(m.moto_cpu for m in sweeps["s3"])
    cpu_ratio = (cpu_med("s3") + moto_med) / (cpu_med("local") + statistics.median(m.moto_cpu for m in sweeps["local"]))
    pairs = [s.seconds / loc.seconds for s, loc in zip(sweeps["s3"], sweeps["local"], strict=True)]
    pair_text = ", ".join(f"{r:.3f}" for r in pairs) + f" (median {statistics.median(pairs):.3f})"
    measures = [m for rs in trips.values() for r in rs for m in (r["write"], r["cold"], r["again"])]
    measures += [m for ms in sweeps.values() for m in ms]
    loaded = sum(m.loaded for m in measures)
    met = "met" if sweep_ratio <= TARGET else "NOT met"

    print(f"load average {load_start[0]:.2f} at start, {load_end[0]:.2f} at end; {loaded} of {len(measures)} "
          "measurements taken at 1-min load > 1 (marked *)")
    print(f"model: raw pickle {raw / 1e6:.1f} MB, stored (lz4) {size / 1e6:.1f} MB")
    print(f"local write  {med(col('local', 'write'))}; read {med(col('local', 'cold'))}; "
          f"2nd read {med(col('local', 'again'))}")
    print(f"S3    write  {med(col('s3', 'write'))}; cold read {med(col('s3', 'cold'))}; "
          f"cached read {med(col('s3', 'again'))}")
    print(f"sweep of {args.trials}: local {med([m.seconds for m in sweeps['local']])}; "
          f"S3 {med([m.seconds for m in sweeps['s3']])}; added per trial {added_ms:.0f} ms")
    print(f"sweep S3/local within each repeat: {pair_text}")
    print(f"sweep CPU (the command): local {cpu_med('local'):.2f} s, S3 {cpu_med('s3'):.2f} s; moto's server "
          f"during the S3 sweeps {moto_med:.2f} s (median)")
    print(f"ratio S3/local, model write + cold read: {trip_ratio:.3f}")
    print(f"ratio S3/local, {args.trials}-trial sweep CPU (the command, + moto's server on S3): {cpu_ratio:.3f}")
    print(f"ratio S3/local, {args.trials}-trial sweep: {sweep_ratio:.3f} (target <= {TARGET:.2f}: {met})")

    if args.no_results:
        return
    flags = " ".join(a for a in sys.argv[1:] if a != "--no-results")
    lines = [
        "", f"## {started:%Y-%m-%d %H:%M} UTC{' (--quick)' if args.quick else ''}", "",
        f"`python benchmarks/artifact_store/run.py{' ' + flags if flags else ''}`: {os.cpu_count()} cores, "
        f"{platform.platform()}, Python {platform.python_version()}, {args.repeat} repeats alternating the sides. "
        f"Load average (1 min) {load_start[0]:.2f} at start, {load_end[0]:.2f} at end; {loaded} of "
        f"{len(measures)} measurements taken at a 1-min load above 1 (marked * below).", "",
        f"Model: {args.model_trees}-tree RandomForestRegressor on 2,400 x 30, raw pickle **{raw / 1e6:.1f} MB**, "
        f"stored lz4-compressed **{size / 1e6:.1f} MB** (the artifact row, equal to the object's size on the "
        f"backend). S3 first contact (s3fs client + bucket check, once per process): {first.seconds:.3f} s.", "",
        "| round trip | write | read (cold on S3) | 2nd read (S3: digest cache) |", "|---|---:|---:|---:|",
    ]
    for side, label in (("local", "local disk"), ("s3", "S3 stand-in")):
        for i, r in enumerate(trips[side]):
            lines.append(f"| {label}, repeat {i + 1} | " + " | ".join(
                f"{r[k].seconds:.3f} s{'*' if r[k].loaded else ''} ({r[k].load_before:.2f}->{r[k].load_after:.2f})"
                for k in ("write", "cold", "again")) + " |")
        lines.append(f"| **{label}, median** | " + " | ".join(
            f"**{statistics.median(col(side, k)):.3f} s** ({min(col(side, k)):.3f}-{max(col(side, k)):.3f})"
            for k in ("write", "cold", "again")) + " |")
    lines += ["", f"| {args.trials}-trial sweep | wall | CPU of the command | moto's CPU meanwhile | load before->after |",
              "|---|---:|---:|---:|---:|"]
    for side, label in (("local", "local artifacts"), ("s3", "S3 artifacts")):
        for i, m in enumerate(sweeps[side]):
            lines.append(f"| {label}, repeat {i + 1} | {m.seconds:.2f} s{'*' if m.loaded else ''} | {m.cpu:.2f} s | "
                         f"{m.moto_cpu:.2f} s | {m.load_before:.2f}->{m.load_after:.2f} |")
        vals = [m.seconds for m in sweeps[side]]
        lines.append(f"| **{label}, median** | **{statistics.median(vals):.2f} s** "
                     f"({min(vals):.2f}-{max(vals):.2f}) | {cpu_med(side):.2f} s | "
                     f"{statistics.median(m.moto_cpu for m in sweeps[side]):.2f} s | |")
    lines += ["", f"- Round trip, write + cold read, S3/local: {trip_ratio:.3f}.",
              f"- Sweep CPU S3/local (medians; the command plus moto's server): {cpu_ratio:.3f}.",
              f"- Sweep S3/local: **{sweep_ratio:.3f}**, {added_ms:.0f} ms added per trial; "
              f"target <= {TARGET:.2f}: **{met}** (ratio of the medians). Within each repeat: {pair_text}."]
    if not RESULTS.exists():
        lines[:0] = ["# Artifact store: local disk vs S3 (moto's server on 127.0.0.1)"]
    with RESULTS.open("a") as f:
        f.write("\n".join(lines) + "\n")
    print(f"appended to {RESULTS.relative_to(REPO)}", file=sys.stderr)


if __name__ == "__main__":
    main()
