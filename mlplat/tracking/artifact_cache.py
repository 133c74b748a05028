"""The local copy of models read from object storage, keyed by their sha256.

A service or a batch prediction loads a model from S3 once per machine, not once per
process start or alias move back: the bytes are content-addressed, so a cached file can
never be stale, only damaged, and every hit is hashed again before use (a damaged entry is
fetched anew from the store, which stays the source of truth). The folder is
``$MLPLAT_ARTIFACT_CACHE``, else ``$XDG_CACHE_HOME/mlplat/artifacts``, else
``~/.cache/mlplat/artifacts``; deleting it is always safe.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from mlplat.files import write_atomic

log = logging.getLogger(__name__)
ENV = "MLPLAT_ARTIFACT_CACHE"


def cache_dir() -> Path:
    if os.environ.get(ENV):
        return Path(os.environ[ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mlplat" / "artifacts"


def fetch(sha256: str, load: Callable[[], bytes], verify: Callable[[bytes], bool]) -> bytes:
    """The cached bytes for ``sha256`` when they still hash to it, else ``load()`` (verified) and cache them."""
    entry = cache_dir() / sha256
    try:
        data = entry.read_bytes()
    except OSError:
        data = None
    if data is not None:
        if verify(data):
            return data
        log.warning("cached artifact %s does not match its digest; fetching it again", entry)
    data = load()
    try:
        write_atomic(entry, data)
    except OSError as exc:  # a read-only home still serves, only without the cache
        log.warning("cannot cache artifact in %s: %s", entry.parent, exc)
    return data
