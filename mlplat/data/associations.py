"""Pairwise associations of a data profile: Pearson and Spearman between numeric columns,
Cramér's V between categorical ones, the correlation ratio between the two kinds.

Every statistic comes from chunked matrix products and bincounts over arrays the profile
already holds (each numeric column ranked once), so 15 numeric columns of 1M rows cost a few
matrix products instead of one pandas ``corr`` per pair (see docs/architecture.md).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # the column holders are the profile's; only their types are named here
    from mlplat.data.numeric import NumericColumn
    from mlplat.data.profile import Progress, _Categorical

CHUNK_CELLS = 1 << 18  # cells of one association chunk (rows x stacked columns)


def _float(v: Any) -> float | None:
    """A JSON-safe float (NaN and inf become None); the profile's other figures use it too."""
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None

def _pairwise_from_sums(sxy: np.ndarray, sx: np.ndarray | None, sxx: np.ndarray | None,
                        nn: np.ndarray | None) -> np.ndarray:
    """Pearson r for every pair from the pairwise sums of ``_gram`` (sx[i, j]: sum of x_i where x_j is present too)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if sx is None:
            d = np.sqrt(np.diag(sxy))
            r = sxy / np.outer(d, d)
        else:
            cov = sxy - sx * sx.T / nn
            vi = sxx - sx * sx / nn
            r = cov / np.sqrt(vi * vi.T)
    r = np.clip(r, -1.0, 1.0)
    np.fill_diagonal(r, 1.0)
    return r


def _stack(cols: list[np.ndarray], a: int, b: int, centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = np.empty((b - a, len(cols)), dtype=np.float64)
    for j, c in enumerate(cols):
        x[:, j] = c[a:b]
    x -= centre
    absent = np.isnan(x)
    np.copyto(x, 0.0, where=absent)
    return x, absent


def _gram(cols: list[np.ndarray], centre: np.ndarray, n: int, missing: bool, progress: Progress,
          what: str) -> np.ndarray:
    """Pairwise-complete Pearson of ``cols`` from one chunked pass of matrix products.

    Per chunk, values are centred and zero-filled where absent. ``x'x`` over every row gives
    sum xy for every pair; the sums over "the rows where the other column is present too"
    are the column totals minus the same sums over the rows where it is absent, and only
    rows with a gap take part in those products (a few percent of the rows, typically).
    """
    p = len(cols)
    chunk = max(1024, CHUNK_CELLS // p)
    sxy = np.zeros((p, p))
    total, total_sq = np.zeros(p), np.zeros(p)
    sx_gap, sxx_gap, both_gap = np.zeros((p, p)), np.zeros((p, p)), np.zeros((p, p))
    steps = max(1, math.ceil(n / chunk))
    gapped = np.flatnonzero([np.isnan(c).any() for c in cols]) if missing else np.arange(p)
    for i, a in enumerate(range(0, n, chunk)):
        b = min(n, a + chunk)
        x, absent = _stack(cols, a, b, centre)
        sxy += x.T @ x
        if missing:
            total += x.sum(axis=0)
            total_sq += np.einsum("ij,ij->j", x, x)
            # only the columns with gaps need a mask column (a third of the products at 195 columns)
            gcols = gapped if gapped.size < p else slice(None)
            rows = absent[:, gcols].any(axis=1)
            if rows.any():
                xr, gap = x[rows], absent[rows][:, gcols].astype(np.float64)
                sx_gap[:, gcols] += xr.T @ gap
                sxx_gap[:, gcols] += (xr * xr).T @ gap
                both_gap[np.ix_(gapped, gapped)] += gap.T @ gap
        progress(what, i + 1, steps)
    if not missing:
        return _pairwise_from_sums(sxy, None, None, None)
    gaps = np.diag(both_gap)
    nn = n - gaps[:, None] - gaps[None, :] + both_gap
    return _pairwise_from_sums(sxy, total[:, None] - sx_gap, total_sq[:, None] - sxx_gap, nn)


@functools.cache
def _blas_controller() -> Any:
    """threadpoolctl's view of the loaded BLAS, made once: building it scans the libraries (~0.1 s)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _numeric_associations(nums: list[NumericColumn], n: int, progress: Progress) -> dict[str, Any]:
    """Pearson and Spearman between every pair of numeric columns."""

    p = len(nums)
    missing = any(c.n_valid < n for c in nums)
    ranked = [c for c in nums if c.ranks is not None]
    out: dict[str, Any] = {}
    # the products are small (p x p per chunk): BLAS threads only contend, badly so on a busy machine;
    # Pearson and Spearman run side by side instead (numpy and BLAS release the GIL)
    jobs: dict[str, Callable[[], np.ndarray]] = {}
    if p >= 1:
        jobs["pearson"] = lambda: _gram([c.values for c in nums], np.array([c.mean for c in nums]), n, missing,
                                        progress, "pearson")
    if ranked:
        jobs["spearman"] = lambda: _gram([c.ranks for c in ranked], np.array([(c.n_valid + 1) / 2 for c in ranked]),
                                         n, missing, progress, "spearman")
    with _blas_controller().limit(limits=1, user_api="blas"):
        if len(jobs) > 1 and n >= 50_000:
            with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
                futures = {k: pool.submit(f) for k, f in jobs.items()}
                matrices = {k: f.result() for k, f in futures.items()}
        else:
            matrices = {k: f() for k, f in jobs.items()}
    if "pearson" in matrices:
        out["pearson"] = {"columns": [c.name for c in nums], "matrix": _matrix(matrices["pearson"])}
    if "spearman" in matrices:
        out["spearman"] = {"columns": [c.name for c in ranked], "matrix": _matrix(matrices["spearman"])}
    return out


