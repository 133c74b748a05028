"""Writing a file so that no reader ever sees half of it: a temp file in the same directory,
then ``os.replace``. Artifacts, reports and model cards all go through here."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: str | Path, data: bytes, *, mode: int | None = None, fsync: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; raises OSError (callers say what to fix).

    ``mode``: the file's permissions (mkstemp makes it 0600); ``fsync``: flush it to disk
    before it appears, for files the store records (a crash must not leave a recorded,
    empty artifact).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
