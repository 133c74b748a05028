"""A window of one version's prediction log as compact columns, for checks that only aggregate.

``read_prediction_log`` turns an Arrow table into pandas: for a week of a busy service (ten
million rows) the table, the scanner's filtered copies and the pandas frame are alive at once
(1,220 MiB at peak for five inputs and one probability; benchmarks/predlog_window). Here the
rows are counted first (from the Parquet footers and ``ts`` statistics), one numpy array per
column is allocated at that size, and the scanner's batches are copied into them one at a time,
so the peak is the frame plus a few batches (562 MiB for the same window). String columns
become pandas categoricals (int8/int16 codes instead of ten million strings).

It takes the common shapes of a log (numeric and string columns, nulls in either); anything
else (a nested input, a bool with gaps, a string column with more distinct values than
``MAX_CATEGORIES``) returns None and the caller reads the plain way. Rows come in no order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from mlplat.serving.predlog import files_by_version, filesystem, log_dataset, window_filter

# past this many distinct strings a column is no category any more (ids, free text): read plainly
MAX_CATEGORIES = 1 << 15


class _Unsupported(Exception):
    """A column this reader does not take; the caller falls back to the plain read."""


class _Column:
    """One output column, filled batch by batch."""

    def __init__(self, name: str, typ: pa.DataType, n: int) -> None:
        self.name = name
        self.strings = pa.types.is_dictionary(typ) or pa.types.is_string(typ) or pa.types.is_large_string(typ)
        if self.strings:
            self.values = np.empty(n, dtype=np.int8)  # codes into self.categories, -1 for a gap; widened as needed
            self.categories: dict[str, int] = {}
        elif pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ):
            self.values = np.empty(n, dtype=typ.to_pandas_dtype())
        else:
            raise _Unsupported(f"{name}: {typ}")

    def put(self, pos: int, arr: pa.Array) -> None:
        end = pos + len(arr)
        if self.strings:
            self._put_strings(pos, end, arr)
        elif arr.null_count:
            if self.values.dtype.kind == "b":
                raise _Unsupported(f"{self.name}: booleans with gaps")
            if self.values.dtype.kind != "f":  # ints with a gap become floats, as pandas makes them
                self.values = self.values.astype(np.float64)
            self.values[pos:end] = arr.to_numpy(zero_copy_only=False)
        else:
            self.values[pos:end] = arr.to_numpy(zero_copy_only=False)

    def _put_strings(self, pos: int, end: int, arr: pa.Array) -> None:
        if not pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_encode()
        words = arr.dictionary.to_pylist()
        if len(self.categories) + len(words) > MAX_CATEGORIES and any(w not in self.categories for w in words):
            raise _Unsupported(f"{self.name}: more than {MAX_CATEGORIES} distinct values")
        lookup = np.fromiter((self.categories.setdefault(w, len(self.categories)) for w in words),
                             dtype=np.int32, count=len(words))
        for width in (np.int8, np.int16, np.int32):
            if len(self.categories) <= np.iinfo(width).max:
                break
        if np.dtype(width).itemsize > self.values.dtype.itemsize:
            self.values = self.values.astype(width)
        codes = arr.indices.fill_null(0).to_numpy(zero_copy_only=False)
        out = lookup[codes] if len(words) else np.zeros(len(arr), dtype=np.int32)
        if arr.null_count:
            out[arr.is_null().to_numpy(zero_copy_only=False)] = -1
        self.values[pos:end] = out

    def series(self, n: int) -> pd.Series:
        if not self.strings:
            return pd.Series(self.values[:n], name=self.name, copy=False)
        return pd.Series(pd.Categorical.from_codes(self.values[:n], categories=list(self.categories)),
                         name=self.name, copy=False)


def read_window_columns(name: str, since: float | None, until: float | None, *, root: str | Path, version: int,
                        columns: list[str], storage_options: dict | None = None) -> pd.DataFrame | None:
    """``columns`` of version ``version`` of ``name`` with ``since <= ts <= until``, compact; None when
    the log has a shape this reader does not take (then use ``read_prediction_log``)."""
    fs, base = filesystem(root, storage_options)
    if fs.isdir(f"{base}/{name}"):
        return None  # a log of the earlier layout: the plain reader merges its files
    files = files_by_version(fs, base, name, since, until, version).get(str(version), [])
    if not files:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    dataset = log_dataset(fs, base, files, columns, categories=True)
    present = [c for c in columns if c in dataset.schema.names]
    where = window_filter(since, until, version)
    n = dataset.count_rows(filter=where)
    try:
        out = [_Column(c, dataset.schema.field(c).type, n) for c in present]
        pos = 0
        # one file and one batch read ahead: the copy into the arrays keeps pace, and more read-ahead only
        # left decoded batches resident (10M rows: 537-544 MiB peak vs 606-664 MiB, and no faster)
        for batch in dataset.to_batches(columns=present, filter=where, fragment_readahead=1, batch_readahead=1):
            if pos + batch.num_rows > n:
                return None  # files changed under the read (a writer's flush): read plainly
            for col, arr in zip(out, batch.columns, strict=True):
                col.put(pos, arr)
            pos += batch.num_rows
    except _Unsupported:
        return None
    return pd.DataFrame({c.name: c.series(pos) for c in out}, copy=False)


__all__ = ["read_window_columns", "MAX_CATEGORIES"]
