"""Background work: a small pool for everything after the acknowledgement, and the two long jobs.

``/mlplat run`` trains in this process (ops.check_train_overrides + ops.run_experiment):
one job, no second interpreter to start (~1-2 s saved), the result is a RunOutcome. Hydra's
composition is process-global (GlobalHydra), so compositions are serialised by
``COMPOSE_LOCK``. ``/mlplat sweep`` starts ``mlplat train -m`` as a subprocess with
MLPLAT_ACTOR=<Slack user> and MLPLAT_SOURCE=slack: multirun takes over Hydra's global state
and the launcher may fork worker processes for the whole sweep, which must not happen inside
the bot that answers Slack; progress is read from the store the sweep writes to.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger("mlplat.bot")
COMPOSE_LOCK = threading.RLock()
# sweeps run at a lower CPU priority than the bot, so that on a small machine the bot still
# acknowledges Slack within its 3 s (target 100 ms) while the sweep saturates the cores
SWEEP_NICE = 10


class Pool:
    """A thread pool whose jobs never raise into nothing: failures are logged."""

    def __init__(self, workers: int, name: str = "mlplat-bot"):
        self._executor = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name)
        self._pending: set[Future] = set()
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future:
        def guarded() -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception:
                log.exception("background job %s failed", getattr(fn, "__name__", fn))
                raise

        fut = self._executor.submit(guarded)
        with self._lock:
            self._pending.add(fut)
        fut.add_done_callback(self._forget)
        return fut

    def _forget(self, fut: Future) -> None:
        with self._lock:
            self._pending.discard(fut)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """True once nothing is queued or running (jobs that submit jobs included)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return True
            for f in pending:
                try:
                    f.exception(timeout=max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    return False
        return False

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def train_in_process(overrides: list[str], *, actor: str, source: str, threads: int | None = None):
    """Check and run one experiment here; returns (resolved config, RunOutcome). Raises MlplatError."""
    from mlplat import ops
    from mlplat.engine import RunContext

    with COMPOSE_LOCK:
        plain = ops.check_train_overrides(list(overrides))
    ctx = RunContext(actor=actor, source=source, overrides=list(overrides), invocation_id=uuid.uuid4().hex[:16],
                     threads=threads or max(1, (os.cpu_count() or 2) // 2))
    return plain, ops.run_experiment(plain, ctx)


class SweepProcess:
    """`mlplat train -m OVERRIDES` in a subprocess acting as ``actor``; its sweep found in the store."""

    def __init__(self, overrides: list[str], *, actor: str, source: str, cwd: str | None = None,
                 groups: tuple[str, ...] = (), access: dict | None = None):
        self.overrides = list(overrides)
        self.command = "mlplat train " + " ".join(["-m", *self.overrides])
        self.started = time.time()
        self._log = tempfile.TemporaryFile(mode="w+")  # a pipe could fill up and stall the sweep
        env = {k: v for k, v in os.environ.items() if k not in ("MLPLAT_PRECHECKED", "MLPLAT_INVOCATION_ID")}
        # the sweep's own `mlplat train` applies the same access check (mlplat.ops.access.check_env)
        env.update(MLPLAT_ACTOR=actor, MLPLAT_SOURCE=source, MLPLAT_ACTOR_GROUPS=",".join(groups))
        if access is not None:
            env["MLPLAT_ACCESS"] = json.dumps(access)
        self.proc = subprocess.Popen([sys.executable, "-m", "mlplat.cli", "train", "-m", *self.overrides],
                                     cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=lambda: os.nice(SWEEP_NICE))
        self.sweep_id: str | None = None

    def find_sweep(self) -> str | None:
        """The sweep this process opened: same command line, started after the process."""
        if self.sweep_id is None:
            from mlplat import ops

            for s in ops.list_sweeps(page_size=50):
                if s.get("command") == self.command and float(s.get("started_at") or 0) >= self.started - 1:
                    self.sweep_id = s["id"]
                    break
        return self.sweep_id

    def poll(self) -> int | None:
        return self.proc.poll()

    def kill(self) -> None:
        self.proc.kill()

    def last_error(self) -> str:
        self._log.seek(0)
        lines = [ln.strip() for ln in self._log.read().splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("error:") or " failed" in ln or "Error" in ln]
        return (errors or lines or ["no output"])[-1][:500]
