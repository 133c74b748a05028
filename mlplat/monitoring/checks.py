"""Performance and latency checks, and the helpers the drift operation shares.

Pure functions over DataFrames (no store, no config composition): ``mlplat.ops.monitoring``
gathers the inputs (registered version, prediction log, files) and records the outcome.
Statuses: performance ``ok | warn | degraded | error`` per metric, latency
``ok | warn | breach | error`` per percentile; the overall status is the worst one, and
``error`` overall only when nothing could be computed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlplat.errors import MonitoringError
from mlplat.evaluation.metrics import METRICS

SEVERITY = {"drift": 0, "degraded": 0, "breach": 0, "error": 1, "warn": 2, "ok": 3}
FILE_SUFFIXES = (".csv", ".parquet", ".pq")


def read_table(path: str | Path, role: str) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame; one clear line when it cannot be read."""
    p = Path(path)
    if p.suffix.lower() not in FILE_SUFFIXES:
        raise MonitoringError(f"{role} file {str(p)!r} has suffix {p.suffix or '(none)'!r}: expected .csv or .parquet")
    if not p.is_file():
        raise MonitoringError(f"{role} file {str(p)!r} not found; check the path")
    try:
        if p.suffix.lower() == ".csv":
            return pd.read_csv(p)
        return pd.read_parquet(p)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except Exception as exc:  # pandas/pyarrow raise many unrelated types for a bad file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MonitoringError(f"{role} file {str(p)!r} is not readable as {p.suffix.lstrip('.')}: {first}") from exc


def severity(feature: dict[str, Any]) -> tuple[int, float]:
    """Sort key, worst first: status, then how far past its threshold the score is."""
    rank = SEVERITY.get(str(feature.get("status")), 4)
    score, thr = feature.get("score"), feature.get("threshold")
    if score is None or not thr:
        return rank, 0.0
    if feature.get("p_value") is not None:  # p-value: smaller is worse
        return rank, -float(thr) / max(float(score), 1e-300)
    return rank, -float(score) / float(thr)


