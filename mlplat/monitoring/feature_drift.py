"""One feature's drift: choose the test, score reference vs current, decide ok/warn/drift/error.

Vectorised per column (numpy/scipy through mlplat.monitoring.stats); mlplat.monitoring.drift runs
these over every feature and the predictions and aggregates the dataset-level verdict.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as _st

from mlplat.monitoring import stats
from mlplat.monitoring.profile import (
    VALUE_COUNTS_MAX_UNIQUE,
    categorical_counts,
    clean_numeric,
    value_counts_sorted,
)

P_VALUE_METHODS = frozenset({"ks", "chisquare", "chi2", "z"})


DISTANCE_METHODS = frozenset({"wasserstein", "psi", "jensenshannon"})


NUMERIC_METHODS = frozenset({"ks", "wasserstein", "psi", "jensenshannon", "chisquare", "chi2", "z"})


CATEGORICAL_METHODS = frozenset({"psi", "jensenshannon", "chisquare", "chi2", "z"})


DEFAULT_THRESHOLDS = {
    "ks": 0.05,
    "chisquare": 0.05,
    "chi2": 0.05,
    "z": 0.05,
    "wasserstein": 0.1,
    "psi": 0.1,
    "jensenshannon": 0.1,
}


@dataclass
class FeatureDrift:
    """Outcome for one column.

    ``score`` is the value compared with ``threshold``: the p-value for
    ``ks``/``chisquare``/``z``, the distance otherwise (Evidently's
    ``drift_score``).  ``statistic`` is the test statistic (KS D, chi², z) or
    the distance.
    """

    name: str
    kind: str
    status: str
    reason: str
    method: str | None = None
    score: float | None = None
    statistic: float | None = None
    p_value: float | None = None
    # the p-value after Benjamini-Hochberg over every p-value test of the check (None: not adjusted)
    p_adjusted: float | None = None
    threshold: float | None = None
    drifted: bool = False
    n_ref: int | None = None
    n_cur: int | None = None
    null_share_ref: float | None = None
    null_share_cur: float | None = None
    null_share_change: float | None = None
    unseen_categories: list[str] = field(default_factory=list)
    unseen_share: float = 0.0
    plot: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN/inf scores become None)."""
        out = asdict(self)
        for key in ("score", "statistic", "p_value", "p_adjusted"):
            val = out[key]
            if val is not None and not math.isfinite(val):
                out[key] = None if math.isnan(val) else (1e308 if val > 0 else -1e308)
        return out


def _requested(cfg: dict[str, Any], override: dict[str, Any], kind: str) -> tuple[str | None, float | None]:
    """Method/threshold explicitly requested for a column (None = automatic)."""
    prefix = "num" if kind == "numeric" else "cat"
    method = override.get("method") or cfg[f"{prefix}_method"] or cfg["method"]
    threshold = override.get("threshold")
    if threshold is None:
        threshold = cfg[f"{prefix}_threshold"]
    if threshold is None:
        threshold = cfg["threshold"]
    return method, threshold


def _auto_method(kind: str, n_ref: int, n_values: int, small_rows: int, n_cur: int | None = None) -> str:
    """Evidently 0.7's default test for a column (see module docstring), by the smaller sample.

    Evidently looks at the reference's size only; a distance with a fixed threshold then
    measures a small current batch's sampling noise (normed Wasserstein of 200 rows drawn
    from the reference itself is often >= 0.1), so a p-value test is used while either side
    is small.
    """
    n_small = n_ref if n_cur is None else min(n_ref, n_cur)
    if n_small <= small_rows:
        if kind == "numeric" and n_values > 5:
            return "ks"
        return "chi2" if n_values > 2 else "z"
    if kind == "numeric" and n_values > 5:
        return "wasserstein"
    return "jensenshannon"


def _error(name: str, kind: str, reason: str, **extra: Any) -> FeatureDrift:
    return FeatureDrift(name=name, kind=kind, status="error", reason=reason, **extra)


