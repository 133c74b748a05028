"""A SQLite store file this user may not write: read commands work, writes are refused in one
line naming the file, and the file is left as it was. Runs the CLI as the unprivileged user
`nobody` (setpriv), since root may write any file."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from store_helpers import record

from mlplat.tracking import runs
from mlplat.tracking.store import Store

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                                reason="needs root and setpriv to run the CLI as another user")


@pytest.fixture
def shared_dir():
    """A directory `nobody` can read but not write (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="mlplat-ro-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _as_nobody(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLAT_", "HYDRA_"))}
    full.update({"HOME": str(cwd), "XDG_CONFIG_HOME": str(cwd / "xdg"), **env})
    return subprocess.run([*NOBODY, sys.executable, "-m", "mlplat.cli", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=300)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_store_file_this_user_cannot_write_is_read_and_never_written(shared_dir: Path):
    db = shared_dir / "runs" / "mlplat.db"
    store = Store.open(f"sqlite:///{db}", shared_dir / "runs" / "artifacts")
    runs.record_runs_batch(store, [record("r1", {"roc_auc": 0.9}, started_at=time.time())])
    store.close()
    for p in [shared_dir, *shared_dir.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)  # readable by all, writable by root only
    before = _digest(db)
    url = f"sqlite:///{db}"

    for env in ({}, {"MLPLAT_NO_DIRECT_READ": "1"}):  # the fast read path and the Store's
        listed = _as_nobody(shared_dir, "runs", "list", "--store", url, "--format", "json", **env)
        assert listed.returncode == 0, listed.stderr
        assert [r["id"] for r in json.loads(listed.stdout)] == ["r1"]
        board = _as_nobody(shared_dir, "leaderboard", "--store", url, "--format", "json", **env)
        assert board.returncode == 0 and json.loads(board.stdout)["rows"][0]["id"] == "r1", board.stderr

    trained = _as_nobody(shared_dir, "train", "evaluation=fast", f"tracking.url={url}",
                         f"tracking.artifacts={shared_dir / 'runs' / 'artifacts'}")
    assert trained.returncode == 2 and "Traceback" not in trained.stderr, trained.stderr
    errors = [line for line in trained.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"the store file {str(db)!r} is read-only" in errors[0], trained.stderr
    assert "read commands work" in errors[0]
    assert _digest(db) == before and not list(db.parent.glob("mlplat.db-*"))  # no -wal, no -shm
