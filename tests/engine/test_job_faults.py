"""Faults inside a training job: a full disk is reported in one line naming the folder, and the
run is recorded as failed with that line; a store write lock held longer than SQLite's busy
timeout is waited for (tracking.lock_wait), so a finished fit is recorded, and past the limit
the error says why no run exists (in-process; the CLI's stderr path is covered by
tests/data/test_bad_data.py, whose job error reaches stderr)."""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
import time

import pytest

from mlplat import engine
from mlplat.errors import MlplatError, StoreError
from mlplat.ops.common import compose_plain
from mlplat.tracking import artifacts as art
from mlplat.tracking import runs as runs_store
from mlplat.tracking import store as store_mod


def test_disk_full_names_the_artifact_folder_and_fails_the_run(tmp_path, monkeypatch):
    for key in [k for k in os.environ if k.startswith(("MLPLAT_", "HYDRA_"))]:
        monkeypatch.delenv(key)
    cfg = compose_plain(["dataset=synthetic", "dataset.generator_params.n_samples=200", "evaluation=fast",
                         f"tracking.url=sqlite:///{tmp_path / 'store.db'}", f"tracking.artifacts={tmp_path / 'art'}"])

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(art, "write_pickle", full)
    with pytest.raises(MlplatError) as info:
        engine.run_experiment(cfg, engine.RunContext(actor="test"))
    run_id = info.value.mlplat_run_id
    expected = (f"disk full writing the artifacts under {tmp_path / 'art' / run_id}: free space there or point "
                "tracking.artifacts at another disk")
    assert str(info.value) == expected
    with sqlite3.connect(tmp_path / "store.db") as con:
        assert con.execute("SELECT status, error FROM runs WHERE id = ?", (run_id,)).fetchone() == ("failed", expected)


def _hold_write_lock(db, seconds: float) -> threading.Event:
    """Another process's writer: BEGIN IMMEDIATE on the SQLite file for ``seconds``."""
    held = threading.Event()

    def hold():
        con = sqlite3.connect(db, timeout=30, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        con.execute("ROLLBACK")
        con.close()

    threading.Thread(target=hold, daemon=True).start()
    held.wait(10)
    return held


@pytest.fixture
def quick_busy_timeout(monkeypatch, tmp_path):
    for key in [k for k in os.environ if k.startswith(("MLPLAT_", "HYDRA_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setattr(store_mod, "BUSY_TIMEOUT_S", 1)  # one attempt gives up after 1 s, not 60
    return compose_plain(["dataset=synthetic", "dataset.generator_params.n_samples=200", "evaluation=fast",
                          f"tracking.url=sqlite:///{tmp_path / 'store.db'}", f"tracking.artifacts={tmp_path / 'art'}"])


def test_a_finished_fit_waits_for_a_held_write_lock_instead_of_failing(quick_busy_timeout, tmp_path, monkeypatch):
    real = runs_store.finish_run
    waited = []

    def finish_while_locked(*args, **kwargs):
        if not waited:
            waited.append(time.monotonic())
            _hold_write_lock(tmp_path / "store.db", 3.0)  # longer than the busy timeout
        return real(*args, **kwargs)

    monkeypatch.setattr(runs_store, "finish_run", finish_while_locked)
    outcome = engine.run_experiment(quick_busy_timeout, engine.RunContext(actor="test"))
    assert outcome.status == "done" and time.monotonic() - waited[0] >= 3.0
    with sqlite3.connect(tmp_path / "store.db") as con:
        assert con.execute("SELECT status FROM runs WHERE id = ?", (outcome.run_id,)).fetchone() == ("done",)


def test_a_lock_held_past_lock_wait_says_why_no_run_exists(quick_busy_timeout, tmp_path):
    cfg = {**quick_busy_timeout, "tracking": {**quick_busy_timeout["tracking"], "lock_wait": 2}}
    store = store_mod.open_store(cfg["tracking"])  # the schema exists; then another writer holds the lock
    _hold_write_lock(tmp_path / "store.db", 6.0)
    with pytest.raises(StoreError) as info:
        engine.run_experiment(cfg, engine.RunContext(actor="test"), store=store)
    text = str(info.value)
    assert text.startswith("no run recorded: store ") and "database is locked while recording the run's start" in text
    assert "tracking.lock_wait=2" in text
