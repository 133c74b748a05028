"""Content fingerprints: the same rows, columns and dtypes give the same hash, anywhere."""

from __future__ import annotations

import hashlib

import pandas as pd


def fingerprint(df: pd.DataFrame) -> str:
    """sha256 over column names, dtypes and every value (row order matters)."""
    h = hashlib.sha256()
    h.update(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()
