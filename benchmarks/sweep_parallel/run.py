"""Parallel sweeps: 20 trials of ~1 s fits, `launcher=joblib` (2 workers) vs the serial launcher.

Both sides run the same `mlplat train -m` command (20 random forests differing by seed, one
thread per estimator so that the comparison is about the launcher, not BLAS/OpenMP threads);
only the launcher differs. Two figures per side:

* trial window: first trial start -> last trial end, from the store (what the launcher changes);
* command wall time: the whole `mlplat train -m`, start-up and pre-checks included.

Run: python benchmarks/sweep_parallel/run.py [--trials 20] [--trees 60] [--repeat 2]
The last line is the speedup serial / parallel on the trial window (target >= 1.8 on 2 cores).
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

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]


def sweep(trials: int, trees: int, parallel: bool) -> tuple[float, float, float]:
    """(command wall s, trial window s, mean trial duration s) of one sweep."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "mlplat.cli", "train", "-m", "dataset=synthetic", "model=random_forest",
               f"model.params.n_estimators={trees}", "evaluation=fast", "runtime.threads=1",
               f"seed=range(0,{trials})", f"tracking.url=sqlite:///{tmp}/mlplat.db", f"tracking.artifacts={tmp}/a"]
        if parallel:
            cmd += ["launcher=joblib", "hydra.launcher.n_jobs=2"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLPLAT_")} | {"PYTHONPATH": str(REPO)}
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"sweep failed:\n{proc.stderr[-3000:]}")
        engine = sa.create_engine(f"sqlite:///{tmp}/mlplat.db")
        with engine.connect() as conn:
            first, last, mean, n = conn.execute(sa.text(
                "SELECT min(started_at), max(ended_at), avg(duration_s), count(*) FROM runs WHERE status='done'")).one()
            spans = conn.execute(sa.text("SELECT pid, started_at, ended_at FROM runs ORDER BY pid, started_at")).all()
        engine.dispose()
        if n != trials:
            raise SystemExit(f"expected {trials} done trials, got {n}")
        # time a worker spends between its trials (Hydra's per-job composition, job set-up)
        gaps = [b.started_at - a.ended_at for a, b in zip(spans, spans[1:], strict=False) if a.pid == b.pid]
        print(f"    workers: {len({s.pid for s in spans})}, mean gap between a worker's trials: "
              f"{statistics.mean(gaps) if gaps else 0:.2f} s")
        return wall, last - first, mean


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--trees", type=int, default=60, help="trees per forest: ~1 s of fitting per trial (3 folds + final) on an idle core")
    ap.add_argument("--repeat", type=int, default=1,
                    help="pairs to run, alternating the order (S,P then P,S): other load on the machine hits both sides")
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}; loadavg before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
    for i in range(args.repeat):
        for parallel in ((False, True) if i % 2 == 0 else (True, False)):
            r = sweep(args.trials, args.trees, parallel)
            results[parallel].append(r)
            name = "joblib x2" if parallel else "serial   "
            print(f"{name}: command {r[0]:6.1f} s, trial window {r[1]:6.1f} s, mean trial {r[2]:.2f} s; "
                  f"loadavg {os.getloadavg()[0]:.2f}")
    serial = [statistics.median(x) for x in zip(*results[False], strict=True)]
    par = [statistics.median(x) for x in zip(*results[True], strict=True)]
    print(f"loadavg after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"command wall speedup (medians): {serial[0] / par[0]:.2f}")
    print(f"trial window speedup (serial / joblib n_jobs=2, medians): {serial[1] / par[1]:.2f}")


if __name__ == "__main__":
    main()
