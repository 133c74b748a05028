"""Artifacts: written whole, verified by sha256 before every load, on disk or object storage.

Every artifact write and read in mlplat goes through this module; the bytes go to the
backend the location names (``mlplat.tracking.artifact_stores``: a directory, or s3://,
gs://, az:// through fsspec). A reader never sees a half-written artifact, and one whose
bytes changed since they were recorded is refused rather than unpickled: a pickle is code.
Models read from object storage are cached locally by digest (``artifact_cache``), and the
cached copy is verified again on every load.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlplat.errors import ArtifactIntegrityError
from mlplat.project import artifact_scheme
from mlplat.tracking import artifact_cache
from mlplat.tracking.artifact_stores import backend, check_writable, join

# models are stored lz4-compressed (level 1, lz4's fast mode): a 100-tree forest on 2,400 rows
# is 2.7x smaller for ~0.2 s more at write and no slower to load (fewer bytes to hash and
# read); zlib saves 15% more at 5x the write time. Figures in docs/architecture.md
# ("Artifact compression"). joblib detects the compressor from the bytes, so models
# written uncompressed before still load.
MODEL_COMPRESS = ("lz4", 1)


@dataclass(frozen=True)
class Artifact:
    name: str
    path: str
    sha256: str
    size: int


def run_location(root: str | Path, run_id: str) -> str:
    """Where one run's artifacts go under the artifact root (a directory or an object prefix)."""
    return join(root, run_id)


# the objects written inside ``together()``, by backend; None outside it
_pending: contextvars.ContextVar[dict | None] = contextvars.ContextVar("mlplat_artifacts_pending", default=None)


def write_bytes(directory: str | Path, name: str, data: bytes) -> Artifact:
    location = join(directory, name)
    store = backend(location)
    pending = _pending.get()
    if pending is not None and artifact_scheme(location) is not None:
        pending.setdefault(id(store), (store, {}))[1][location] = data
    else:
        store.put(location, data)
    return Artifact(name, location, hashlib.sha256(data).hexdigest(), len(data))


@contextlib.contextmanager
def together() -> Iterator[None]:
    """The object-store writes made inside are sent concurrently when the block ends, each object
    still one whole PUT; local writes happen at once, as outside. On object storage a run's seven
    artifacts were seven round trips one after another (benchmarks/artifact_store). The caller
    records the artifacts only after the block returns, so a failed PUT fails the run before
    anything names the missing objects; an exception inside the block writes none of them."""
    pending: dict = {}
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)
    for store, objects in pending.values():
        store.put_many(objects)


def write_json(directory: str | Path, name: str, obj: Any, *, compact: bool = False) -> Artifact:
    """Pretty JSON for files people read; ``compact`` for large machine-read ones (profiles)."""
    text = json.dumps(obj, separators=(",", ":"), default=str) if compact else \
        json.dumps(obj, indent=2, sort_keys=True, default=str)
    return write_bytes(directory, name, text.encode())


# joblib is imported where a model is written or read (~0.1 s, ~0.5 s under load): the
# registry, governance and monitoring commands load this module for digests and JSON.
def write_pickle(directory: str | Path, name: str, obj: Any) -> Artifact:
    import joblib

    buf = io.BytesIO()
    joblib.dump(obj, buf, compress=MODEL_COMPRESS)
    return write_bytes(directory, name, buf.getvalue())


def verify(location: str, data: bytes, sha256: str) -> bytes:
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ArtifactIntegrityError(
            f"artifact {location!r} was modified after it was written (sha256 {actual[:12]}..., recorded "
            f"{sha256[:12]}...); refusing to load it: restore it or re-run the experiment"
        )
    return data


def read_verified(path: str | Path, sha256: str) -> bytes:
    location = str(path)
    return verify(location, backend(location).get(location), sha256)


def read_model_bytes(path: str | Path, sha256: str) -> bytes:
    """A model's verified bytes; from the local digest cache when the model is on object storage."""
    location = str(path)
    if artifact_scheme(location) is None:
        return read_verified(location, sha256)
    return artifact_cache.fetch(sha256, lambda: read_verified(location, sha256), verify=lambda data:
                                hashlib.sha256(data).hexdigest() == sha256)


def load_pickle_verified(path: str | Path, sha256: str) -> Any:
    import joblib

    return joblib.load(io.BytesIO(read_model_bytes(path, sha256)))


def delete(path: str | Path) -> bool:
    """Remove one artifact; False when it was already gone (pruning counts those)."""
    location = str(path)
    return backend(location).delete(location)


def list_under(prefix: str | Path) -> list[str]:
    """Every artifact location under a run's location or the root (cleanup of unrecorded files)."""
    location = str(prefix)
    return backend(location).list(location)


__all__ = ["Artifact", "run_location", "write_bytes", "write_json", "write_pickle", "read_verified",
           "read_model_bytes", "load_pickle_verified", "delete", "list_under", "check_writable"]
