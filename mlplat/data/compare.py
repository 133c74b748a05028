"""What changed between two extracts of one dataset: schema, shares, distributions.

One code path with the rest of mlplat: the schema check is ``mlplat.data.validation.validate``
(what `mlplat train` runs, so a finding reads the same), and the distributions are compared
by ``mlplat.monitoring.drift.check_drift`` over a ``build_profile`` of the reference (what
`mlplat monitor drift` runs against a registered model's reference profile); the operations
in ``mlplat.ops.data`` run the drift check (the monitor is a layer above this one) and hand
its result here.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlplat.data import validation
from mlplat.errors import DataError

__all__ = ["compare_profiles", "drift_columns", "schema_check"]


def schema_check(df: pd.DataFrame, dataset: dict[str, Any]) -> dict[str, Any]:
    """The declared schema against ``df``, through the checks `mlplat train` runs."""
    try:
        validation.validate(df, dataset)
    except DataError as exc:
        return {"ok": False, "message": str(exc), "error": type(exc).__name__}
    return {"ok": True, "message": f"{len(df)} rows match the schema of dataset {dataset['name']!r}", "error": None}


def drift_columns(profile: dict[str, Any], dataset: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """(numeric, categorical) columns whose distributions are compared: features and target, not ids/text/dates."""
    dataset = dataset or {}
    declared_cat = set(dataset.get("categorical") or [])
    skip = {dataset.get("id_column"), *(dataset.get("drop") or [])}
    numeric, categorical = [], []
    for name, col in profile["columns"].items():
        if name in skip or col.get("kind") in ("id", "text", "datetime") or not col.get("n_distinct"):
            continue
        if name in declared_cat or "mean" not in col:
            categorical.append(name)
        else:
            numeric.append(name)
    return numeric, categorical


def _schema_diff(ref: dict[str, Any], cur: dict[str, Any]) -> dict[str, Any]:
    rc, cc = ref["columns"], cur["columns"]
    return {
        "added": [c for c in cc if c not in rc],
        "removed": [c for c in rc if c not in cc],
        "dtype_changed": [{"column": c, "reference": rc[c]["dtype"], "current": cc[c]["dtype"]}
                          for c in rc if c in cc and rc[c]["dtype"] != cc[c]["dtype"]],
        "kind_changed": [{"column": c, "reference": rc[c]["kind"], "current": cc[c]["kind"]}
                         for c in rc if c in cc and rc[c]["kind"] != cc[c]["kind"]],
    }


def _shares(ref: dict[str, Any], cur: dict[str, Any]) -> dict[str, Any]:
    cols = {}
    for name, rc in ref["columns"].items():
        cc = cur["columns"].get(name)
        if cc is None:
            continue
        row = {"missing_reference": rc["missing_share"], "missing_current": cc["missing_share"],
               "missing_change": cc["missing_share"] - rc["missing_share"],
               "distinct_reference": rc.get("n_distinct"), "distinct_current": cc.get("n_distinct")}
        if "mean" in rc and "mean" in cc:
            row.update(mean_reference=rc["mean"], mean_current=cc["mean"])
        if rc.get("top") and cc.get("top"):
            row.update(top_reference=rc["top"][0], top_current=cc["top"][0])
        cols[name] = row
    return {"rows": {"reference": ref["n_rows"], "current": cur["n_rows"]},
            "duplicate_rows": {"reference": ref["n_duplicate_rows"], "current": cur["n_duplicate_rows"]},
            "columns": cols}


def compare_profiles(reference: dict[str, Any], current: dict[str, Any], *, dataset: dict[str, Any] | None,
                     declared: dict[str, Any] | None, drift: dict[str, Any]) -> dict[str, Any]:
    """The comparison of two extracts from their profiles, the declared schema check and the drift result.

    ``drift`` is ``mlplat.monitoring.drift.check_drift(...).to_dict()`` over the compared
    columns (the caller runs it: the monitor sits above this layer).
    """
    diff = _schema_diff(reference, current)
    broken = (declared is not None and not declared["ok"]) or bool(diff["removed"]) or bool(diff["dtype_changed"])
    # one drifted column is a finding for an extract (the monitor's dataset-level share is in drift)
    drifted = drift["status"] == "drift" or drift["n_drifted"] > 0
    status = "schema" if broken else "drift" if drifted else "warn" if drift["status"] != "ok" else "ok"
    return {
        "status": status, "dataset": (dataset or {}).get("name"), "target": reference.get("target"),
        "schema": {"declared": declared, **diff},
        "shares": _shares(reference, current),
        "drift": drift,
        "warnings": {"reference": reference["warnings"], "current": current["warnings"]},
    }
