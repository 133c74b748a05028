"""Run the real `mlplat` in a user's project: no store URL or conf dir from the environment,
so what is found (the project, its conf/ layered over the shipped library, its runs/) is
what a user gets."""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
from pathlib import Path


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLAT_", "HYDRA_"))}
    out.update(extra)
    return out


def mlplat(cwd: Path, *args: str, check: bool = True, timeout: float = 300, **extra: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "mlplat", *args], cwd=cwd, env=env(**extra), capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"mlplat {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:") or "error" in line.lower()]
    assert errors, proc.stderr
    return errors[0]


def customers_csv(path: Path, n: int = 160, *, missing_target: int = 0, seed: int = 1) -> Path:
    """A CSV whose target is text ("Yes"/"No") and depends on the features."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "region", "tenure", "spend", "churned"])
        for i in range(n):
            region = rng.choice(["north", "south", "east"])
            tenure = rng.randint(0, 60)
            spend = round(rng.uniform(10, 100), 2)
            churned = "Yes" if tenure < 20 + rng.randint(-8, 8) else "No"
            if i < missing_target:
                churned = ""
            w.writerow([f"c{i}", region, tenure, spend, churned])
    return path


CUSTOMERS_YAML = """\
name: customers
source: csv
path: data/customers.csv
task: classification
target: churned
id_column: customer_id
categorical: [region]
"""

SHORT_CONFIG = """\
defaults:
  - mlplat
  - override dataset: customers
  - _self_
name: customers
"""


def customers_project(root: Path, *, config: str = SHORT_CONFIG, dataset_extra: str = "") -> Path:
    """A project holding only conf/config.yaml, conf/dataset/customers.yaml and its CSV."""
    (root / "conf" / "dataset").mkdir(parents=True, exist_ok=True)
    (root / "conf" / "config.yaml").write_text(config)
    (root / "conf" / "dataset" / "customers.yaml").write_text(CUSTOMERS_YAML + dataset_extra)
    customers_csv(root / "data" / "customers.csv")
    return root
