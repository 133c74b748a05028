"""One numeric column of a data profile: its statistics from a single sort (or, for whole
numbers in a small range, a single bincount), and its average ranks for Spearman.

``numeric_column`` returns the column's JSON figures and a ``NumericColumn`` holding the
values and ranks the associations pass reuses (mlplat/data/associations.py). The sort is
``sort_order``: one sort of 64-bit keys that carry each row's position, about half of
numpy's argsort time (benchmarks/data_profile).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlplat.data.associations import _float

__all__ = ["ALLOWED_LIST_MAX", "HIST_BINS", "QUANTILES", "NumericColumn", "numeric_column", "sort_order",
           "histogram_sorted"]

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
HIST_BINS = 20
ALLOWED_LIST_MAX = 50  # every distinct value is listed up to this many (a schema's allowed values)


@dataclass
class NumericColumn:
    name: str
    values: np.ndarray  # float or int (never a copy when avoidable), NaN where missing or infinite
    ranks: np.ndarray | None  # float32 average ranks over present values, NaN elsewhere
    n_valid: int
    mean: float
    std: float


def _numeric_array(series: pd.Series) -> np.ndarray:
    """The column's values without a copy where numpy already holds them (float64, int64: no missing)."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "fiu" and not pd.api.types.is_bool_dtype(dtype):
        return series.to_numpy()
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _quantiles(u: np.ndarray, cum: np.ndarray) -> dict[str, float | None]:
    """Linear-interpolated quantiles (numpy/pandas' default) read off the distinct values and their running counts."""
    n = int(cum[-1])
    out: dict[str, float | None] = {}
    for q in QUANTILES:
        pos = q * (n - 1)
        lo = int(math.floor(pos))
        hi = min(lo + 1, n - 1)
        frac = pos - lo
        # the value at sorted position p is the first distinct value whose running count exceeds p
        a, b = float(u[np.searchsorted(cum, lo, side="right")]), float(u[np.searchsorted(cum, hi, side="right")])
        # numpy's "linear" method: a + (b - a) * t, written from the nearer end for t >= 0.5
        out[f"{round(q * 100):g}%"] = _float(b - (b - a) * (1 - frac) if frac >= 0.5 else a + (b - a) * frac)
    return out


def _histogram_counts(u: np.ndarray, cum: np.ndarray, lo: float, hi: float, bins: int = HIST_BINS) -> dict[str, list]:
    """Fixed-width bins over [min, max] (np.histogram's edges), counted from the distinct values' running counts."""
    if hi <= lo:
        return {"edges": [lo - 0.5, lo + 0.5], "counts": [int(cum[-1])]}
    edges = np.linspace(lo, hi, bins + 1)
    below = np.concatenate([[0], cum])[np.searchsorted(u, edges[1:-1], side="left")]  # values < each inner edge
    counts = np.diff(np.concatenate([[0], below, [cum[-1]]]))
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def histogram_sorted(s: np.ndarray, lo: float, hi: float, bins: int = HIST_BINS) -> dict[str, list]:
    """Fixed-width bins over [min, max] (np.histogram's edges), counted on the sorted values."""
    if hi <= lo:
        return {"edges": [lo - 0.5, lo + 0.5], "counts": [int(s.size)]}
    edges = np.linspace(lo, hi, bins + 1)
    inner = np.searchsorted(s, edges[1:-1], side="left")
    counts = np.diff(np.concatenate([[0], inner, [s.size]]))
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


COUNTING_MAX_RANGE = 1 << 16  # whole numbers spanning at most this (or n) are counted, not sorted
_SIGN = np.uint64(1 << 63)


def _small_whole_range(vals: np.ndarray) -> tuple[float, int] | None:
    """(min, max - min) when every value is a whole number in a range small enough to count with bincount."""
    m = vals.size
    lo, hi = vals.min(), vals.max()
    span = float(hi) - float(lo)
    if span > max(COUNTING_MAX_RANGE, m):
        return None
    if vals.dtype.kind == "f":
        head = vals[:1000]
        if not np.array_equal(head, np.floor(head)) or not np.array_equal(vals, np.floor(vals)):
            return None
    return float(lo), int(span)


def _float_keys(vals: np.ndarray) -> np.ndarray:
    """Each value's bit pattern as a uint64 that sorts like the value (a new array, transformed in place)."""
    key = vals.astype(np.float64, copy=True)
    key += 0.0  # -0.0 becomes 0.0, one value as numpy compares them
    key = key.view(np.uint64)
    neg = key >= _SIGN
    # IEEE order: negatives reversed, positives above them
    np.invert(key, out=key, where=neg)
    np.bitwise_or(key, _SIGN, out=key, where=~neg)
    return key


