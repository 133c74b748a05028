"""Hydra's per-composition config repository without a deep copy of the ConfigStore.

Each composition (and, in `--help`, each of the ~140 config groups listed) makes a
``CachingConfigRepository``, which deep-copies the repository it wraps "to avoid mutating it
with initialize_sources()". That repository's structured-config source holds the process's
``ConfigStore`` singleton (Hydra's launcher, sweeper and plugin schemas and mlplat's), so each
copy cost 25 ms, 3.6 s of `mlplat train --help`'s 4.9 s CPU. ``initialize_sources`` only
replaces the ``sources`` list with new source objects, and ``ConfigStore.load`` hands out a
deep copy of what it stores, so a copy of the repository with its own ``sources`` list keeps
the original unmutated at no cost. Measured in docs/architecture.md ("Imports and start-up");
tests/config/test_config_repository.py checks compositions equal Hydra's own.

Hydra's cache of loaded files lives one composition; a process that composes many times
(`mlplat check`: nine, the bot, the scheduler, the UI) re-reads and re-parses every file each
time. ``ConfigRepository.load_config`` is therefore wrapped with a process-wide cache of each
file's loaded result, keyed by the file's path, modification time and size (an edited file is
read again), that hands out a deep copy (Hydra merges the nodes it gets into the composed
config without copying them): 170 -> 135 ms per composition of the shipped tree, measured.
Structured configs (the ConfigStore, which copies on load itself) are not cached.
"""

from __future__ import annotations

import copy
import os
import threading
from importlib import resources
from typing import Any

_FLAG = "__mlplat_shallow__"
_CACHE_MAX = 2048  # loaded files kept (a config tree holds a few hundred)
_loaded: dict[tuple, Any] = {}
_loaded_lock = threading.Lock()


def _stamp(source: Any, config_path: str) -> tuple | None:
    """(path, mtime_ns, size) of the file a file:// or pkg:// source loads for ``config_path``, else None."""
    name = config_path if config_path.endswith(".yaml") else f"{config_path}.yaml"
    try:
        if source.scheme() == "file":
            path = os.path.join(source.path, name)
        elif source.scheme() == "pkg":
            path = os.fspath(resources.files(source.path).joinpath(name))  # TypeError: not on disk (a zip)
        else:
            return None
        st = os.stat(path)
    except (OSError, TypeError, ValueError, ImportError):
        return None
    return (os.path.realpath(path), st.st_mtime_ns, st.st_size)


def install() -> None:
    """Patch Hydra's CachingConfigRepository (idempotent)."""
    from hydra._internal import config_repository as cr

    original = cr.CachingConfigRepository.__init__
    if getattr(original, _FLAG, False):
        return

    def __init__(self, delegate) -> None:
        if type(delegate) is not cr.ConfigRepository:  # another implementation: Hydra's own copy
            original(self, delegate)
            return
        self.delegate = copy.copy(delegate)
        self.delegate.sources = list(delegate.sources)  # what initialize_sources() replaces
        self.cache = {}

    setattr(__init__, _FLAG, True)
    __init__.__wrapped__ = original
    cr.CachingConfigRepository.__init__ = __init__

    load = cr.ConfigRepository.load_config

    def load_config(self, config_path: str):
        source = self._find_object_source(config_path=config_path, object_type=cr.ObjectType.CONFIG)
        stamp = _stamp(source, config_path) if source is not None else None
        if stamp is None:
            return load(self, config_path)
        key = (type(source).__name__, source.path, config_path, stamp)
        with _loaded_lock:
            hit = _loaded.get(key)
        if hit is None:
            hit = load(self, config_path)
            if hit is None:
                return None
            with _loaded_lock:
                if len(_loaded) >= _CACHE_MAX:
                    _loaded.clear()
                _loaded[key] = hit
        return copy.deepcopy(hit)

    load_config.__wrapped__ = load
    cr.ConfigRepository.load_config = load_config
