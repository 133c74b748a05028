"""Optuna (TPE, mlplat_optuna sweeper) vs grid search on one search space, 20 trials each, 3 seeds.

Search space, shared: histogram gradient boosting on the synthetic dataset (2000 rows),
learning_rate in [0.01, 0.5] (log scale) x max_leaf_nodes in [4, 64]; max_iter fixed at 50.
The grid is 5 x 4 = 20 points spread over the same ranges (learning rate log-spaced). Each
seed changes the data split, the CV folds and the model's seed for both sides, and Optuna's
sampler seed. Both sides run through `mlplat train -m` with `launcher=joblib` (2 workers);
the metric is the cross-validated roc_auc (evaluation=fast: 3 folds).

Run: python benchmarks/optuna_vs_grid/run.py [--seeds 0 1 2]
For each side and seed: the best roc_auc and the trial (job number, 1-based) that first
reached it. The last line is mean best(Optuna) / mean best(grid).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[2]
COMMON = ["dataset=synthetic", "model=hist_gb", "model.params.max_iter=50", "evaluation=fast",
          "launcher=joblib", "hydra.launcher.n_jobs=2"]
GRID = ["model.params.learning_rate=0.01,0.03,0.08,0.2,0.5", "model.params.max_leaf_nodes=4,16,32,64"]


def optuna(seed: int) -> list[str]:
    return ["hydra/sweeper=mlplat_optuna", "hydra.sweeper.n_trials=20", f"hydra.sweeper.seed={seed}",
            "model.params.learning_rate=tag(log, interval(0.01, 0.5))", "model.params.max_leaf_nodes=int(interval(4, 64))"]


def run(side: list[str], seed: int) -> tuple[float, int, int]:
    """(best roc_auc, 1-based trial that first reached it, trials done)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "mlplat.cli", "train", "-m", *COMMON, *side, f"seed={seed}",
               f"tracking.url=sqlite:///{tmp}/mlplat.db", f"tracking.artifacts={tmp}/a"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLPLAT_")} | {"PYTHONPATH": str(REPO)}
        proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"sweep failed:\n{proc.stderr[-3000:]}")
        engine = sa.create_engine(f"sqlite:///{tmp}/mlplat.db")
        with engine.connect() as conn:
            values = [v for (v,) in conn.execute(sa.text(
                "SELECT primary_value FROM runs WHERE status='done' ORDER BY job_num"))]
        engine.dispose()
    best = max(values)
    return best, values.index(best) + 1, len(values)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}; loadavg before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'seed':>4}  {'grid best':>9} {'at':>3}  {'optuna best':>11} {'at':>3}")
    grid_best, optuna_best = [], []
    for seed in args.seeds:
        g = run(GRID, seed)
        o = run(optuna(seed), seed)
        grid_best.append(g[0])
        optuna_best.append(o[0])
        print(f"{seed:>4}  {g[0]:9.5f} {g[1]:>3}  {o[0]:11.5f} {o[1]:>3}   (trials done: grid {g[2]}, optuna {o[2]})")
    print(f"mean best roc_auc: grid {statistics.mean(grid_best):.5f}, optuna {statistics.mean(optuna_best):.5f}")
    print(f"loadavg after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"optuna / grid mean best roc_auc: {statistics.mean(optuna_best) / statistics.mean(grid_best):.4f}")


if __name__ == "__main__":
    main()
