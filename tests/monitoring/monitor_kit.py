"""Shared kit of the monitoring end-to-end tests: one churn model trained and registered through
the real CLI per session, a private copy of its store per test, the CLI run in the test's directory."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
CHURN = REPO / "data" / "churn.csv"
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "contract", "region"]


def _env(db: Path, artifacts: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLAT_", "HYDRA_"))}
    env.update({"MLPLAT_STORE_URL": f"sqlite:///{db}", "MLPLAT_ARTIFACTS": str(artifacts),
                "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(REPO)}, **extra)
    return env


def train_and_register(base: Path) -> dict:
    """`mlplat train dataset=churn evaluation=fast model=logreg` + `mlplat models register` (once per session)."""
    marker = base / "trained.json"
    if marker.is_file():
        return json.loads(marker.read_text())
    base.mkdir(parents=True, exist_ok=True)
    db, art = base / "base.db", base / "artifacts"
    env = _env(db, art)
    cli = [sys.executable, "-m", "mlplat.cli"]
    subprocess.run([*cli, "train", "dataset=churn", "evaluation=fast", "model=logreg", f"tracking.url=sqlite:///{db}",
                    f"tracking.artifacts={art}", f"hydra.run.dir={base / 'hydra'}"], cwd=base, env=env, check=True,
                   capture_output=True, timeout=300)
    con = sqlite3.connect(db)
    run_id = con.execute("SELECT id FROM runs WHERE status='done'").fetchone()[0]
    con.close()
    subprocess.run([*cli, "models", "register", run_id, "--name", "churn"], cwd=base, env=env, check=True,
                   capture_output=True, timeout=120)
    info = {"db": str(db), "artifacts": str(art), "run_id": run_id}
    marker.write_text(json.dumps(info))
    return info


@dataclass
class Project:
    """A test's directory with a private copy of the trained store; ``mlplat`` runs the real CLI in it."""

    root: Path
    db: Path
    artifacts: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}"

    def mlplat(self, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mlplat.cli", *args], cwd=self.root,
                              env=_env(self.db, self.artifacts, **env), capture_output=True, text=True,
                              timeout=timeout)

    def json(self, *args: str, expect: int = 0, **env: str):
        p = self.mlplat(*args, "--format", "json", **env)
        assert p.returncode == expect, f"exit {p.returncode}\n{p.stdout}\n{p.stderr}"
        return json.loads(p.stdout)

    def store(self):
        from mlplat.tracking.store import Store

        return Store.open(self.url, str(self.artifacts))


def fresh_project(tmp_path: Path, trained: dict) -> Project:
    """A consistent private copy of the session's store (SQLite backup API)."""
    dst = tmp_path / "runs" / "mlplat.db"
    dst.parent.mkdir(parents=True, exist_ok=True)
    src, out = sqlite3.connect(trained["db"]), sqlite3.connect(dst)
    src.backup(out)
    src.close()
    out.close()
    return Project(tmp_path, dst, Path(trained["artifacts"]))


def churn() -> pd.DataFrame:
    return pd.read_csv(CHURN)


def drifted(seed: int = 0, n: int = 600) -> pd.DataFrame:
    """A sample with one injected drift per column, so each must be found on its own:
    mean shift (monthly_charges), scale change around the same mean (tenure_months),
    a new category (contract) and a null-rate jump (region); support_calls stays as is."""
    rng = np.random.default_rng(seed)
    df = churn().sample(n, random_state=seed).reset_index(drop=True)
    df["monthly_charges"] = df["monthly_charges"] + 2 * df["monthly_charges"].std()
    mean = df["tenure_months"].mean()
    df["tenure_months"] = ((df["tenure_months"] - mean) * 3 + mean).round()
    df.loc[rng.random(n) < 0.3, "contract"] = "monthly_plus"
    df.loc[rng.random(n) < 0.4, "region"] = np.nan
    return df
