"""`mlplat check`'s presets (experiments and sweeps, each a real Hydra composition), composed in a
forked worker process while the main process imports the estimator libraries and checks the
group options; where fork is unavailable, or the machine has one core, they run in the main
process when asked for."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from mlplat.errors import MlplatError

Preset = tuple[str, Path, "dict | None", "int | None", "MlplatError | None"]


def _compose_presets(presets: list[tuple[str, Path]], plan_sweep: Callable[[list[str]], Any]) -> list[Preset]:
    """Each experiment composed to its plain config, each sweep planned (counted, never expanded)."""
    from mlplat.config.compose import compose, to_plain

    out: list[Preset] = []
    for kind, path in presets:
        try:
            if kind == "experiment":
                out.append((kind, path, to_plain(compose([f"experiment={path.stem}"])), None, None))
            else:
                out.append((kind, path, None, plan_sweep([f"sweep={path.stem}"]).total, None))
        except MlplatError as exc:
            out.append((kind, path, None, None, MlplatError(str(exc))))  # plain: crosses the process boundary
    return out


class _Task:
    """One part of the check run by the worker process, or here on first ask if none could start."""

    def __init__(self, worker: _Worker, fn: Callable[..., Any], args: tuple) -> None:
        self._fn, self._args = fn, args
        self._future: Future | None = None
        if worker.pool is not None:
            try:
                self._future = worker.pool.submit(fn, *args)
            except RuntimeError:  # the pool broke (a worker died): run here
                self._future = None

    def result(self) -> Any:
        if self._future is not None:
            try:
                return self._future.result()
            except Exception:  # noqa: BLE001 - the worker died (killed, out of memory): run here
                pass
        return self._fn(*self._args)


class _Worker:
    """A forked worker process for a part of the check that needs none of this process's later work
    (the presets), while this process imports the estimator libraries (scikit-learn alone: 1.6 s)."""

    def __init__(self) -> None:
        self.pool: ProcessPoolExecutor | None = None
        if (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods():
            try:
                self.pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
            except (OSError, RuntimeError):  # no process to spare: everything runs here
                self.pool = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> _Task:
        return _Task(self, fn, args)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
