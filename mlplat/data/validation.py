"""Check a loaded DataFrame against the schema declared in its dataset config.

Every violation is collected (not only the first) and reported in one line naming the
column, the rule and how many rows break it, so a user fixes the data in one pass.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlplat.errors import SchemaViolation, TargetError


def _dtype_ok(series: pd.Series, dtype: str) -> bool:
    if dtype == "numeric":
        return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if dtype == "integer":
        if pd.api.types.is_integer_dtype(series):
            return True
        values = series.dropna()
        return pd.api.types.is_float_dtype(series) and bool(np.all(np.mod(values, 1) == 0))
    if dtype in ("category", "string"):
        return not pd.api.types.is_numeric_dtype(series) or isinstance(series.dtype, pd.CategoricalDtype)
    if dtype == "bool":
        return pd.api.types.is_bool_dtype(series)
    return True


def _column_problems(name: str, series: pd.Series, rule: Any) -> list[str]:
    problems = []
    n = len(series)
    dtype = rule.get("dtype")
    dtype = getattr(dtype, "value", dtype)
    if dtype and not _dtype_ok(series, dtype):
        problems.append(f"column {name!r} should be {dtype} but is {series.dtype}")
        return problems
    nulls = int(series.isna().sum())
    limit = float(rule.get("max_null_share") or 0.0)
    if n and nulls / n > limit:
        problems.append(f"column {name!r} has {nulls} null rows ({nulls / n:.1%}), allowed {limit:.1%}")
    values = series.dropna()
    if rule.get("min") is not None and pd.api.types.is_numeric_dtype(values):
        bad = int((values < rule["min"]).sum())
        if bad:
            problems.append(f"column {name!r} has {bad} rows below min {rule['min']}")
    if rule.get("max") is not None and pd.api.types.is_numeric_dtype(values):
        bad = int((values > rule["max"]).sum())
        if bad:
            problems.append(f"column {name!r} has {bad} rows above max {rule['max']}")
    allowed = rule.get("allowed")
    if allowed:
        as_text = values.map(lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
        bad_mask = ~as_text.isin([str(a) for a in allowed])
        bad = int(bad_mask.sum())
        if bad:
            examples = sorted(set(as_text[bad_mask].head(50)))[:3]
            problems.append(f"column {name!r} has {bad} rows outside the allowed values {[str(a) for a in allowed]} "
                            f"(e.g. {examples}){_yaml_boolean_hint(allowed)}")
    return problems


# what YAML 1.1 reads as a boolean when unquoted (no, yes, on, off, true, false in any case)
_YAML_BOOLEANS = {"True", "False", "true", "false"}


def _yaml_boolean_hint(allowed: list) -> str:
    """``allowed: [No, Yes]`` arrives as [False, True]: say so, since the data's "No" then never matches."""
    if not any(isinstance(a, bool) or str(a) in _YAML_BOOLEANS for a in allowed):
        return ""
    return (": YAML reads unquoted No/Yes/On/Off/true/false as booleans, so quote the values in the dataset "
            "config, e.g. allowed: [\"No\", \"Yes\"]")


def _frame_problems(df: pd.DataFrame) -> list[str]:
    """Infinite values in numeric columns (scikit-learn refuses them deep inside a fit)."""
    problems = []
    numeric = df.select_dtypes(include="number")
    if numeric.shape[1]:
        counts = np.isinf(numeric.to_numpy(dtype=np.float64, na_value=np.nan)).sum(axis=0)
        infinite = {str(c): int(n) for c, n in zip(numeric.columns, counts, strict=True) if n}
        if infinite:
            listed = ", ".join(f"{c!r} ({n})" for c, n in infinite.items())
            problems.append(f"infinite values in column(s) {listed}: replace them with a number or leave them "
                            "empty (missing)")
    return problems


def validate(df: pd.DataFrame, cfg: Any) -> None:
    """Raise SchemaViolation/TargetError if ``df`` breaks the dataset's declared schema."""
    where = f"conf/dataset/{cfg['name']}.yaml"
    duplicated = df.columns[df.columns.duplicated()].unique()
    if len(duplicated):  # every later check reads columns by name
        raise SchemaViolation(f"dataset {cfg['name']!r} has duplicate column names {[str(c) for c in duplicated]}: "
                              "rename them in the source so each column has one name")
    if len(df) == 0:
        raise SchemaViolation(f"dataset {cfg['name']!r} is empty (0 rows); check the source file or query")
    target = cfg["target"]
    if target not in df.columns:
        raise TargetError(
            f"target column {target!r} not found in dataset {cfg['name']!r}; "
            f"columns are {', '.join(map(repr, map(str, df.columns[:12])))}{'...' if len(df.columns) > 12 else ''}; "
            f"fix dataset.target in {where}"
        )
    problems: list[str] = _frame_problems(df)
    min_rows = int(cfg.get("min_rows") or 1)
    if len(df) < min_rows:
        problems.append(f"{len(df)} rows, fewer than min_rows={min_rows}")
    declared = [cfg.get("id_column"), *(cfg.get("numeric") or []), *(cfg.get("categorical") or [])]
    for col in [c for c in declared if c]:
        if col not in df.columns:
            problems.append(f"declared column {col!r} is missing")
    for name, rule in (cfg.get("columns") or {}).items():
        if name not in df.columns:
            if rule.get("required", True):
                problems.append(f"required column {name!r} is missing")
            continue
        problems.extend(_column_problems(name, df[name], rule))
    if problems:
        raise SchemaViolation(
            f"dataset {cfg['name']!r} breaks its schema: {'; '.join(problems)}; "
            f"fix the data or the schema in {where}"
        )