def sort_order(vals: np.ndarray) -> np.ndarray:
    """argsort(vals) (ties in any order), from one sort of 64-bit keys: about half argsort's time.

    Each key is the value's order-preserving bit pattern with its low bits replaced by the row
    position, so sorting the keys sorts the values and carries their positions along (numpy sorts
    plain 64-bit integers with SIMD; argsort is several times slower). Values that agree on their
    high bits (within about 2**-(53 - log2 n) of each other) come out in row order, not value
    order: those few runs are found and sorted exactly; if too many, plain argsort.
    """
    m = vals.size
    bits = max(1, (m - 1).bit_length())
    if bits > 40:
        return np.argsort(vals, kind="quicksort")
    if vals.dtype.kind == "f":
        key = _float_keys(vals)
    else:
        lo, hi = int(vals.min()), int(vals.max())
        if hi - lo >= 1 << (64 - bits):
            return np.argsort(vals, kind="quicksort")
        key = (vals - lo).astype(np.uint64)
        key <<= np.uint64(bits)  # whole numbers keep every bit: no run can come out of order
    exact = vals.dtype.kind != "f"
    if not exact:
        key >>= np.uint64(bits)
        key <<= np.uint64(bits)
    key |= np.arange(m, dtype=np.uint64)
    key.sort()
    key &= np.uint64((1 << bits) - 1)
    order = key.view(np.intp)  # the positions, in place: no third n-sized array
    if exact:
        return order
    s = vals[order]
    bad = np.flatnonzero(s[1:] < s[:-1])
    del s
    if not bad.size:
        return order
    if bad.size > 1000:
        return np.argsort(vals, kind="quicksort")
    high = _float_keys(vals[order]) >> np.uint64(bits)  # the sorted values' high bits: their runs
    runs = np.unique(high[bad])
    a, b = np.searchsorted(high, runs, side="left"), np.searchsorted(high, runs, side="right")
    for lo_, hi_ in zip(a.tolist(), b.tolist(), strict=True):  # a handful of short runs
        seg = order[lo_:hi_]
        order[lo_:hi_] = seg[np.argsort(vals[seg], kind="stable")]
    return order


def numeric_column(name: str, series: pd.Series, want_ranks: bool) -> tuple[dict[str, Any], NumericColumn | None]:
    arr = _numeric_array(series)
    n = arr.size
    floating = arr.dtype.kind == "f"
    nan = np.isnan(arr) if floating else np.zeros(n, dtype=bool)
    n_missing = int(nan.sum())
    n_inf = 0
    if floating:
        inf = np.isinf(arr)
        n_inf = int(inf.sum())
        if n_inf:
            arr = np.where(inf, np.nan, arr)  # the one copy: inf is left out like a missing value
            nan |= inf
        del inf
    has_bad = n_missing + n_inf > 0
    col: dict[str, Any] = {"dtype": str(series.dtype), "n_missing": n_missing,
                           "missing_share": n_missing / n if n else 0.0, "n_infinite": n_inf}
    present = ~nan if has_bad else None
    del nan
    vals = arr[present] if has_bad else arr
    m = int(vals.size)
    if m == 0:
        col.update(n_distinct=0, distinct_share=0.0, top_share=None)
        return col, None
    monotonic = bool(not has_bad and (m < 2 or bool(np.all(vals[1:] >= vals[:-1]))))
    rank_dtype = np.float32 if m < (1 << 23) else np.float64  # float32 holds every half-integer below 2**23
    counting = _small_whole_range(vals)
    in_order = None
    if counting is not None:
        # whole numbers in a small range (counts, codes, 0/1, ages): one bincount instead of a sort
        lo0, span = counting
        codes = (vals - lo0).astype(np.intp) if floating else (vals - int(lo0)).astype(np.intp)
        del vals
        counts = np.bincount(codes, minlength=span + 1)
        nz = np.flatnonzero(counts)
        sizes = counts[nz]
        u = nz.astype(np.float64) + lo0
        cum = np.cumsum(sizes)
        mean = float(np.dot(u, sizes) / m)
        std = float(math.sqrt(np.dot(sizes, (u - mean) ** 2) / (m - 1))) if m > 1 else 0.0
        if want_ranks:
            avg = np.zeros(span + 1, dtype=np.float64)
            avg[nz] = cum - (sizes - 1) / 2.0  # average 1-based rank of each value's ties
            in_order = avg.astype(rank_dtype)[codes]
        del codes, counts
    else:
        if want_ranks:
            order = sort_order(vals)
            s = vals[order]
        else:
            order, s = None, np.sort(vals)
        del vals
        cut = np.flatnonzero(s[1:] != s[:-1]) + 1
        starts = np.concatenate([[0], cut])
        del cut
        sizes = np.diff(np.concatenate([starts, [m]]))
        u = s[starts].astype(np.float64, copy=False)
        cum = np.cumsum(sizes)
        mean = float(s.mean(dtype=np.float64))  # float64 sums for float32 columns too (pandas' figure)
        std = float(s.std(ddof=1, dtype=np.float64)) if m > 1 else 0.0
        del s
        if order is not None:
            avg = ((2 * starts + sizes + 1) / 2.0).astype(rank_dtype)  # average 1-based rank of each tie group
            in_order = np.empty(m, dtype=rank_dtype)
            in_order[order] = np.repeat(avg, sizes)
            del order
    n_distinct = int(u.size)
    lo, hi = float(u[0]), float(u[-1])
    top = int(sizes.argmax())
    zero = int(np.searchsorted(u, 0.0, side="left"))
    col.update(
        n_distinct=n_distinct, distinct_share=n_distinct / m, top_value=float(u[top]),
        top_share=float(sizes[top]) / m,
        n_zeros=int(sizes[zero]) if zero < n_distinct and u[zero] == 0 else 0,
        min=lo, max=hi, mean=_float(mean), std=_float(std), quantiles=_quantiles(u, cum),
        histogram=_histogram_counts(u, cum, lo, hi),
        integral=bool(np.all(np.mod(u[: min(n_distinct, 5000)], 1) == 0)),
        monotonic_increasing=monotonic,
    )
    if n_distinct <= ALLOWED_LIST_MAX:
        col["values"] = [float(v) for v in u]
    ranks = None
    if in_order is not None:
        if has_bad:
            ranks = np.full(n, np.nan, dtype=rank_dtype)
            ranks[present] = in_order
            del in_order
        else:
            ranks = in_order
    return col, NumericColumn(name, arr, ranks, m, mean, std)
