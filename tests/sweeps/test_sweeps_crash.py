"""A job killed with SIGKILL mid-fit ends up 'crashed', never 'running' forever, and lists no artifact."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from mlplat.heartbeat import Heartbeat, mark_stale_runs
from mlplat.tracking import runs as runs_store
from mlplat.tracking.schema import runs
from mlplat.tracking.store import Store


def _wait_for_running_run(db: Path, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db.exists():
            engine = sa.create_engine(f"sqlite:///{db}")
            try:
                with engine.connect() as conn:
                    row = conn.execute(sa.select(runs.c.id).where(runs.c.status == "running")).first()
            except sa.exc.OperationalError:  # tables not created yet
                row = None
            finally:
                engine.dispose()
            if row:
                return row.id
        time.sleep(0.2)
    raise AssertionError("no running run appeared")


def test_sigkilled_training_is_marked_crashed_and_lists_no_artifact(project):
    # 3000 trees x 3 folds: several seconds of fitting, so the kill lands mid-fit
    cmd = [sys.executable, "-m", "mlplat.cli", "train", f"tracking.url={project.store_url}",
           f"tracking.artifacts={project.root / 'runs' / 'artifacts'}", "model=random_forest",
           "model.params.n_estimators=3000", "evaluation=fast"]
    proc = subprocess.Popen(cmd, cwd=project.root, env=project.env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        run_id = _wait_for_running_run(project.db)
        time.sleep(1.5)
        assert proc.poll() is None, "the run finished before it could be killed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    before = project.json("runs", "show", run_id)
    assert before["status"] == "running" and before["artifacts"] == []  # nothing recorded mid-run

    # what a kill during the model's write leaves: a half-written temporary file no row records
    stray = project.root / "runs" / "artifacts" / run_id / ".model.joblib.1a2b.tmp"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"half a model")
    cleaned = project.json("runs", "cleanup")
    assert cleaned["crashed"] == [run_id]  # its pid is gone on this host
    assert cleaned["orphaned_runs"] == [run_id] and cleaned["orphaned_files"] >= 1 and not stray.exists()
    listed = {r["id"]: r for r in project.json("runs", "list")}
    assert listed[run_id]["status"] == "crashed" and "died" in listed[run_id]["error"]
    assert project.json("runs", "show", run_id)["artifacts"] == []
    # a second cleanup finds nothing: it is idempotent
    assert project.json("runs", "cleanup")["crashed"] == []


def _start(store: Store, run_id: str, invocation: str) -> None:
    runs_store.start_run(store, runs_store.RunStart(
        id=run_id, experiment="t", actor="t", source="test", config={}, overrides=[], config_hash="h",
        code_version="c", code_dirty=False, package_versions={}, dataset="d", model="m", features="f",
        task="classification", primary_metric="roc_auc", invocation_id=invocation))


def test_heartbeat_keeps_a_live_run_and_a_silent_remote_run_is_crashed(tmp_path: Path):
    store = Store.open(f"sqlite:///{tmp_path / 'm.db'}", str(tmp_path / "a"))
    _start(store, "live_run", "inv1")
    _start(store, "remote_run", "inv2")
    _start(store, "quiet_remote_run", "inv3")
    elsewhere = "elsewhere-" + socket.gethostname()
    t = time.time()
    with store.write() as conn:
        # another machine's job that beat once and then fell silent for 10 minutes: dead
        conn.execute(runs.update().where(runs.c.id == "remote_run")
                     .values(host=elsewhere, pid=1, started_at=t - 700, heartbeat_at=t - 600))
        # another machine's run that never had a heartbeat thread (a front door calling the
        # engine directly): its silence proves nothing, it is left alone
        conn.execute(runs.update().where(runs.c.id == "quiet_remote_run")
                     .values(host=elsewhere, pid=1, started_at=t - 700, heartbeat_at=t - 700))
        conn.execute(runs.update().where(runs.c.id == "live_run")
                     .values(started_at=t - 700, heartbeat_at=t - 700))
    with Heartbeat(store, "inv1", every_s=0.1):
        time.sleep(0.5)  # the thread refreshes this process's runs of inv1
    assert mark_stale_runs(store, stale_after_s=120) == ["remote_run"]
    with store.read() as conn:
        status = dict(conn.execute(sa.select(runs.c.id, runs.c.status)).all())
    assert status == {"live_run": "running", "remote_run": "crashed", "quiet_remote_run": "running"}
    assert os.getpid() == runs_store.get_run(store, "live_run")["pid"]


def test_a_sigkilled_sweep_driver_leaves_a_crashed_sweep_not_a_running_one(project):
    cmd = [sys.executable, "-m", "mlplat.cli", "train", "-m", f"tracking.url={project.store_url}",
           f"tracking.artifacts={project.root / 'runs' / 'artifacts'}", "model=random_forest",
           "model.params.n_estimators=3000,3001", "evaluation=fast"]
    proc = subprocess.Popen(cmd, cwd=project.root, env=project.env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        run_id = _wait_for_running_run(project.db)
        assert proc.poll() is None, "the sweep finished before it could be killed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    (sweep,) = project.json("sweeps", "list")
    assert sweep["status"] == "running"

    cleaned = project.json("runs", "cleanup")
    assert (cleaned["crashed"], cleaned["crashed_sweeps"], cleaned["dry_run"]) == ([run_id], [sweep["id"]], False)
    shown = project.json("sweeps", "show", sweep["id"])
    assert (shown["status"], shown["n_crashed"], shown["n_done"], shown["n_running"]) == ("crashed", 1, 0, 0)
    again = project.json("runs", "cleanup")  # idempotent
    assert (again["crashed"], again["crashed_sweeps"], again["orphaned_files"]) == ([], [], 0)
    ends = [e for e in project.json("audit", "log", "--action", "sweep.end") if e["object_id"] == sweep["id"]]
    assert len(ends) == 1 and json.loads(ends[0]["payload"])["status"] == "crashed"


def test_sweep_drivers_are_judged_like_runs(tmp_path: Path):
    from mlplat.heartbeat import mark_stale_sweeps
    from mlplat.tracking.schema import sweeps

    store = Store.open(f"sqlite:///{tmp_path / 'm.db'}", str(tmp_path / "a"))
    for sid in ("live", "remote_silent", "remote_quiet", "before_migration", "dead_here"):
        runs_store.create_sweep(store, sid, command="mlplat train -m", actor="t", source="test")
    elsewhere = "elsewhere-" + socket.gethostname()
    t = time.time()
    with store.write() as conn:
        conn.execute(sweeps.update().where(sweeps.c.id == "remote_silent")
                     .values(host=elsewhere, pid=1, started_at=t - 700, heartbeat_at=t - 600))
        conn.execute(sweeps.update().where(sweeps.c.id == "remote_quiet")
                     .values(host=elsewhere, pid=1, started_at=t - 700, heartbeat_at=t - 700))
        conn.execute(sweeps.update().where(sweeps.c.id == "before_migration").values(host=None, pid=None))
        conn.execute(sweeps.update().where(sweeps.c.id == "live").values(started_at=t - 700, heartbeat_at=t - 700))
        dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                                  text=True, check=True).stdout.strip()
        conn.execute(sweeps.update().where(sweeps.c.id == "dead_here").values(pid=int(dead_pid)))
    with Heartbeat(store, "live", every_s=0.1):
        time.sleep(0.5)  # this process is the live sweep's driver: its beats keep it alive
    assert sorted(mark_stale_sweeps(store, stale_after_s=120)) == ["dead_here", "remote_silent"]
    with store.read() as conn:
        status = dict(conn.execute(sa.select(sweeps.c.id, sweeps.c.status)).all())
    assert status == {"live": "running", "remote_silent": "crashed", "remote_quiet": "running",
                      "before_migration": "running", "dead_here": "crashed"}


def test_a_killed_but_unreaped_process_counts_as_dead():
    from mlplat.heartbeat import _pid_alive

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert _pid_alive(child.pid)
        child.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _pid_alive(child.pid) and time.monotonic() < deadline:  # a zombie until we reap it
            time.sleep(0.05)
        assert not _pid_alive(child.pid)
    finally:
        child.wait(timeout=10)