def _align_counts(
    ref_keys: np.ndarray, ref_counts: np.ndarray, cur_keys: np.ndarray, cur_counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of both samples over the sorted union of keys (0 where absent)."""
    keys = np.union1d(ref_keys, cur_keys)
    ref_full = np.zeros(keys.size, dtype=np.float64)
    cur_full = np.zeros(keys.size, dtype=np.float64)
    ref_full[np.searchsorted(keys, ref_keys)] = ref_counts
    cur_full[np.searchsorted(keys, cur_keys)] = cur_counts
    return keys, ref_full, cur_full


def _null_shift(ref_share: float, n_ref: int, cur_share: float, n_cur: int) -> float:
    """Two-proportion z-test p-value for a change in null share."""
    if n_ref == 0 or n_cur == 0 or ref_share == cur_share:
        return 1.0
    pooled = (ref_share * n_ref + cur_share * n_cur) / (n_ref + n_cur)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
    if se == 0:
        return 1.0
    return float(2 * _st.norm.sf(abs(ref_share - cur_share) / se))


@dataclass
class _Scored:
    method: str
    score: float
    statistic: float
    p_value: float | None


def _score_counts(method: str, keys_ref: np.ndarray, keys_cur: np.ndarray, n_ref: int, n_cur: int) -> _Scored:
    """Score aligned per-value counts (categorical, or numeric with few values)."""
    ref_pct, cur_pct = keys_ref / n_ref, keys_cur / n_cur
    if method in ("chisquare", "chi2"):
        test = stats.chisquare_from_counts if method == "chisquare" else stats.chi2_homogeneity_from_counts
        res = test(keys_ref, keys_cur)
        return _Scored(method, res.p_value, res.statistic, res.p_value)
    if method == "z":
        z, p = stats.z_test_from_counts(keys_ref, keys_cur)
        return _Scored(method, p, z, p)
    if method == "psi":
        val = stats.psi_from_percents(ref_pct, cur_pct)
    else:
        val = stats.jensenshannon_from_percents(ref_pct, cur_pct)
    return _Scored(method, val, val, None)


def _verdict(feat: FeatureDrift, cfg: dict[str, Any]) -> None:
    """Set drifted/status/reason from the score, null shift and unseen values."""
    ratio = float(cfg["warn_ratio"])
    thr = float(feat.threshold or 0.0)
    score = float(feat.score if feat.score is not None else math.nan)
    reasons: list[str] = []
    warn = False
    if feat.method in P_VALUE_METHODS:
        feat.drifted = bool(score <= thr) if feat.method == "ks" else bool(score < thr)
        warn = score <= thr / ratio if ratio > 0 else False
        op = (
            ("<=" if feat.method == "ks" else "<") if feat.drifted else (">" if feat.method == "ks" else ">=")
        )
        if feat.p_adjusted is not None:
            raw = float(feat.p_value if feat.p_value is not None else math.nan)
            reasons.append(f"{feat.method} p={raw:.4g}, BH-adjusted {score:.4g} {op} {thr:g}")
        else:
            reasons.append(f"{feat.method} p={score:.4g} {op} {thr:g}")
    else:
        feat.drifted = bool(score >= thr)
        warn = score >= thr * ratio
        op = ">=" if feat.drifted else "<"
        reasons.append(f"{feat.method}={score:.4g} {op} {thr:g}")
    drift = feat.drifted
    drift, warn = _null_verdict(feat, cfg, reasons, drift, warn)
    if feat.unseen_categories:
        warn = True
        reasons.append(f"{len(feat.unseen_categories)} unseen categor(ies), {feat.unseen_share:.1%} of rows")
        if feat.unseen_share >= float(cfg["unseen_share_threshold"]):
            drift = True
    feat.status = "drift" if drift else ("warn" if warn else "ok")
    feat.reason = "; ".join(reasons)


def adjust_for_multiple_tests(columns: list[FeatureDrift], cfg: dict[str, Any]) -> int:
    """Benjamini-Hochberg over the p-value tests of one check; each verdict is redone on its adjusted p.

    One check tests every feature and the predictions at once: at 5% each, a 30-feature
    check on undrifted data finds some "drifted" column most of the time. Adjusting the
    p-values (scipy.stats.false_discovery_control) keeps the share of false findings among
    the columns flagged at the threshold, and the chance of any false finding on undrifted
    data at about the threshold. Returns the number of tests adjusted.
    """
    tested = [f for f in columns if f.status != "error" and f.method in P_VALUE_METHODS
              and f.p_value is not None and math.isfinite(f.p_value)]
    if len(tested) < 2:
        return len(tested)
    adjusted = _st.false_discovery_control(np.array([f.p_value for f in tested], dtype=np.float64), method="bh")
    for feat, p in zip(tested, adjusted, strict=True):
        feat.p_adjusted = float(p)
        feat.score = float(p)
        _verdict(feat, cfg)
    return len(tested)


def _null_verdict(
    feat: FeatureDrift, cfg: dict[str, Any], reasons: list[str], drift: bool, warn: bool
) -> tuple[bool, bool]:
    if feat.null_share_ref is None or feat.null_share_cur is None:
        return drift, warn
    change = feat.null_share_cur - feat.null_share_ref
    feat.null_share_change = change
    n_ref = int(feat.n_ref or 0)
    n_cur = int(feat.n_cur or 0)
    p = _null_shift(feat.null_share_ref, n_ref, feat.null_share_cur, n_cur)
    thr = float(cfg["null_share_threshold"])
    significant = p < float(cfg["null_share_alpha"])
    if significant and abs(change) >= thr * float(cfg["warn_ratio"]):
        warn = True
        reasons.append(f"null share {feat.null_share_ref:.1%} -> {feat.null_share_cur:.1%}")
        drift = drift or abs(change) >= thr
    return drift, warn


def _ref_arrays(ref: dict[str, Any]) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    sample = np.asarray(ref["sample"], dtype=np.float64)
    vc = ref.get("value_counts")
    if vc is None:
        return sample, None, None
    return sample, np.asarray(vc["values"], dtype=np.float64), np.asarray(vc["counts"], dtype=np.float64)


def _numeric_score(
    method: str,
    ref: dict[str, Any],
    sample: np.ndarray,
    vc: tuple[np.ndarray, np.ndarray] | None,
    cur_sorted: np.ndarray,
    cur_vc: tuple[np.ndarray, np.ndarray] | None,
) -> _Scored:
    n_ref = int(ref["n_valid"])
    if method == "ks":
        res = stats.ks_2samp_sorted(sample, cur_sorted, n_ref=n_ref)
        return _Scored(method, res.p_value, res.statistic, res.p_value)
    if method == "wasserstein":
        norm = max(float(ref["std"]), 0.001)
        val = stats.wasserstein_sorted(sample, cur_sorted) / norm
        return _Scored(method, val, val, None)
    if method in ("psi", "jensenshannon") and int(ref["n_unique"]) > 20:
        lo = min(float(ref["min"]), float(cur_sorted[0]))
        hi = max(float(ref["max"]), float(cur_sorted[-1]))
        edges = stats.sturges_edges(lo, hi, n_ref + cur_sorted.size)
        ref_pct = stats.weighted_bin_percents(sample, edges)
        cur_pct = stats.weighted_bin_percents(cur_sorted, edges)
        if method == "psi":
            val = stats.psi_from_percents(ref_pct, cur_pct)
        else:
            val = stats.jensenshannon_from_percents(ref_pct, cur_pct)
        return _Scored(method, val, val, None)
    if vc is None:
        raise ValueError(f"method {method!r} needs a column with <= 20 distinct reference values")
    cur_keys, cur_counts = cur_vc
    _, ref_full, cur_full = _align_counts(vc[0], vc[1], cur_keys, cur_counts.astype(np.float64))
    return _score_counts(method, ref_full, cur_full, n_ref, cur_sorted.size)


PLOT_BINS = 20


def _value_label(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.4g}"


def _numeric_plot(ref: dict[str, Any], sample: np.ndarray, vc: tuple[np.ndarray, np.ndarray] | None,
                  cur_sorted: np.ndarray, cur_vc: tuple[np.ndarray, np.ndarray] | None) -> dict[str, Any]:
    """The reference and current shares a report draws for one numeric column.

    A column with few distinct reference values (0/1 flags, counts, codes: the reference keeps
    their exact counts) is drawn per value, like a category. Otherwise both sides share
    fixed-width bins over the reference's range (current values outside it fall in the end
    bins), so each bar's height is the data's density: on the reference's quantile bins every
    reference bar would be the same height and say nothing. The reference's shares come from
    its sketch (exact below 5,000 rows, else within 1/2,000 of the truth)."""
    if vc is not None and np.union1d(vc[0], cur_vc[0]).size <= 2 * VALUE_COUNTS_MAX_UNIQUE:
        keys, ref_full, cur_full = _align_counts(vc[0], vc[1], cur_vc[0], cur_vc[1].astype(np.float64))
        return {"type": "bar", "labels": [_value_label(k) for k in keys],
                "ref": (ref_full / max(ref_full.sum(), 1.0)).tolist(),
                "cur": (cur_full / max(cur_full.sum(), 1.0)).tolist()}
    lo, hi = float(ref["min"]), float(ref["max"])
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, PLOT_BINS + 1)
    return {
        "type": "hist",
        "edges": edges.tolist(),
        "ref": stats.clipped_bin_percents(sample, edges).tolist(),
        "cur": stats.clipped_bin_percents(cur_sorted, edges).tolist(),
    }


# a whole-number column whose range is at most this share of its length is counted, not sorted
COUNT_SORT_RANGE_SHARE = 0.25


def _sorted_current(cur: pd.Series) -> tuple[np.ndarray | None, int, str | None, tuple | None]:
    """``(sorted finite float64 values, n_null, error, (distinct values, counts) or None)``.

    A window of a busy service is millions of rows, so this is where a check spends its
    time and memory. A plain integer column in a small range (tenure in months, a count of
    calls) is counted with one ``bincount`` and the sorted array written from the counts: the
    same array ``np.sort`` gives, in one pass, with its value counts for free. Otherwise the
    values are sorted in place when ``clean_numeric`` made a private copy of them.
    """
    plain = isinstance(cur.dtype, np.dtype)  # numpy-backed: nullable Int64 and the like take the general path
    raw = cur.to_numpy() if plain and cur.dtype.kind in "iu" else None
    if raw is not None and raw.size:
        lo, hi = int(raw.min()), int(raw.max())
        if hi - lo <= max(COUNT_SORT_RANGE_SHARE * raw.size, 1) and max(abs(lo), abs(hi)) < 2**53:
            counts = np.bincount((raw - lo if lo else raw).astype(np.intp, copy=False), minlength=hi - lo + 1)
            values = np.arange(lo, hi + 1, dtype=np.float64)
            present = counts > 0
            return np.repeat(values, counts), 0, None, (values[present], counts[present])
    values, n_null, err = clean_numeric(cur)
    if err is not None or values is None:
        return None, n_null, err, None
    if values.flags.writeable and not (plain and np.shares_memory(values, cur.to_numpy())):
        values.sort()  # a private copy: no second array
    else:  # never sort the caller's column in place
        values = np.sort(values)
    return values, n_null, None, None


def _check_numeric(name: str, ref: dict[str, Any], cur: pd.Series, cfg: dict[str, Any]) -> FeatureDrift:
    base = {"n_ref": ref.get("n"), "null_share_ref": ref.get("null_share")}
    cur_sorted, n_null, err, counted = _sorted_current(cur)
    if err is not None or cur_sorted is None:
        return _error(name, "numeric", err or "invalid current column", **base)
    n_cur = int(cur.size)
    base.update(n_cur=n_cur, null_share_cur=(n_null / n_cur) if n_cur else None)
    if cur_sorted.size == 0:
        reason = "current data is empty" if n_cur == 0 else "current column has no non-null values"
        return _error(name, "numeric", reason, **base)
    sample, vc_vals, vc_counts = _ref_arrays(ref)
    vc = None if vc_vals is None else (vc_vals, vc_counts)
    cur_vc = counted if counted is not None or vc is None else value_counts_sorted(cur_sorted)
    method, threshold = _requested(cfg, cfg["features"].get(name) or {}, "numeric")
    if method is None:
        n_values = int(ref["n_unique"])
        if vc is not None:
            n_values = int(np.union1d(vc[0], cur_vc[0]).size)
        method = _auto_method("numeric", int(ref["n_valid"]), n_values, int(cfg["small_reference_rows"]),
                              int(cur_sorted.size))
    if method not in NUMERIC_METHODS:
        return _error(name, "numeric", f"unknown method {method!r} for numeric column", **base)
    scored = _numeric_score(method, ref, sample, vc, cur_sorted, cur_vc)
    plot = _numeric_plot(ref, sample, vc, cur_sorted, cur_vc)
    feat = _scored_feature(name, "numeric", method, scored, threshold, plot=plot, **base)
    _verdict(feat, cfg)
    return feat


def _scored_feature(name: str, kind: str, method: str, scored: _Scored, threshold: float | None,
                    **extra: Any) -> FeatureDrift:
    """A scored feature before its verdict (status set by ``_verdict``)."""
    return FeatureDrift(name=name, kind=kind, status="ok", reason="", method=method, score=scored.score,
                        statistic=scored.statistic, p_value=scored.p_value,
                        threshold=float(threshold if threshold is not None else DEFAULT_THRESHOLDS[method]), **extra)


def _categorical_plot(keys: np.ndarray, ref_pct: np.ndarray, cur_pct: np.ndarray, top: int) -> dict[str, Any]:
    order = np.argsort(-np.maximum(ref_pct, cur_pct), kind="stable")
    shown = order[:top]
    labels = [str(k) for k in keys[shown]]
    ref_vals, cur_vals = ref_pct[shown].tolist(), cur_pct[shown].tolist()
    if order.size > top:
        rest = order[top:]
        labels.append(f"other ({rest.size})")
        ref_vals.append(float(ref_pct[rest].sum()))
        cur_vals.append(float(cur_pct[rest].sum()))
    return {"type": "bar", "labels": labels, "ref": ref_vals, "cur": cur_vals}


def _check_categorical(name: str, ref: dict[str, Any], cur: pd.Series, cfg: dict[str, Any]) -> FeatureDrift:
    base: dict[str, Any] = {"n_ref": ref.get("n"), "null_share_ref": ref.get("null_share")}
    cur_vc, n_null = categorical_counts(cur)
    cur_vc = cur_vc[cur_vc > 0]  # a categorical's unused categories were not seen
    n_valid = int(cur_vc.sum())
    n_cur = int(cur.size)
    base.update(n_cur=n_cur, null_share_cur=(n_null / n_cur) if n_cur else None)
    if n_valid == 0:
        reason = "current data is empty" if n_cur == 0 else "current column has no non-null values"
        return _error(name, "categorical", reason, **base)
    ref_map: dict[str, int] = ref["counts"]
    ref_keys = np.array(list(ref_map.keys()), dtype=object)
    cur_keys = cur_vc.index.to_numpy(dtype=object)
    keys = np.array(sorted(set(ref_map) | set(cur_vc.index)), dtype=object)
    ref_full = pd.Series(ref_map, dtype=np.float64).reindex(keys, fill_value=0.0).to_numpy()
    cur_full = cur_vc.astype(np.float64).reindex(keys, fill_value=0.0).to_numpy()
    unseen_mask = ~np.isin(cur_keys, ref_keys)
    unseen = [str(k) for k in cur_keys[unseen_mask]]
    unseen_share = float(cur_vc.to_numpy()[unseen_mask].sum() / n_valid)
    method, threshold = _requested(cfg, cfg["features"].get(name) or {}, "categorical")
    if method is None:
        method = _auto_method("categorical", int(ref["n_valid"]), keys.size, int(cfg["small_reference_rows"]),
                              n_valid)
    if method not in CATEGORICAL_METHODS:
        return _error(name, "categorical", f"method {method!r} is not valid for a categorical column", **base)
    n_ref_valid = int(ref["n_valid"])
    scored = _score_counts(method, ref_full, cur_full, n_ref_valid, n_valid)
    feat = _scored_feature(
        name, "categorical", method, scored, threshold, unseen_categories=unseen[:50], unseen_share=unseen_share,
        plot=_categorical_plot(keys, ref_full / n_ref_valid, cur_full / n_valid, int(cfg["plot_categories"])), **base,
    )
    if len(unseen) > 50:
        feat.reason = f"{len(unseen)} unseen categories (first 50 listed)"
    _verdict(feat, cfg)
    return feat
