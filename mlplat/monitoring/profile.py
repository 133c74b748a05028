"""Compact, JSON-serialisable reference profiles for drift checks.

Why: a drift check must run long after training without the training data.
A profile keeps, per feature, exactly what the drift statistics in
:mod:`mlplat.monitoring.stats` need:

* numeric: counts, null share, moments, min/max, number of unique values, a
  **sorted sample** (the exact sorted values when the reference has at most
  ``exact_rows`` valid values, otherwise ``n_quantiles`` equal-weight block
  medians — an ECDF accurate to ``1/n_quantiles``), exact value counts when the
  column has <= 20 distinct values (Evidently then bins per value), and a
  reference-quantile histogram used for plots;
* categorical: counts per category (keys are ``str``), null share.

Nulls are NaN/None and also ±inf, which Evidently drops before testing.
Everything returned by :func:`build_profile` is plain ``dict``/``list``/
``float``/``int``/``str``/``None`` so ``json.dumps`` works without a custom
encoder; :func:`numeric_summary` / :func:`categorical_summary` are the shared
per-column builders; exact mode calls ``numeric_summary(..., as_json=False)`` to keep numpy
arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "PROFILE_FORMAT",
    "PROFILE_VERSION",
    "build_profile",
    "categorical_summary",
    "categorical_counts",
    "clean_numeric",
    "numeric_summary",
    "prediction_frame",
    "prediction_kind",
    "profile_predictions",
]

PROFILE_FORMAT = "mlplat.drift-profile"
PROFILE_VERSION = 1
# Evidently bins numeric columns per value when the reference has <= 20 uniques.
VALUE_COUNTS_MAX_UNIQUE = 20


def clean_numeric(series: pd.Series) -> tuple[np.ndarray | None, int, str | None]:
    """Return ``(finite float64 values, n_null, error)`` for a numeric column.

    Strings that do not parse as numbers are an *error* (not silently nulled),
    because a type change upstream is itself something to surface.
    """
    if pd.api.types.is_bool_dtype(series.dtype):
        arr = series.to_numpy(dtype=np.float64, na_value=np.nan)
    elif pd.api.types.is_numeric_dtype(series.dtype):
        arr = series.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        coerced = pd.to_numeric(series, errors="coerce")
        bad = coerced.isna() & series.notna()
        n_bad = int(bad.sum())
        if n_bad:
            example = repr(series[bad].iloc[0])
            return None, 0, f"{n_bad} non-numeric value(s) in numeric column (e.g. {example})"
        arr = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(arr)
    n_null = int(arr.size - np.count_nonzero(finite))
    values = arr if n_null == 0 else arr[finite]
    return values, n_null, None


def categorical_counts(series: pd.Series) -> tuple[pd.Series, int]:
    """Return ``(counts per category as str, most frequent first; n_null)``.

    Counting happens on the raw values and only the distinct keys are turned
    into ``str`` (JSON keys must be strings): converting a million-row object
    column to ``str`` first would dominate the check's run time.
    """
    counts = series.value_counts(dropna=True, sort=False)
    if counts.index.dtype.kind == "f":
        counts = counts[np.isfinite(counts.index.to_numpy(dtype=np.float64))]
    keys = counts.index.astype(str)
    if keys.has_duplicates:  # e.g. 1 and "1" in an object column
        counts = counts.groupby(keys).sum()
    else:
        counts.index = keys
    counts = counts.sort_values(ascending=False, kind="stable")
    n_null = int(series.size - counts.sum())
    return counts, n_null


def _count_unique_sorted(sorted_values: np.ndarray) -> int:
    if sorted_values.size == 0:
        return 0
    return int(np.count_nonzero(np.diff(sorted_values)) + 1)


def _sketch(sorted_values: np.ndarray, n_quantiles: int, exact_rows: int) -> tuple[np.ndarray, bool]:
    """Exact sorted values for small references, block medians otherwise.

    Block medians (point ``k`` at rank ``(k+0.5)n/K``) minimise the Wasserstein
    error of a K-point equal-weight summary and keep the ECDF within ``1/K``.
    """
    n = sorted_values.size
    if n <= max(exact_rows, n_quantiles):
        return sorted_values, True
    ranks = ((np.arange(n_quantiles) + 0.5) * (n / n_quantiles)).astype(np.int64)
    return sorted_values[np.minimum(ranks, n - 1)], False


def value_counts_sorted(sorted_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of a sorted array and how often each occurs (the drift check's too)."""
    starts = np.flatnonzero(np.concatenate([[True], np.diff(sorted_values) != 0]))
    counts = np.diff(np.append(starts, sorted_values.size))
    return sorted_values[starts], counts


