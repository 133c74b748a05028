"""Shared fixtures: a scratch project directory, the real CLI in a subprocess, PostgreSQL.

Tests run `mlplat` exactly as a user does (a subprocess with its own working directory),
with the store and artifacts inside the test's temporary directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# the audit key (mlplat/tracking/anchor.py: $XDG_CONFIG_HOME/mlplat/audit.key) of every test
# process and of the CLIs it starts (they keep XDG_CONFIG_HOME): one per test session, never
# the user's own key
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="mlplat-config-")


@dataclass
class Project:
    """A working directory with its own store; `mlplat(...)` runs the real CLI there."""

    root: Path

    @property
    def db(self) -> Path:
        return self.root / "runs" / "mlplat.db"

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.db}"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLAT_", "HYDRA_"))}
        env.update({"MLPLAT_STORE_URL": self.store_url, "MLPLAT_ARTIFACTS": str(self.root / "runs" / "artifacts"),
                    "PYTHONPATH": str(REPO)}, **extra)
        return env

    def mlplat(self, *args: str, check: bool = False, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", "mlplat.cli", *args], cwd=self.root, env=self.env(**env),
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"mlplat {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def train(self, *overrides: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
        return self.mlplat("train", f"tracking.url={self.store_url}",
                           f"tracking.artifacts={self.root / 'runs' / 'artifacts'}", *overrides, check=check, **env)

    def json(self, *args: str):
        return json.loads(self.mlplat(*args, "--format", "json", check=True).stdout)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def _pg_admin_url() -> str:
    return os.environ.get("MLPLAT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database for one test (required in CI, skipped elsewhere if absent)."""
    import sqlalchemy as sa

    admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {_pg_admin_url()}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {_pg_admin_url()}")
    name = f"mlplat_t_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)
    yield url
    from mlplat.tracking import store as store_mod

    for key, st in list(store_mod._OPENED.items()):
        if key[0] == url:
            st.writer.dispose()
            st.reader.dispose()
            store_mod._OPENED.pop(key)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def s3():
    """moto's S3 server on 127.0.0.1 for the whole session (tests/s3_kit.py); stopped at the end."""
    from tests.s3_kit import S3Server

    server = S3Server.start()
    yield server
    server.stop()
