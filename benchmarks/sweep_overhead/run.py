"""Per-trial overhead of the mlplat_optuna sweeper plugin + store, over 100 trivial trials.

A trial is made trivial on purpose: KNN (no iterations to speak of) on breast_cancer (569
rows), 3-fold CV; so nearly all of a trial's time is what mlplat adds around the fit: the
Optuna ask/tell in the store, Hydra's per-job composition, the run rows, metrics, audit
entries and artifacts (model pickle, reference profile) written atomically.

* mlplat: `mlplat train -m hydra/sweeper=mlplat_optuna` with n_neighbors=int(interval(3, 30)),
  100 trials, serial launcher, SQLite store; per trial = (last trial end - first trial start) / 100.
* baseline: the same work in an in-process loop of plain scikit-learn (impute -> scale ->
  KNN, the same 3 stratified folds and 4 metrics, final fit and holdout score).

Run: python benchmarks/sweep_overhead/run.py [--trials 100]
The last line is the ratio mlplat ms/trial / in-process ms/trial.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from benchmarks.bare_job import bare_job  # noqa: E402 - the shared baseline


def bare_loop(trials: int, seed: int = 42) -> float:
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.impute import SimpleImputer
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(trials):
        k = int(rng.integers(3, 31))
        pipe = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                             KNeighborsClassifier(n_neighbors=k, weights="distance", n_jobs=1))
        bare_job(pipe, X, y, seed)
    return (time.perf_counter() - t0) / trials


def mlplat_sweep(trials: int) -> tuple[float, float]:
    """(per-trial seconds over the trial window, command wall seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "mlplat.cli", "train", "-m", "model=knn", "evaluation=fast", "runtime.threads=1",
               "hydra/sweeper=mlplat_optuna", f"hydra.sweeper.n_trials={trials}", "hydra.sweeper.seed=0",
               "model.params.n_neighbors=int(interval(3, 30))",
               f"tracking.url=sqlite:///{tmp}/mlplat.db", f"tracking.artifacts={tmp}/a"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLPLAT_")} | {"PYTHONPATH": str(REPO)}
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"sweep failed:\n{proc.stderr[-3000:]}")
        engine = sa.create_engine(f"sqlite:///{tmp}/mlplat.db")
        with engine.connect() as conn:
            first, last, n = conn.execute(sa.text(
                "SELECT min(started_at), max(ended_at), count(*) FROM runs WHERE status='done'")).one()
        engine.dispose()
        if n != trials:
            raise SystemExit(f"expected {trials} done trials, got {n}")
        return (last - first) / (trials - 1) if trials > 1 else last - first, wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=100)
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}; loadavg before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    bare = bare_loop(args.trials)
    per_trial, wall = mlplat_sweep(args.trials)
    print(f"in-process scikit-learn loop: {bare * 1000:7.1f} ms/trial")
    print(f"mlplat train -m (optuna+store): {per_trial * 1000:7.1f} ms/trial (command {wall:.1f} s for "
          f"{args.trials} trials, start-up included)")
    print(f"overhead: {(per_trial - bare) * 1000:.1f} ms/trial")
    print(f"loadavg after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"mlplat / in-process per-trial time: {per_trial / bare:.2f}")


if __name__ == "__main__":
    main()