def _quantile_histogram(sorted_values: np.ndarray, max_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Bins at reference quantiles (equal mass), merged where values tie."""
    probs = np.linspace(0.0, 1.0, max_bins + 1)
    edges = np.unique(np.quantile(sorted_values, probs))
    if edges.size < 2:
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    left = np.searchsorted(sorted_values, edges[:-1], side="left")
    end = np.searchsorted(sorted_values, edges[-1:], side="right")
    counts = np.diff(np.concatenate([left, end]))
    return edges, counts


def numeric_summary(
    series: pd.Series,
    *,
    n_quantiles: int = 2000,
    exact_rows: int = 5000,
    max_bins: int = 20,
    as_json: bool = True,
) -> dict[str, Any]:
    """Profile one numeric column (see module docstring for the fields)."""
    values, n_null, error = clean_numeric(series)
    n = int(series.size)
    if error is not None or values is None:
        return {"kind": "numeric", "n": n, "error": error}
    values = np.sort(values)
    n_valid = int(values.size)
    out: dict[str, Any] = {
        "kind": "numeric",
        "n": n,
        "n_valid": n_valid,
        "null_share": (n_null / n) if n else 0.0,
        "error": None if n_valid else "reference column has no non-null values",
    }
    if not n_valid:
        return out
    sample, exact = _sketch(values, n_quantiles, exact_rows)
    n_unique = _count_unique_sorted(values)
    vc = value_counts_sorted(values) if n_unique <= VALUE_COUNTS_MAX_UNIQUE else None
    edges, counts = _quantile_histogram(values, max_bins)
    conv = (lambda a: a.tolist()) if as_json else (lambda a: a)
    out.update(
        mean=float(values.mean()),
        std=float(values.std()),
        min=float(values[0]),
        max=float(values[-1]),
        n_unique=n_unique,
        sample=conv(sample),
        sample_exact=exact,
        value_counts=None if vc is None else {"values": conv(vc[0]), "counts": conv(vc[1])},
        histogram={"edges": conv(edges), "counts": conv(counts)},
    )
    return out


def categorical_summary(series: pd.Series) -> dict[str, Any]:
    """Profile one categorical column: per-category counts (most frequent first)."""
    counts, n_null = categorical_counts(series)
    n = int(series.size)
    n_valid = int(counts.sum())
    return {
        "kind": "categorical",
        "n": n,
        "n_valid": n_valid,
        "null_share": (n_null / n) if n else 0.0,
        "n_unique": int(counts.size),
        "counts": {str(k): int(v) for k, v in counts.items()},
        "error": None if n_valid else "reference column has no non-null values",
    }


def prediction_frame(predictions: np.ndarray | pd.Series | pd.DataFrame) -> pd.DataFrame:
    if isinstance(predictions, pd.DataFrame):
        return predictions.reset_index(drop=True)
    if isinstance(predictions, pd.Series):
        return predictions.reset_index(drop=True).to_frame(name="prediction")
    arr = np.asarray(predictions)
    if arr.ndim == 1:
        return pd.DataFrame({"prediction": arr})
    return pd.DataFrame(arr, columns=[f"prediction_{i}" for i in range(arr.shape[1])])


def prediction_kind(series: pd.Series) -> str:
    """Floats → numeric (regression/probabilities); labels → categorical.

    Integers count as class labels when they take at most 20 distinct values.
    """
    dtype = series.dtype
    if pd.api.types.is_float_dtype(dtype):
        return "numeric"
    if pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return "categorical" if series.nunique() <= VALUE_COUNTS_MAX_UNIQUE else "numeric"
    return "categorical"


def profile_predictions(
    predictions: np.ndarray | pd.Series | pd.DataFrame,
    *,
    n_quantiles: int = 2000,
    exact_rows: int = 5000,
    max_bins: int = 20,
    as_json: bool = True,
) -> dict[str, dict[str, Any]]:
    """Profile model outputs column by column with the feature machinery."""
    frame = prediction_frame(predictions)
    out: dict[str, dict[str, Any]] = {}
    for name in frame.columns:
        col = frame[name]
        if prediction_kind(col) == "numeric":
            out[str(name)] = numeric_summary(
                col, n_quantiles=n_quantiles, exact_rows=exact_rows, max_bins=max_bins, as_json=as_json
            )
        else:
            out[str(name)] = categorical_summary(col)
    return out


def build_profile(
    df: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    predictions: np.ndarray | pd.Series | pd.DataFrame | None = None,
    max_bins: int = 20,
    n_quantiles: int = 2000,
    exact_rows: int = 5000,
) -> dict[str, Any]:
    """Build a JSON-serialisable reference profile of ``df`` (and predictions).

    ``n_quantiles`` is the sketch size used when a numeric column has more than
    ``exact_rows`` valid values (default 2000 points ≈ 40 kB of JSON per
    column); below that the exact sorted values are stored so small-reference
    checks are exact.  Columns listed but absent from ``df`` are recorded with
    an ``error`` so the later check reports them instead of failing.
    """
    features: dict[str, dict[str, Any]] = {}
    for name in numeric:
        if name not in df.columns:
            features[name] = {"kind": "numeric", "n": 0, "error": "column missing from reference data"}
            continue
        features[name] = numeric_summary(
            df[name], n_quantiles=n_quantiles, exact_rows=exact_rows, max_bins=max_bins
        )
    for name in categorical:
        if name not in df.columns:
            features[name] = {"kind": "categorical", "n": 0, "error": "column missing from reference data"}
            continue
        features[name] = categorical_summary(df[name])
    preds = None
    if predictions is not None:
        preds = profile_predictions(
            predictions, n_quantiles=n_quantiles, exact_rows=exact_rows, max_bins=max_bins
        )
    return {
        "format": PROFILE_FORMAT,
        "version": PROFILE_VERSION,
        "n_rows": int(len(df)),
        "features": features,
        "predictions": preds,
    }
