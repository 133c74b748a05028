"""Scheduler test kit: a scratch project: its own copy of conf/ with a test schedule, its own store.

In-process tests point MLPLAT_CONF_DIR / MLPLAT_STORE_URL at the scratch project (the
runner composes the config and opens the store on every execution, as in production);
CLI tests run the real `mlplat` in a subprocess with the same environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
import yaml

REPO = Path(__file__).resolve().parents[2]


class Recorder:
    """A Notifier that keeps every event (the scheduler's alerts land here)."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def notify(self, event: dict) -> None:
        self.events.append(event)


class SchedProject:
    def __init__(self, root: Path):
        self.root = root
        self.conf = root / "conf"
        self.db = root / "runs" / "mlplat.db"
        self.url = f"sqlite:///{self.db}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLAT_", "HYDRA_"))}
        env.update(MLPLAT_CONF_DIR=str(self.conf), MLPLAT_STORE_URL=self.url,
                   MLPLAT_ARTIFACTS=str(self.root / "runs" / "artifacts"), PYTHONPATH=str(REPO))
        return env

    def write_schedule(self, jobs: dict, **top) -> None:
        cfg = {"timezone": "UTC", "misfire_grace": "10m", "reports_dir": str(self.root / "reports"), **top,
               "jobs": jobs}
        (self.conf / "schedule" / "default.yaml").write_text(yaml.safe_dump(cfg))

    def store(self):
        # opened directly (not through the config) so polling from the test thread never
        # composes the config while a scheduled job composes it on the scheduler's thread
        from mlplat.tracking.store import Store

        return Store.open(self.url, str(self.root / "runs" / "artifacts"))

    def query(self, sql: str, **params) -> list[tuple]:
        with self.store().read() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]

    def mlplat(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mlplat.cli", *args], cwd=self.root, env=self.env(),
                              capture_output=True, text=True, timeout=timeout)
