"""Progress of a sweep across trials, for `mlplat train -m`, whatever the sweeper and launcher.

Trials may run in this process, in joblib workers or on a Ray cluster; the one place that
sees them all is the store. A thread polls the runs of this invocation (every 0.5 s, one
small indexed query) and shows done/failed/running, the best value so far, the elapsed time
and an estimate of the time left: as a rich progress bar on stderr when stderr is a terminal,
otherwise as one line per finished trial on stderr (CI logs, files, pipes).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from mlplat.evaluation.metrics import direction_of
from mlplat.tracking import runs as runs_store

log = logging.getLogger("mlplat.progress")

POLL_S = 0.5
FINISHED = ("done", "failed", "crashed")


@dataclass
class Snapshot:
    done: int
    failed: int
    running: int
    best: float | None
    metric: str | None
    elapsed_s: float
    total: int | None

    @property
    def finished(self) -> int:
        return self.done + self.failed

    def remaining_s(self) -> float | None:
        """Time left if the trials still to finish take as long as the finished ones did.

        Elapsed time per finished trial already reflects the parallelism achieved so far, so
        the estimate needs no knowledge of the launcher.
        """
        if not self.finished or self.total is None:
            return None
        return max(self.total - self.finished, 0) * self.elapsed_s / self.finished

    def text(self) -> str:
        best = f"best {self.metric}={self.best:.4f}" if self.best is not None else "no result yet"
        return f"{self.done} done, {self.failed} failed, {self.running} running; {best}"


def snapshot(rows: list[dict], started: float, total: int | None) -> Snapshot:
    done = [r for r in rows if r["status"] == "done" and r["primary_value"] is not None]
    metric = next((r["primary_metric"] for r in rows if r["primary_metric"]), None)
    best = None
    if done and metric:
        pick = max if direction_of(metric) == "maximize" else min
        best = pick(r["primary_value"] for r in done)
    return Snapshot(done=sum(r["status"] == "done" for r in rows),
                    failed=sum(r["status"] in ("failed", "crashed") for r in rows),
                    running=sum(r["status"] == "running" for r in rows), best=best, metric=metric,
                    elapsed_s=time.monotonic() - started, total=total)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


class SweepProgress:
    """Context manager: a polling thread from ``__enter__`` to ``__exit__`` (plus one last poll)."""
    def __init__(self, store: Any, invocation_id: str, *, total: int | None, tty: bool | None = None) -> None:
        self.store = store
        self.invocation_id = invocation_id
        self.total = total
        self.tty = sys.stderr.isatty() if tty is None else tty
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mlplat-progress", daemon=True)
        self._reported: set[str] = set()
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> SweepProgress:
        if self.tty:
            self._progress = Progress(
                TextColumn("[bold]sweep"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                TextColumn("elapsed {task.fields[elapsed]}, left ~{task.fields[left]}"),
                console=Console(stderr=True), transient=False, refresh_per_second=4)
            self._task = self._progress.add_task("sweep", total=self.total, info="starting", elapsed="0:00", left="?")
            self._progress.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._poll()  # the trials that finished after the last tick
        if self._progress is not None:
            self._progress.stop()

    def _loop(self) -> None:
        while not self._stop.wait(POLL_S):
            try:
                self._poll()
            except Exception as exc:  # a busy or briefly unreachable store must not end the sweep
                log.debug("progress poll failed: %s", exc)

    def _poll(self) -> None:
        rows = runs_store.runs_of_invocation(self.store, self.invocation_id)
        snap = snapshot(rows, self.started, self.total)
        total = max(self.total or 0, len(rows)) or None  # a resumed or extended sweep can exceed the plan
        left = _clock(snap.remaining_s())
        if self._progress is not None:
            self._progress.update(self._task, completed=snap.finished, total=total, info=snap.text(),
                                  elapsed=_clock(snap.elapsed_s), left=left)
            return
        for r in rows:
            if r["status"] in FINISHED and r["id"] not in self._reported:
                self._reported.add(r["id"])
                value = f" {r['primary_metric']}={r['primary_value']:.4f}" if r["primary_value"] is not None else ""
                # printed, not logged: in-process jobs reconfigure logging (Hydra's job logging), which
                # would send these lines into the job's own log file
                print(f"[mlplat] trial {len(self._reported)}/{total or '?'} {r['status']}{value} (run {r['id']}): "
                      f"{snap.text()}; elapsed {_clock(snap.elapsed_s)}, left ~{left}", file=sys.stderr, flush=True)


__all__ = ["SweepProgress", "Snapshot", "snapshot"]