def _categorical_associations(nums: list[NumericColumn], cats: list[_Categorical], n: int,
                              progress: Progress) -> dict[str, Any]:
    """Cramér's V between categorical columns, the correlation ratio of each numeric one on each categorical."""
    p = len(nums)
    out: dict[str, Any] = {}
    if not cats:
        return out
    # codes with "missing" as one more category (k), so no row needs masking; dropped from every table
    shifted = [np.where(c.codes < 0, len(c.labels), c.codes).astype(np.intp) for c in cats]
    sizes = [len(c.labels) + 1 for c in cats]
    v = np.eye(len(cats))
    for i in range(len(cats)):
        for j in range(i + 1, len(cats)):
            table = np.bincount(shifted[i] * sizes[j] + shifted[j], minlength=sizes[i] * sizes[j])
            v[i, j] = v[j, i] = _cramers_v(table.reshape(sizes[i], sizes[j])[:-1, :-1].astype(np.float64))
        progress("cramers_v", i + 1, len(cats))
    out["cramers_v"] = {"columns": [c.name for c in cats], "matrix": _matrix(v)}
    if p:
        eta = np.full((p, len(cats)), np.nan)
        plain = [np.bincount(sh, minlength=k).astype(np.float64) for sh, k in zip(shifted, sizes, strict=True)]

        def one(i: int) -> None:
            num = nums[i]
            absent = np.isnan(num.values)
            x = num.values - num.mean
            gaps = np.flatnonzero(absent) if num.n_valid < n else None
            if gaps is not None:
                x[gaps] = 0.0
            xx = x * x
            for j, sh in enumerate(shifted):
                k = sizes[j]
                # per-category counts of present values: all rows minus the (few) rows with a gap
                counts = plain[j] if gaps is None else plain[j] - np.bincount(sh[gaps], minlength=k)
                eta[i, j] = _correlation_ratio(np.bincount(sh, weights=x, minlength=k)[:-1],
                                               np.bincount(sh, weights=xx, minlength=k)[:-1], counts[:-1])

        # two threads: the weighted bincounts release the GIL for part of their time
        # (1M rows x 15 numeric x 4 categorical: 0.25 -> 0.17 s, benchmarks/data_profile)
        if p > 1 and n >= 50_000:
            with ThreadPoolExecutor(max_workers=2) as pool:
                for done, _ in enumerate(pool.map(one, range(p)), 1):
                    progress("correlation ratio", done, p)
        else:
            for i in range(p):
                one(i)
                progress("correlation ratio", i + 1, p)
        out["correlation_ratio"] = {"numeric": [c.name for c in nums], "categorical": [c.name for c in cats],
                                    "matrix": _matrix(eta)}
    return out


def _matrix(m: np.ndarray) -> list[list[float | None]]:
    """The matrix as JSON-safe lists (NaN/inf as None), in one pass: per-cell _float took 0.3 s at 195 columns."""
    out = np.asarray(m, dtype=np.float64).astype(object)
    out[~np.isfinite(np.asarray(m, dtype=np.float64))] = None
    return out.tolist()


def _cramers_v(table: np.ndarray) -> float:
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    n = table.sum()
    r, c = table.shape
    if n == 0 or min(r, c) < 2:
        return float("nan")
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return math.sqrt(min(1.0, chi2 / (n * (min(r, c) - 1))))


def _correlation_ratio(sums: np.ndarray, sumsq: np.ndarray, counts: np.ndarray) -> float:
    """eta: sqrt(between-group / total sum of squares) over the rows where both columns are present."""
    ok = counts > 0
    if ok.sum() < 1:
        return float("nan")
    n, s, ss = counts[ok].sum(), sums[ok].sum(), sumsq[ok].sum()
    total = ss - s * s / n
    between = (sums[ok] ** 2 / counts[ok]).sum() - s * s / n
    if total <= 0:
        return float("nan")
    return math.sqrt(min(1.0, max(0.0, between / total)))
