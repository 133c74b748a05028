"""Engine overhead: a 20-job `mlplat train -m` sweep vs the same 20 jobs in a bare scikit-learn loop.

Both sides do the same work per job on the same data, folds and seeds: 3-fold stratified
CV of (impute -> scale -> random forest) scored with accuracy, f1, roc_auc and log_loss,
then a final fit on the training split scored on the holdout. One thread per estimator on
both sides. The mlplat side is a real subprocess (start-up, config composition, store
writes, artifacts, audit included); the bare side runs in this process after its imports.

Run: python benchmarks/engine_overhead/run.py [--jobs 20] [--trees-from 60] [--repeat 3]
The two sides alternate (bare, mlplat / mlplat, bare / ...) ``--repeat`` times, since this
machine's speed drifts within minutes; printed: each pair, the load average before and after,
the medians with their ranges, the per-job overhead in ms; the last line is the ratio of the
medians mlplat / bare (target <= 1.10).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from benchmarks.bare_job import bare_job  # noqa: E402 - the shared baseline


def bare_loop(tree_counts: list[int], seed: int = 42) -> float:
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=2000, n_features=20, n_informative=8, n_redundant=4, class_sep=0.8,
                               random_state=0)
    t0 = time.perf_counter()
    for n in tree_counts:
        pipe = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                             RandomForestClassifier(n_estimators=n, max_features="sqrt", random_state=seed, n_jobs=1))
        bare_job(pipe, X, y, seed)
    return time.perf_counter() - t0


def mlplat_sweep(tree_counts: list[int]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "mlplat.cli", "train", "-m", "dataset=synthetic", "model=random_forest",
               "evaluation=fast", "runtime.threads=1", f"tracking.url=sqlite:///{tmp}/mlplat.db",
               f"tracking.artifacts={tmp}/artifacts", "model.params.n_estimators=" + ",".join(map(str, tree_counts))]
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.exit(f"mlplat sweep failed:\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--trees-from", type=int, default=60, help="first n_estimators; each job adds 1 tree")
    ap.add_argument("--repeat", type=int, default=3, help="alternated pairs of runs (medians are reported)")
    args = ap.parse_args()
    counts = [args.trees_from + i for i in range(args.jobs)]
    load_before = os.getloadavg()
    bare_loop(counts[:1])  # warm the imports and caches the subprocess pays for itself
    bares: list[float] = []
    sweeps: list[float] = []
    for i in range(args.repeat):
        for side in (("bare", "mlplat") if i % 2 == 0 else ("mlplat", "bare")):
            if side == "bare":
                bares.append(bare_loop(counts))
            else:
                sweeps.append(mlplat_sweep(counts))
        print(f"pair {i + 1}: bare {bares[-1]:.2f} s, mlplat {sweeps[-1]:.2f} s, ratio {sweeps[-1] / bares[-1]:.3f}; "
              f"load average {os.getloadavg()[0]:.2f}", flush=True)
    bare, sweep = statistics.median(bares), statistics.median(sweeps)
    ratios = [m / b for m, b in zip(sweeps, bares, strict=True)]
    overhead_ms = (sweep - bare) / args.jobs * 1000
    print(f"machine: {os.cpu_count()} cores, load average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(f"bare scikit-learn loop: {bare:.2f} s median for {args.jobs} jobs ({bare / args.jobs:.2f} s per job; "
          f"range {min(bares):.2f}-{max(bares):.2f})")
    print(f"mlplat train -m       : {sweep:.2f} s median (range {min(sweeps):.2f}-{max(sweeps):.2f}; whole process: "
          "start-up, Hydra, store, artifacts, audit)")
    print(f"overhead per job      : {overhead_ms:.0f} ms (medians)")
    print(f"pair ratios           : {min(ratios):.3f}-{max(ratios):.3f}")
    print(f"ratio mlplat/bare     : {sweep / bare:.3f}")


if __name__ == "__main__":
    main()
