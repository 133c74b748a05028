"""Vectorised two-sample drift statistics, numerically aligned with Evidently 0.7.

Why this module exists: Evidently's stat tests take two raw ``pd.Series`` and
recompute everything (sorting, value counts, binning) per call, and several of
them need the *raw* reference.  Here every numeric statistic works from a
*sorted reference sample* (the full sorted reference in exact mode, or an
equal-weight quantile sketch from a stored profile) plus the sorted current
values, so the same code serves both modes and a drift check never needs the
training data again.

Conventions copied from ``evidently/legacy/calculations/stattests`` (0.7.x) so
that, with the same method forced, scores agree to ~1e-12 in exact mode:

* ``ks``: two-sided two-sample KS; p-value from SciPy's public ``ks_2samp(method="exact")``
  when ``max(n1, n2) <= 10000`` (the rule of ``method="auto"``) and
  ``kstwo.sf(d, round(n1*n2/(n1+n2)))`` otherwise.  Drift when ``p <= threshold``.
* ``wasserstein``: ``wasserstein_distance(ref, cur) / max(std(ref), 0.001)``.
* ``psi`` / ``jensenshannon``: Evidently's ``get_binned_data``: numeric columns
  with more than 20 reference unique values use Sturges bins over the *combined*
  range; otherwise per-value frequencies over the union of values.  PSI replaces
  empty bins with ``min_nonzero / 1e6`` (or ``1e-4``) as Evidently's
  ``feel_zeroes``; JS does not.
* ``chisquare``: expected = reference counts scaled to the current size,
  over the union of values; drift when ``p < threshold``.
* ``chi2``: (not in Evidently) two-sample chi-square test of homogeneity,
  ``scipy.stats.chi2_contingency(correction=False)`` on the 2 x k table; our
  default for small references because Evidently's ``chisquare`` ignores the
  reference's own sampling noise (see :mod:`mlplat.monitoring.drift`).
* ``z``: two-proportion z-test for binary columns (Evidently's default there).

No per-row Python loops: everything is ``np.sort``/``np.searchsorted``/
``np.bincount``-style array work.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats as _st
from scipy.spatial import distance as _distance

__all__ = [
    "ChiSquareResult",
    "chi2_homogeneity_from_counts",
    "KSResult",
    "chisquare_from_counts",
    "clipped_bin_percents",
    "jensenshannon_from_percents",
    "ks_2samp_sorted",
    "psi_from_percents",
    "sturges_edges",
    "weighted_bin_percents",
    "wasserstein_sorted",
    "z_test_from_counts",
]

# scipy.stats.ks_2samp(method="auto") switches to the asymptotic formula above this size.
KS_EXACT_MAX_N = 10_000


@dataclass(frozen=True)
class KSResult:
    """KS statistic ``D`` and its two-sided p-value."""

    statistic: float
    p_value: float


@dataclass(frozen=True)
class ChiSquareResult:
    """Pearson chi-square statistic and p-value."""

    statistic: float
    p_value: float


def _ks_statistic(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> float:
    """Max |ECDF difference| over all sample points (ties handled via side='right')."""
    n1, n2 = ref_sorted.size, cur_sorted.size
    # ECDFs are right-continuous step functions; evaluating both at every point
    # of both samples finds the supremum exactly (same as scipy's construction).
    d_at_ref = (
        np.searchsorted(ref_sorted, ref_sorted, side="right") / n1
        - np.searchsorted(cur_sorted, ref_sorted, side="right") / n2
    )
    d_at_cur = (
        np.searchsorted(ref_sorted, cur_sorted, side="right") / n1
        - np.searchsorted(cur_sorted, cur_sorted, side="right") / n2
    )
    max_pos = max(float(d_at_ref.max()), float(d_at_cur.max()))
    max_neg = max(float(-d_at_ref.min()), float(-d_at_cur.min()), 0.0)
    return max(max_pos, max_neg)


def _two_valued(h: int, n1: int, n2: int, g: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Samples of sizes n1, n2 with ``i`` zeros among the first and ``j`` among the second such
    that i/n1 - j/n2 = h/lcm(n1, n2) (so their KS statistic is that), or None if none exist."""
    n1g, n2g = n1 // g, n2 // g
    # i*n2g - j*n1g = h: i is fixed modulo n1g; the largest such i <= n1 gives the smallest j >= 0
    i = (h * pow(n2g, -1, n1g)) % n1g if n1g > 1 else 0
    i += ((n1 - i) // n1g) * n1g
    j, rest = divmod(i * n2g - h, n1g)
    if rest or not 0 <= j <= n2:
        return None
    return np.repeat([0.0, 1.0], [i, n1 - i]), np.repeat([0.0, 1.0], [j, n2 - j])


def _lattice_samples(h0: int, n1: int, n2: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Two samples of sizes ``n1`` and ``n2`` whose KS statistic is ``d``.

    SciPy's exact two-sided p-value depends on the statistic and the two sizes only, and its
    public API reaches it only through ``scipy.stats.ks_2samp`` on samples. A statistic
    computed on data is always |i/n1 - j/n2| for some counts i, j, so two-valued samples with
    those counts give the same statistic and, from ks_2samp, the same p-value. A statistic
    from a quantile sketch (``n_ref`` larger than the sketch) may fall between such values;
    it is moved to the nearest one, well inside the sketch's own 1/len(sketch) accuracy.
    """
    g = math.gcd(n1, n2)
    lcm = (n1 // g) * n2
    for step in range(lcm + 1):
        for h in (h0 - step, h0 + step) if step else (h0,):
            if not 0 <= h <= lcm:
                continue
            pair = _two_valued(h, n1, n2, g)
            if pair is not None:
                return pair
            swapped = _two_valued(h, n2, n1, g)  # i/n2 - j/n1 = d: the same |difference|
            if swapped is not None:
                return swapped[1], swapped[0]
    return None


def _ks_exact_pvalue(d: float, n1: int, n2: int) -> float | None:
    """SciPy's exact two-sided p-value through its public ``ks_2samp(method="exact")``, or
    None when SciPy cannot compute it exactly (it then falls back itself, with a warning)."""
    lcm = (n1 // math.gcd(n1, n2)) * n2
    return _ks_exact_lattice(int(np.round(d * lcm)), n1, n2)  # d in units of 1/lcm, as ks_2samp rounds it


# The p-value depends on (statistic, n1, n2) only, and a check's features mostly share both sizes
# (no nulls): the statistics of one check fall on few lattice points, so they are computed once.
@functools.lru_cache(maxsize=4096)
def _ks_exact_lattice(h0: int, n1: int, n2: int) -> float | None:
    samples = _lattice_samples(h0, n1, n2)
    if samples is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # "exact calculation unsuccessful": use ours
        try:
            return float(_st.ks_2samp(*samples, method="exact").pvalue)
        except RuntimeWarning:
            return None


def ks_2samp_sorted(ref_sorted: np.ndarray, cur_sorted: np.ndarray, *, n_ref: int | None = None) -> KSResult:
    """Two-sided KS test on pre-sorted samples.

    ``ref_sorted`` may be an equal-weight quantile sketch of a larger reference;
    then pass the true reference size as ``n_ref`` so the p-value uses it (the
    statistic is accurate to ``1/len(sketch)``).
    """
    n1 = int(n_ref if n_ref is not None else ref_sorted.size)
    n2 = int(cur_sorted.size)
    d = _ks_statistic(ref_sorted, cur_sorted)
    prob: float | None = None
    if max(n1, n2) <= KS_EXACT_MAX_N:
        prob = _ks_exact_pvalue(d, n1, n2)
    if prob is None:
        en = round(n1 * n2 / (n1 + n2))
        prob = float(_st.kstwo.sf(d, en))
    return KSResult(statistic=d, p_value=float(np.clip(prob, 0.0, 1.0)))


# cur breakpoints merged per block: a window of 10M logged rows would otherwise build several
# (n1 + n2)-long int64 arrays at once (~600 MB) and stable-sort one of them
WASSERSTEIN_BLOCK = 1 << 20


def wasserstein_sorted(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> float:
    """First Wasserstein distance between two equal-weight samples (pre-sorted).

    Uses the quantile-function form ``∫|F⁻¹(u) - G⁻¹(u)| du``.  The breakpoints
    ``i/n1`` and ``j/n2`` are represented exactly as integers over ``n1*n2`` so
    the result equals ``scipy.stats.wasserstein_distance`` up to summation order,
    in O(n) after sorting.  Both breakpoint sequences are arithmetic, so they are
    merged block by block of ``WASSERSTEIN_BLOCK`` breakpoints without a sort:
    memory stays a few blocks whatever the samples' sizes.
    """
    n1, n2 = int(ref_sorted.size), int(cur_sorted.size)
    if n1 == n2:
        return float(np.mean(np.abs(ref_sorted - cur_sorted)))
    total = n1 * n2
    # the merged breakpoints u*n1*n2 for u in {i/n1} ∪ {j/n2}: i*n2 (i = 1..n1) and j*n1 (j = 1..n2)
    (a_n, a_step), (b_n, b_step) = sorted([(n1, n2), (n2, n1)], reverse=True)  # a: the longer sequence
    acc = 0.0
    prev = np.int64(0)
    for start in range(0, a_n, WASSERSTEIN_BLOCK):
        stop = min(start + WASSERSTEIN_BLOCK, a_n)
        a = np.arange(start + 1, stop + 1, dtype=np.int64) * a_step
        lo = (start * a_step) // b_step  # b breakpoints k*b_step in (start*a_step, stop*a_step]
        hi = (stop * a_step) // b_step if stop < a_n else b_n
        b = np.arange(lo + 1, hi + 1, dtype=np.int64) * b_step
        u = np.empty(a.size + b.size, dtype=np.int64)
        at = np.searchsorted(a, b, side="left") + np.arange(b.size)
        keep = np.ones(u.size, dtype=bool)
        keep[at] = False
        u[at] = b
        u[keep] = a
        widths = np.diff(u, prepend=prev)
        prev = u[-1]
        idx_ref = (u + n2 - 1) // n2 - 1  # ceil(u/n2) - 1: quantile index in ref
        idx_cur = (u + n1 - 1) // n1 - 1
        acc += float(np.dot(widths.astype(np.float64), np.abs(ref_sorted[idx_ref] - cur_sorted[idx_cur])))
    return acc / total


def sturges_edges(lo: float, hi: float, n_total: int) -> np.ndarray:
    """Edges numpy's ``histogram_bin_edges(x, "sturges")`` gives for data in [lo, hi].

    Evidently bins the *combined* reference+current sample this way; only its
    min, max and size matter, which a profile stores.
    """
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
        n_bins = 1
    else:
        ptp = hi - lo
        width = ptp / (np.log2(n_total) + 1.0)
        n_bins = int(np.ceil(ptp / width))
    return np.linspace(lo, hi, n_bins + 1, endpoint=True)


def weighted_bin_percents(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of a sorted sample in each bin, with ``np.histogram``'s edge rules.

    Bins are half-open ``[a, b)`` except the last, which is closed; this is
    exactly what ``np.histogram(x, edges)`` does for non-uniform edges.
    """
    left = np.searchsorted(sorted_values, edges[:-1], side="left")
    right_end = np.searchsorted(sorted_values, edges[-1:], side="right")
    cum = np.concatenate([left, right_end])
    return np.diff(cum) / sorted_values.size


def clipped_bin_percents(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``weighted_bin_percents(np.clip(sorted_values, edges[0], edges[-1]), edges)`` without the
    clipped copy: values below the first edge count in the first bin, above the last in the last."""
    inner = np.searchsorted(sorted_values, edges[1:-1], side="left")
    cum = np.concatenate([[0], inner, [sorted_values.size]])
    return np.diff(cum) / sorted_values.size


def _feel_zeroes(percents: np.ndarray) -> np.ndarray:
    """Evidently's replacement of empty bins, so PSI's log ratio stays finite."""
    out = percents.astype(np.float64, copy=True)
    nonzero = out[out != 0]
    if nonzero.size == 0:
        return out
    smallest = float(nonzero.min())
    out[out == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return out


def psi_from_percents(ref_percents: np.ndarray, cur_percents: np.ndarray) -> float:
    """Population Stability Index with Evidently's zero handling."""
    ref = _feel_zeroes(ref_percents)
    cur = _feel_zeroes(cur_percents)
    return float(np.sum((ref - cur) * np.log(ref / cur)))


def jensenshannon_from_percents(ref_percents: np.ndarray, cur_percents: np.ndarray) -> float:
    """Jensen–Shannon *distance* (natural log), as ``scipy.spatial.distance.jensenshannon``."""
    return float(_distance.jensenshannon(ref_percents, cur_percents))


def chisquare_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> ChiSquareResult:
    """Pearson chi-square of current counts against reference-shaped expectations.

    ``ref_counts``/``cur_counts`` are aligned over the union of values.  A value
    unseen in the reference has zero expectation, giving an infinite statistic
    and p=0, as SciPy/Evidently do.
    """
    ref = np.asarray(ref_counts, dtype=np.float64)
    obs = np.asarray(cur_counts, dtype=np.float64)
    expected = ref * (obs.sum() / ref.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (obs - expected) ** 2 / expected
    terms = np.where((obs == expected), 0.0, terms)
    stat = float(terms.sum())
    dof = max(obs.size - 1, 1)
    return ChiSquareResult(statistic=stat, p_value=float(_st.chi2.sf(stat, dof)))


def chi2_homogeneity_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> ChiSquareResult:
    """Two-sample chi-square test of homogeneity on a 2 x k contingency table.

    Unlike Evidently's ``chisquare`` (goodness of fit against reference
    frequencies taken as exact), this accounts for the reference being a sample
    too, so its false-alarm rate is the nominal level.  Equals
    ``scipy.stats.chi2_contingency(table, correction=False)``.
    """
    table = np.vstack([np.asarray(ref_counts, dtype=np.float64), np.asarray(cur_counts, dtype=np.float64)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return ChiSquareResult(statistic=0.0, p_value=1.0)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    stat = float(((table - expected) ** 2 / expected).sum())
    return ChiSquareResult(statistic=stat, p_value=float(_st.chi2.sf(stat, table.shape[1] - 1)))


def z_test_from_counts(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Two-proportion z-test for a binary column; returns ``(z, p_value)``.

    Counts are aligned over the *sorted* union of values; the first value is
    "0" and everything else "1", as in Evidently's ``z_stattest``.
    """
    ref = np.asarray(ref_counts, dtype=np.float64)
    cur = np.asarray(cur_counts, dtype=np.float64)
    n1, n2 = ref.sum(), cur.sum()
    if np.count_nonzero(ref) == 1 and np.count_nonzero(cur) == 1 and np.argmax(ref) == np.argmax(cur):
        return 0.0, 1.0
    p1 = (n1 - ref[0]) / n1
    p2 = (n2 - cur[0]) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    # Evidently computes 2*(1-cdf) rather than 2*sf; keep it for equal scores.
    return float(z), float(2 * (1 - _st.norm.cdf(np.abs(z))))
