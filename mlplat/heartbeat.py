"""Liveness of running jobs: a heartbeat while a job runs, and marking dead jobs as crashed.

A job killed with SIGKILL (or whose machine dies) cannot record its own end: its run stays
'running'. Two things tell such a run from a live one:

* on the host that ran it, its process id no longer exists;
* anywhere, its ``heartbeat_at`` stopped moving: the :class:`Heartbeat` thread of a live job
  refreshes it every ``MLPLAT_HEARTBEAT_S`` seconds (default 15); a run missing
  ``MISSED_BEATS`` beats is dead.

:func:`mark_stale_runs` turns such runs into 'crashed'. A sweep's driver process is
judged the same way (its host, pid and heartbeat are on the sweep row): when it dies,
:func:`mark_stale_sweeps` closes the sweep as 'crashed' with its counts. ``mlplat train``
calls both when it starts, and ``mlplat runs cleanup`` on demand. Artifacts need no cleanup: the engine writes
them to temporary files renamed into place and records them only with the run's result, so
a crashed run lists none.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

import sqlalchemy as sa

from mlplat.tracking import runs as runs_store
from mlplat.tracking.schema import runs, sweeps
from mlplat.tracking.store import now

log = logging.getLogger("mlplat.heartbeat")

HEARTBEAT_ENV = "MLPLAT_HEARTBEAT_S"
DEFAULT_INTERVAL_S = 15.0
# a run on another host counts as dead after this many missed heartbeats (clock skew,
# a long GC pause or a busy database must not kill a live run)
MISSED_BEATS = 8
CRASH_MESSAGE = "the job's process died without a result (no heartbeat or process gone)"


def interval_s() -> float:
    try:
        return max(0.1, float(os.environ.get(HEARTBEAT_ENV, DEFAULT_INTERVAL_S)))
    except ValueError:
        return DEFAULT_INTERVAL_S


class Heartbeat:
    """Refresh ``heartbeat_at`` of this process's running runs of one invocation, in a thread.

    The run id is created inside the engine, so the rows are found by (invocation, host, pid):
    exactly the runs this process is executing. A failed beat (database busy or away) is
    logged at debug level and retried at the next beat; it never fails the job.
    """
    def __init__(self, store: Any, invocation_id: str, *, every_s: float | None = None) -> None:
        self.store = store
        self.invocation_id = invocation_id
        self.every_s = every_s or interval_s()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mlplat-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def beat(self) -> int:
        """Refresh this process's running runs of the invocation and, in a sweep's driver, the sweep."""
        host, pid, t = socket.gethostname(), os.getpid(), now()
        with self.store.write() as conn:
            result = conn.execute(
                runs.update()
                .where(runs.c.invocation_id == self.invocation_id, runs.c.host == host, runs.c.pid == pid,
                       runs.c.status == "running")
                .values(heartbeat_at=t))
            # a sweep's id is its invocation id; only its driver process matches host and pid
            conn.execute(sweeps.update().where(sweeps.c.id == self.invocation_id, sweeps.c.host == host,
                                               sweeps.c.pid == pid, sweeps.c.status == "running")
                         .values(heartbeat_at=t))
        return result.rowcount

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.beat()
            except Exception as exc:  # a missed beat is harmless; a crashed job thread is not
                log.debug("heartbeat failed: %s", exc)


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    # a killed process whose parent has not reaped it yet still answers kill(0): a zombie
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):  # no /proc (macOS) or it went away meanwhile
        return True


def mark_stale_runs(store: Any, *, stale_after_s: float | None = None) -> list[str]:
    """Mark 'running' runs whose process is gone (this host) or whose heartbeat is stale as crashed.

    Returns the ids marked. Safe to run at any time and from many processes at once: the
    update re-checks ``status = 'running'``, so a run that finished meanwhile keeps its result.
    """
    # a running run has no metric rows yet (they come with its result): only runs changes
    stale_after = stale_after_s if stale_after_s is not None else interval_s() * MISSED_BEATS
    host = socket.gethostname()
    current = now()
    with store.read() as conn:
        running = conn.execute(sa.select(runs.c.id, runs.c.host, runs.c.pid, runs.c.heartbeat_at, runs.c.started_at)
                               .where(runs.c.status == "running")).all()
    dead = [r.id for r in running if _dead(r, host, current, stale_after)]
    if not dead:
        return []
    with store.write() as conn:
        ids = sa.bindparam("ids", dead, expanding=True)
        conn.execute(runs.update().where(runs.c.id.in_(ids), runs.c.status == "running").values(
            status="crashed", ended_at=current, error=CRASH_MESSAGE))
    log.info("marked %d run(s) crashed: %s", len(dead), ", ".join(dead))
    return dead


def _dead(row: Any, host: str, current: float, stale_after: float) -> bool:
    """Its process is gone (on this host), or it beat at least once and then fell silent.

    Only a row that has beaten is judged by its heartbeat: a run started by a front door
    without a Heartbeat (e.g. a rerun from the bot) on another host would otherwise look dead
    after stale_after seconds of honest work.
    """
    beating = row.heartbeat_at is not None and row.heartbeat_at > row.started_at
    return (row.host == host and not _pid_alive(row.pid)) or (beating and current - row.heartbeat_at > stale_after)


def mark_stale_sweeps(store: Any, *, stale_after_s: float | None = None) -> list[str]:
    """Close 'running' sweeps whose driver (`mlplat train -m`) died, as 'crashed'; their ids.

    Call it after :func:`mark_stale_runs`, so the closed sweep counts its dead trials as
    crashed. Sweeps recorded without a driver (older stores) are never judged.
    """
    stale_after = stale_after_s if stale_after_s is not None else interval_s() * MISSED_BEATS
    host, current = socket.gethostname(), now()
    with store.read() as conn:
        running = conn.execute(sa.select(sweeps.c.id, sweeps.c.host, sweeps.c.pid, sweeps.c.heartbeat_at,
                                         sweeps.c.started_at)
                               .where(sweeps.c.status == "running", sweeps.c.host.is_not(None))).all()
    dead = [r.id for r in running if _dead(r, host, current, stale_after)]
    for sweep_id in dead:
        runs_store.close_sweep(store, sweep_id, actor="mlplat", source="cleanup", crashed=True)
    if dead:
        log.info("closed %d sweep(s) whose driver died: %s", len(dead), ", ".join(dead))
    return dead


__all__ = ["Heartbeat", "mark_stale_runs", "mark_stale_sweeps", "interval_s", "HEARTBEAT_ENV"]
