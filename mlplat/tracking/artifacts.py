"""Artifacts on disk: written atomically, verified by sha256 before every load.

A reader never sees a half-written file (temp file in the same directory, fsync, then
``os.replace``), and a file whose bytes changed since it was recorded is refused rather
than unpickled: a pickle is code.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlplat.errors import ArtifactIntegrityError, NotFound
from mlplat.files import write_atomic


@dataclass(frozen=True)
class Artifact:
    name: str
    path: str
    sha256: str
    size: int


def write_bytes(directory: Path, name: str, data: bytes) -> Artifact:
    final = write_atomic(directory / name, data, fsync=True)
    return Artifact(name, str(final), hashlib.sha256(data).hexdigest(), len(data))


def write_json(directory: Path, name: str, obj: Any, *, compact: bool = False) -> Artifact:
    """Pretty JSON for files people read; ``compact`` for large machine-read ones (profiles)."""
    text = json.dumps(obj, separators=(",", ":"), default=str) if compact else \
        json.dumps(obj, indent=2, sort_keys=True, default=str)
    return write_bytes(directory, name, text.encode())


# joblib is imported where a model is written or read (~0.1 s, ~0.5 s under load): the
# registry, governance and monitoring commands load this module for digests and JSON.
def write_pickle(directory: Path, name: str, obj: Any) -> Artifact:
    import joblib

    buf = io.BytesIO()
    # uncompressed: compressing a forest costs more per run than the disk it saves
    joblib.dump(obj, buf)
    return write_bytes(directory, name, buf.getvalue())


def read_verified(path: str | Path, sha256: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise NotFound(f"artifact {str(p)!r} is missing (pruned or moved); re-run the experiment to recreate it")
    data = p.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ArtifactIntegrityError(
            f"artifact {str(p)!r} was modified after it was written (sha256 {actual[:12]}..., recorded "
            f"{sha256[:12]}...); refusing to load it: restore it or re-run the experiment"
        )
    return data


def load_pickle_verified(path: str | Path, sha256: str) -> Any:
    import joblib

    return joblib.load(io.BytesIO(read_verified(path, sha256)))
