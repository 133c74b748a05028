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
"""

from __future__ import annotations

import copy

_FLAG = "__mlplat_shallow__"


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