def worst_first(features: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(({**v, "name": k} for k, v in features.items()), key=lambda f: (severity(f), f["name"]))


def overall(statuses: list[str], alarm: str) -> str:
    """Worst status of a check whose alarm status is ``alarm``; error only if every part errored."""
    if not statuses or all(s == "error" for s in statuses):
        return "error"
    if alarm in statuses:
        return alarm
    return "warn" if any(s in ("warn", "error") for s in statuses) else "ok"


# ----------------------------------------------------------------------------- performance
def _coerce_labels(labels: pd.Series, classes: list[Any] | None) -> pd.Series:
    """Labels read from a file typed like the model's classes (CSV gives ints for '1', str for 'yes')."""
    if not classes:
        return pd.to_numeric(labels, errors="coerce")
    lookup = {str(c): c for c in classes}
    return labels.map(lambda v: lookup.get(str(v).removesuffix(".0") if isinstance(v, float) else str(v), v))


def performance(y_true: pd.Series, pred: pd.Series, proba: pd.DataFrame | None, *, task: str,
                classes: list[Any] | None, reference: dict[str, float], tolerance: dict[str, float],
                warn_ratio: float, min_rows: int) -> dict[str, Any]:
    """Each reference metric recomputed on labelled predictions and compared with its tolerance."""
    y = _coerce_labels(y_true.reset_index(drop=True), classes if task == "classification" else None)
    pred = pred.reset_index(drop=True)
    notes: list[str] = []
    valid = y.notna().to_numpy()
    if task == "classification" and classes:
        unknown = sorted({str(v) for v in y[valid] if v not in classes})
        if unknown:
            notes.append(f"labels {unknown[:5]} are not classes of the model ({classes}); those rows were dropped")
            valid &= y.isin(classes).to_numpy()
    dropped = int((~valid).sum())
    if dropped:
        notes.append(f"{dropped} row(s) without a usable label were dropped")
    y, pred = y[valid].reset_index(drop=True), pred[valid].reset_index(drop=True)
    proba_arr = proba.to_numpy(dtype=np.float64)[valid] if proba is not None else None
    n = len(y)
    labels = np.asarray(classes) if classes else None
    metrics: dict[str, dict[str, Any]] = {}
    for name, ref in sorted(reference.items()):
        m = METRICS.get(name)
        entry: dict[str, Any] = {"reference": ref, "current": None, "change": None, "tolerance": None}
        if m is None:  # e.g. a scikit-learn scorer: it scores a model, and the log holds predictions
            metrics[name] = {**entry, "status": "error",
                             "reason": f"metric {name!r} is not recomputed from logged predictions (only "
                                       f"{', '.join(METRICS)} are)"}
            continue
        tol = float(tolerance.get(name, tolerance.get("default", 0.05)))
        entry["tolerance"] = tol
        if n == 0:
            metrics[name] = {**entry, "status": "error", "reason": "no labelled predictions"}
            continue
        if m.needs == "proba" and proba_arr is None:
            metrics[name] = {**entry, "status": "error", "reason": "needs class probabilities, which were not logged"}
            continue
        try:
            value = float(m.fn(y.to_numpy(), pred.to_numpy(), proba_arr, labels))
        except ValueError as exc:  # e.g. roc_auc when the labelled rows hold one class only
            metrics[name] = {**entry, "status": "error", "reason": str(exc).splitlines()[0]}
            continue
        if not math.isfinite(value):
            metrics[name] = {**entry, "status": "error", "reason": f"{name} is {value} on these rows"}
            continue
        drop = (ref - value) if m.greater_is_better else (value - ref)
        status = "degraded" if drop > tol else ("warn" if drop > tol * warn_ratio else "ok")
        if n < min_rows and status == "degraded":
            status = "warn"
        reason = (f"{name} {value:.4g} vs reference {ref:.4g}: "
                  f"{'drop' if drop > 0 else 'gain'} {abs(drop):.4g} {'>' if drop > tol else '<='} tolerance {tol:g}")
        metrics[name] = {**entry, "current": value, "change": value - ref, "drop": drop, "status": status,
                         "reason": reason}
    if 0 < n < min_rows:
        notes.append(f"only {n} labelled row(s) (performance.min_rows={min_rows}): a drop is reported as warn")
    status = overall([v["status"] for v in metrics.values()], "degraded")
    return {"status": status, "n_rows": n, "metrics": metrics, "notes": notes}


# ----------------------------------------------------------------------------- latency
PERCENTILES = {"p50_ms": 50, "p95_ms": 95, "p99_ms": 99}


def latency(log: pd.DataFrame, *, slo: dict[str, float | None], warn_ratio: float,
            min_requests: int) -> dict[str, Any]:
    """Request latency percentiles from prediction-log rows, each compared with its objective.

    The log has one row per predicted row with the whole request's latency repeated, so
    requests are counted once (a 100-row request is one observation, not a hundred).
    """
    notes: list[str] = []
    if log.empty or "latency_ms" not in log.columns:
        return {"status": "error", "n_requests": 0, "percentiles": {},
                "notes": ["no logged requests in the window"]}
    per_request = log.drop_duplicates("request_id") if "request_id" in log.columns else log
    values = pd.to_numeric(per_request["latency_ms"], errors="coerce").to_numpy(dtype=np.float64)
    values = values[np.isfinite(values)]
    n = int(values.size)
    if n == 0:
        return {"status": "error", "n_requests": 0, "percentiles": {}, "notes": ["no latency values in the window"]}
    pct: dict[str, dict[str, Any]] = {}
    for key, q in PERCENTILES.items():
        value = float(np.percentile(values, q))
        objective = slo.get(key)
        if objective is None:
            pct[key] = {"value": value, "slo": None, "status": "ok", "reason": "no objective declared"}
            continue
        status = "breach" if value > objective else ("warn" if value > warn_ratio * objective else "ok")
        if n < min_requests and status == "breach":
            status = "warn"
        pct[key] = {"value": value, "slo": float(objective), "status": status,
                    "reason": f"{key[:-3]} {value:.2f} ms {'>' if value > objective else '<='} SLO {objective:g} ms"}
    if n < min_requests:
        notes.append(f"only {n} request(s) (latency.min_requests={min_requests}): a breach is reported as warn")
    return {"status": overall([p["status"] for p in pct.values()], "breach"), "n_requests": n,
            "mean_ms": float(values.mean()), "max_ms": float(values.max()), "percentiles": pct, "notes": notes}
