"""Write a dataset config from the data: the YAML `mlplat train dataset=<name>` accepts unchanged.

From a profile (mlplat.data.profile) it decides the task (from the target), the column
roles (categorical, id, drop) and the schema (dtype, allowed categories, observed range,
allowed null share with a margin). Nothing is dropped silently: every column in ``drop``
carries a comment saying why (probable leakage, id-like, text, date, constant, empty), and
so does the choice of task. A password in a SQL URL never reaches the file: the URL is
written without it and ``password_env`` names the environment variable that holds it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

__all__ = ["NULL_MARGIN", "infer_config", "max_null_share", "schema_dtype"]

ALLOWED_MAX = 50  # categorical columns with more categories get no allowed list (it would not generalise)
CATEGORICAL_MAX = 1000  # more categories than this: not a useful one-hot feature, dropped with a comment
NULL_MARGIN = (1.25, 0.01)  # allowed null share = observed x 1.25 + 0.01 (rounded up), 0 when none was seen


def max_null_share(observed: float) -> float:
    if observed <= 0:
        return 0.0
    factor, extra = NULL_MARGIN
    return min(1.0, math.ceil((observed * factor + extra) * 1000) / 1000)


def schema_dtype(col: dict[str, Any]) -> str | None:
    """The schema dtype (mlplat.config.schema.ColumnType) matching a profiled column."""
    kind = col.get("kind")
    if col.get("dtype") == "bool":
        return "bool"
    if "mean" in col or kind in ("numeric",):
        return "integer" if col.get("integral") else "numeric"
    if kind in ("categorical", "boolean"):
        return "category"
    if kind in ("text", "id"):
        return "string"
    return None  # datetime: the schema has no such dtype; nulls are still checked


def _q(value: Any) -> str:
    """A YAML scalar: JSON's quoting is valid YAML and survives any column name."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, float):
        return repr(float(value))
    return json.dumps(value)


def _flow(values: list[Any]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


def _num(v: float) -> Any:
    return int(v) if float(v).is_integer() and abs(v) < 2**53 else float(v)


def _leak_reason(row: dict[str, Any], target: str) -> str:
    if row["measure"] == "auc":
        return f"probable target leakage: AUC {row['value']:.4f} alone for {target}={row.get('positive')}"
    return f"probable target leakage: {row['measure']} {row['value']:.4f} with {target}"


def _roles(profile: dict[str, Any], target: str) -> tuple[str | None, list[str], list[tuple[str, str]]]:
    """(id column, categorical columns, [(dropped column, why)])."""
    leaks = {w["column"]: w for w in profile.get("warnings") or [] if w["type"] == "leakage"}
    id_column = None
    categorical: list[str] = []
    drop: list[tuple[str, str]] = []
    for name, col in profile["columns"].items():
        if name == target:
            continue
        kind = col.get("kind")
        if name in leaks:
            row = (profile.get("target_associations") or {}).get(name) or {}
            drop.append((name, _leak_reason(row, target) + "; keep it only if it is known before the outcome"))
        elif col.get("n_distinct") == 0:
            drop.append((name, f"empty: all {col['n_missing']} values missing"))
        elif kind == "id":
            if id_column is None:
                id_column = name
            else:
                drop.append((name, f"id-like: {col['n_distinct']} distinct values, one per row"))
        elif col.get("n_distinct") == 1:
            drop.append((name, "constant: one value in every row"))
        elif kind == "datetime":
            drop.append((name, f"date/time {col.get('min')} .. {col.get('max')}: split by it or derive features "
                               "(features.derived); the feature builders take numbers and categories"))
        elif kind == "text":
            drop.append((name, f"free text (mean {col.get('mean_length', 0):.0f} characters): the feature builders "
                               "take numbers and categories"))
        elif "mean" in col and col.get("dtype") != "bool":
            continue  # numeric: the dataset's numeric list is every remaining column
        elif (col.get("n_distinct") or 0) > CATEGORICAL_MAX:
            drop.append((name, f"{col['n_distinct']} categories: too many to encode; group them upstream"))
        else:
            categorical.append(name)
    for name, reason in (profile.get("skipped") or {}).items():
        drop.append((name, f"could not be profiled ({reason})"))
    return id_column, categorical, drop


def _column_rule(name: str, col: dict[str, Any], target: str, task: str) -> str:
    parts: list[str] = []
    dtype = schema_dtype(col)
    if dtype:
        parts.append(f"dtype: {dtype}")
    if name == target and task == "classification":
        labels = col.get("categories") or [str(_num(v)) for v in col.get("values") or []]
        if labels and len(labels) <= ALLOWED_MAX:
            parts.append(f"allowed: {_flow(sorted(labels))}")
    elif "mean" in col and col.get("min") is not None and name != target and col.get("kind") != "id":
        parts.append(f"min: {_q(_num(col['min']))}")
        parts.append(f"max: {_q(_num(col['max']))}")
    elif col.get("kind") in ("categorical", "boolean") and col.get("categories"):
        parts.append(f"allowed: {_flow(sorted(col['categories']))}")
    share = max_null_share(float(col.get("missing_share") or 0.0))
    if share:
        parts.append(f"max_null_share: {share:g}")
    return f"  {_q(name)}: {{{', '.join(parts)}}}"


def _task(profile: dict[str, Any], target: str) -> tuple[str, str]:
    col = profile["columns"][target]
    task = profile.get("task")
    if task == "classification":
        n = (profile.get("target_summary") or {}).get("n_classes") or col.get("n_distinct")
        why = f"target {target!r} has {n} classes"
    else:
        why = f"target {target!r} is a number with {col.get('n_distinct')} distinct values"
    return str(task), why


def infer_config(profile: dict[str, Any], *, name: str, source: dict[str, Any], origin: str,
                 description: str | None = None) -> str:
    """The YAML text of ``conf/dataset/<name>.yaml`` for a profile with a target and a task."""
    target = profile["target"]
    task, why = _task(profile, target)
    id_column, categorical, drop = _roles(profile, target)
    n = profile["n_rows"]
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# written by `mlplat data infer` from {origin} ({n} rows, {profile['n_columns']} columns), {stamp}.",
        "# The schema below is what that data looked like: review it, then `mlplat train dataset=" + name + "`.",
        f"# max_null_share = observed share x {NULL_MARGIN[0]:g} + {NULL_MARGIN[1]:g} (0 where none was missing);"
        " min/max are the observed range.",
        f"name: {_q(name)}",
        f"description: {_q(description or f'inferred from {origin}')}",
    ]
    for key in ("source", "path", "url", "password_env", "query"):
        if source.get(key) is not None:
            lines.append(f"{key}: {_q(source[key])}")
    if source.get("password_env"):
        lines.append(f"# the password of url is read from the environment variable {source['password_env']} "
                     "when the data is loaded")
    lines += [f"task: {task}  # {why}", f"target: {_q(target)}"]
    if id_column:
        col = profile["columns"][id_column]
        lines.append(f"id_column: {_q(id_column)}  # id-like: {col['n_distinct']} distinct values, one per row")
    lines.append(f"categorical: {_flow(categorical)}")
    if drop:
        lines.append("drop:")
        lines += [f"  - {_q(col)}  # {why}" for col, why in drop]
    else:
        lines.append("drop: []")
    lines.append(f"min_rows: {max(10, min(100, n // 10))}")
    lines.append("columns:")
    dropped = {c for c, _ in drop}
    for col_name, col in profile["columns"].items():
        if col_name in dropped:
            continue
        lines.append(_column_rule(col_name, col, target, task))
    return "\n".join(lines) + "\n"
