"""Warnings a data scientist acts on, read off a profile: each names the column and the figure.

Thresholds are module constants (and keyword arguments of ``find_warnings``) so a test or a
caller can tighten them; the defaults follow common practice (ydata-profiling's alerts use
similar cut-offs: 0.5 missing, 50 categories, a 10 % minority class).
"""

from __future__ import annotations

from typing import Any

__all__ = ["THRESHOLDS", "find_warnings"]

THRESHOLDS: dict[str, float] = {
    "leakage": 0.98,          # a feature that alone orders/splits the target almost perfectly
    "high_missing": 0.2,      # missing share
    "high_cardinality": 50,   # distinct categories (not an id: those have their own warning)
    "near_constant": 0.99,    # share of the most frequent value
    "duplicates": 0.0,        # share of duplicated rows above which it is reported
    "imbalance": 0.1,         # minority class share
}


def _w(kind: str, column: str | None, message: str, severity: str = "warning", **figures: Any) -> dict[str, Any]:
    return {"type": kind, "column": column, "severity": severity, "message": message, **figures}


def _leakage(profile: dict[str, Any], limit: float) -> list[dict[str, Any]]:
    out = []
    target = profile.get("target")
    for name, row in (profile.get("target_associations") or {}).items():
        strength = row.get("strength")
        if strength is None or strength < limit:
            continue
        measure = row["measure"]
        figure = f"{measure} {row['value']:.4f}"
        if measure == "auc":
            figure = f"AUC {row['value']:.4f} alone for {target}={row.get('positive')}"
        out.append(_w("leakage", name, f"probable target leakage: {name!r} alone predicts {target!r} almost "
                                       f"perfectly ({figure}); check it is known before the outcome, else drop it",
                      "error", measure=measure, value=row["value"], strength=strength))
    return out


def _column_warnings(name: str, col: dict[str, Any], n: int, th: dict[str, float], target: str | None,
                     declared: list[str]) -> list:
    out = []
    kind = col.get("kind")
    miss = float(col.get("missing_share") or 0.0)
    if n and col.get("n_distinct") == 0:
        out.append(_w("empty", name, f"column {name!r} has no values ({col['n_missing']} of {n} rows missing)",
                      missing_share=miss))
        return out
    if kind == "id" and name != target and name not in declared:
        out.append(_w("id_like", name, f"column {name!r} looks like an identifier ({col['n_distinct']} distinct values "
                                       f"in {n - col['n_missing']} rows): set it as dataset.id_column or drop it",
                      n_distinct=col["n_distinct"]))
    if col.get("n_distinct") == 1:
        out.append(_w("constant", name, f"column {name!r} is constant (one value, {col.get('top_value', _top(col))!r}): "
                                        "it carries no information", n_distinct=1))
    elif (col.get("top_share") or 0) >= th["near_constant"] and kind not in ("id", "text"):
        out.append(_w("near_constant", name, f"column {name!r} is near-constant: its most frequent value is "
                                             f"{col['top_share']:.2%} of the rows", top_share=col["top_share"]))
    if miss >= th["high_missing"]:
        out.append(_w("high_missing", name, f"column {name!r} is {miss:.1%} missing ({col['n_missing']} rows)",
                      missing_share=miss))
    if kind == "categorical" and (col.get("n_distinct") or 0) > th["high_cardinality"]:
        out.append(_w("high_cardinality", name, f"column {name!r} has {col['n_distinct']} categories: one-hot "
                                                "encoding will be wide; group rare ones (features.categorical."
                                                "min_frequency) or use ordinal encoding",
                      n_distinct=col["n_distinct"]))
    if col.get("non_numeric_count"):
        out.append(_w("mixed_types", name, f"column {name!r} mixes numbers ({col['numeric_share']:.1%} of values) and "
                                           f"text ({col['non_numeric_count']} rows, e.g. {col['non_numeric_examples']}):"
                                           " declare those as missing (read_options.na_values) or fix the source",
                      numeric_share=col["numeric_share"], non_numeric_count=col["non_numeric_count"]))
    elif len(col.get("value_types") or []) > 1:
        out.append(_w("mixed_types", name, f"column {name!r} holds values of several types "
                                           f"({', '.join(col['value_types'])})", value_types=col["value_types"]))
    if col.get("n_infinite"):
        out.append(_w("infinite", name, f"column {name!r} has {col['n_infinite']} infinite values (+-inf): they are "
                                        "left out of the statistics; the imputers will not replace them",
                      n_infinite=col["n_infinite"]))
    if kind == "datetime" and name != target:
        out.append(_w("datetime", name, f"column {name!r} is a date/time from {col.get('min')} to {col.get('max')} "
                                        f"({col.get('span_days', 0):.0f} days): if rows are events in time, split by "
                                        "time (train on the past, test on the later rows), not at random",
                      "info", min=col.get("min"), max=col.get("max")))
    return out


def _top(col: dict[str, Any]) -> Any:
    top = col.get("top") or []
    return top[0]["value"] if top else None


def find_warnings(profile: dict[str, Any], **thresholds: float) -> list[dict[str, Any]]:
    """Every warning for ``profile`` (the dict of mlplat.data.profile.profile_frame), most serious first."""
    th = {**THRESHOLDS, **thresholds}
    n = int(profile["n_rows"])
    target = profile.get("target")
    out: list[dict[str, Any]] = []
    if n == 0:
        out.append(_w("empty", None, "the dataset has no rows", "error"))
    out += _leakage(profile, th["leakage"])
    if profile.get("n_duplicate_rows") and profile["duplicate_share"] > th["duplicates"]:
        out.append(_w("duplicates", None, f"{profile['n_duplicate_rows']} duplicated rows "
                                          f"({profile['duplicate_share']:.2%}): drop them, or they leak between the "
                                          "training and test splits", n_duplicate_rows=profile["n_duplicate_rows"],
                      duplicate_share=profile["duplicate_share"]))
    ts = profile.get("target_summary") or {}
    if ts.get("minority_share") is not None and ts["minority_share"] < th["imbalance"]:
        minority = ts["classes"][-1]
        out.append(_w("imbalance", target, f"target {target!r} is imbalanced: class {minority['value']!r} is "
                                           f"{minority['share']:.2%} of the rows (ratio {ts['imbalance_ratio']:.1f}:1);"
                                           " use a stratified split and a metric such as average_precision",
                      minority_share=ts["minority_share"], imbalance_ratio=ts["imbalance_ratio"]))
    for name, col in profile["columns"].items():
        out += _column_warnings(name, col, n, th, target, profile.get("declared_ids") or [])
    for name, reason in (profile.get("skipped") or {}).items():
        out.append(_w("skipped", name, f"column {name!r} could not be profiled and was skipped ({reason})"))
    rank = {"error": 0, "warning": 1, "info": 2}
    return sorted(out, key=lambda w: rank[w["severity"]])
