"""The data profile: one vectorised pass per column family, then every association at once.

``profile_frame(df, target=...)`` returns a JSON-serialisable dict (format
``mlplat.data-profile``) with, for the dataset, the row count and duplicated rows; per
column the inferred kind (numeric, categorical, boolean, datetime, text, id), missing
share, distinct count, the most frequent value's share, min/max/mean/std/quantiles and a
fixed-width histogram (numeric, datetime), top categories with shares (categorical);
associations (Pearson and Spearman between numeric columns, Cramér's V between
categorical ones, the correlation ratio between the two families) and every feature
against the target; and the target's balance (classification) or distribution.

How it stays fast (1M rows x 20 columns in well under 3 s on two cores, see
benchmarks/data_profile):

* each numeric column is sorted once (``argsort``): quantiles, distinct count, the top
  value's share and the histogram are read off the sorted values, and the same order
  gives the column's average ranks for Spearman (kept as float32, exact below 2**23 rows);
* each categorical column is factorised once into integer codes (counts by ``bincount``);
* all associations come from one chunked pass over the rows: per chunk, one matrix
  product of the (centred, zero-filled) values with themselves and their validity masks
  gives every pairwise-complete Pearson sum, the same on the ranks gives Spearman, and a
  one-hot block of the codes times the values gives every category's count, sum and sum
  of squares (correlation ratio) and every contingency table (Cramér's V);
* numeric columns are worked on a small thread pool: numpy's sort releases the GIL.

Definitions (where a reader could expect another one):

* missing = NaN/None/NaT; +-inf is counted apart (``n_infinite``) and, like missing
  values, left out of the statistics and associations;
* std is the sample standard deviation (ddof=1); quantiles interpolate linearly
  (numpy/pandas' default);
* Pearson uses the rows where both columns are present (pandas' pairwise rule);
  Spearman ranks each column once over its own present values and then correlates those
  ranks on the rows where both are present. pandas re-ranks every pair on its common
  rows instead (the same figure when neither column has gaps; close otherwise), which
  costs a sort per pair;
* Cramér's V is the plain (not bias-corrected) V over rows where both are present;
* duplicated rows are found by a 64-bit hash of each row's values (a false duplicate
  needs a hash collision: about n**2 / 2**65, 3e-8 at a million rows).

A column that cannot be profiled (nested objects, unhashable values) is recorded under
``skipped`` with the reason and left out of everything else; it never fails the profile.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlplat.data.associations import _categorical_associations, _numeric_associations
from mlplat.data.numeric import ALLOWED_LIST_MAX, QUANTILES, NumericColumn, histogram_sorted, numeric_column
from mlplat.data.warnings import find_warnings

__all__ = ["PROFILE_FORMAT", "PROFILE_VERSION", "QUANTILES", "profile_frame", "summary_of", "task_of_target"]

PROFILE_FORMAT = "mlplat.data-profile"
PROFILE_VERSION = 1
TOP_CATEGORIES = 10
# categorical columns with more categories are profiled but left out of the associations
# (a one-hot block per chunk grows with the categories; an id-like column says nothing)
ASSOC_MAX_CATEGORIES = 500
ID_MIN_ROWS = 20  # fewer rows than this: every column is trivially unique
ID_DISTINCT_SHARE = 0.99  # an id repeats only where whole rows do (duplicates)
TEXT_MIN_MEAN_LENGTH = 25
CLASSIFICATION_MAX_CLASSES = 20
CHUNK_CELLS = 1 << 18  # cells of one association chunk (rows x stacked columns)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")

Progress = Callable[[str, int, int], None]


def _none(*_: Any) -> None:
    return None


def _label(v: Any) -> str:
    """A category value as text (1.0 -> "1", as the schema's allowed values read)."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (np.floating,)) and float(v).is_integer():
        return str(int(v))
    return str(v)


# ----------------------------------------------------------------------------- categorical
@dataclass
class _Categorical:
    name: str
    codes: np.ndarray  # int32, -1 where missing
    labels: list[str]
    counts: np.ndarray


def _factorize(series: pd.Series) -> tuple[np.ndarray, Any]:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(), series.cat.categories
    return pd.factorize(series, use_na_sentinel=True)


def _categorical_column(name: str, series: pd.Series) -> tuple[dict[str, Any], _Categorical]:
    codes, uniques = _factorize(series)
    n = int(codes.size)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques)) if n else np.zeros(len(uniques), dtype=np.int64)
    n_missing = int(n - counts.sum())
    n_valid = n - n_missing
    labels = [_label(u) for u in uniques]
    order = np.argsort(-counts, kind="stable")
    present = int(np.count_nonzero(counts))
    top = [{"value": labels[i], "count": int(counts[i]), "share": counts[i] / n_valid}
           for i in order[:TOP_CATEGORIES] if counts[i]]
    col: dict[str, Any] = {
        "dtype": str(series.dtype), "n_missing": n_missing, "missing_share": n_missing / n if n else 0.0,
        "n_distinct": present, "distinct_share": present / n_valid if n_valid else 0.0,
        "top": top, "top_share": top[0]["share"] if top else None,
        "other_count": int(n_valid - sum(t["count"] for t in top)),
    }
    if present <= ALLOWED_LIST_MAX:
        col["categories"] = sorted(labels[i] for i in np.flatnonzero(counts))
    if present and (pd.api.types.is_string_dtype(getattr(uniques, "dtype", None)) or isinstance(uniques[0], str)):
        lengths = pd.Series(np.asarray(uniques, dtype=object)).astype(str).str.len().to_numpy(dtype=np.float64)
        col["mean_length"] = float((lengths * counts).sum() / n_valid) if n_valid else 0.0
    col.update(_mixed_types(uniques, counts, n_valid))
    return col, _Categorical(name, codes.astype(np.int32, copy=False), labels, counts)


def _mixed_types(uniques: Any, counts: np.ndarray, n_valid: int) -> dict[str, Any]:
    """Numbers and words in one column (e.g. "n/a" or "unknown" among amounts): parse the distinct values."""
    if not n_valid or not len(uniques):
        return {}
    values = pd.Series(np.asarray(uniques, dtype=object))
    parsed = pd.to_numeric(values, errors="coerce")
    numeric = parsed.notna().to_numpy()
    types = {type(v).__name__ for v in values.iloc[:1000]}
    n_numeric = int(counts[numeric].sum())
    if n_numeric == 0 or n_numeric == n_valid:
        return {"value_types": sorted(types)} if len(types) > 1 else {}
    examples = [str(v) for v in values[~numeric].iloc[np.argsort(-counts[~numeric], kind="stable")[:3]]]
    return {"numeric_share": n_numeric / n_valid, "non_numeric_count": int(n_valid - n_numeric),
            "non_numeric_examples": examples, "value_types": sorted(types)}


# ----------------------------------------------------------------------------- datetime
def _as_datetime(series: pd.Series) -> pd.Series | None:
    """The column as datetimes when it is one, or text that is all ISO dates (a CSV's date column)."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series
    if not (pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype)):
        return None
    # the first 200 present values, without dropping the gaps of the whole column first (0.14 s at 1M rows)
    sample = series.iloc[:5000].dropna()
    if len(sample) < 200:
        sample = series.dropna()
    sample = sample.iloc[:200]
    if sample.empty or not all(isinstance(v, str) and _ISO_DATE.match(v) for v in sample):
        return None
    try:
        return pd.to_datetime(series, format="ISO8601", utc=None)
    except (ValueError, TypeError, OverflowError):
        return None


def _datetime_column(series: pd.Series, raw: pd.Series) -> dict[str, Any]:
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    ns = series.to_numpy(dtype="datetime64[ns]").view(np.int64)
    valid = ns != np.iinfo(np.int64).min
    n = ns.size
    vals = ns[valid]
    col: dict[str, Any] = {"dtype": str(raw.dtype), "n_missing": int(n - vals.size),
                           "missing_share": (n - vals.size) / n if n else 0.0}
    if not vals.size:
        col.update(n_distinct=0, distinct_share=0.0, top_share=None)
        return col
    s = np.sort(vals)
    cut = np.flatnonzero(s[1:] != s[:-1]) + 1
    sizes = np.diff(np.concatenate([[0], cut, [s.size]]))
    lo, hi = int(s[0]), int(s[-1])
    hist = histogram_sorted(s.astype(np.float64), float(lo), float(hi))
    col.update(
        n_distinct=int(cut.size + 1), distinct_share=(cut.size + 1) / s.size, top_share=float(sizes.max()) / s.size,
        min=pd.Timestamp(lo).isoformat(), max=pd.Timestamp(hi).isoformat(),
        span_days=(hi - lo) / 86_400e9,
        histogram={"edges": [pd.Timestamp(int(e)).isoformat() for e in hist["edges"]], "counts": hist["counts"]},
        monotonic_increasing=bool(valid.all() and np.all(ns[1:] >= ns[:-1])),
    )
    return col


# ----------------------------------------------------------------------------- kinds
def _is_numeric(dtype: Any) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype)


def _kind_numeric(name: str, col: dict[str, Any], n: int) -> str:
    if col["n_distinct"] == 2 and set(col.get("values") or ()) <= {0.0, 1.0}:
        return "boolean"
    valid = n - col["n_missing"] - col["n_infinite"]
    if valid >= ID_MIN_ROWS and col["n_distinct"] >= ID_DISTINCT_SHARE * valid and col.get("integral") and \
            (col.get("monotonic_increasing", False) or _id_name(name)):
        return "id"
    return "numeric"


def _id_name(name: str) -> bool:
    low = name.lower()
    return low == "id" or low.endswith(("_id", " id", "uuid", "_key")) or (low.endswith("id") and len(low) > 2
                                                                             and name[-2:] == "Id")


def _kind_categorical(col: dict[str, Any], n: int, series: pd.Series) -> str:
    valid = n - col["n_missing"]
    if pd.api.types.is_bool_dtype(series.dtype):
        return "boolean"
    if col.get("mean_length", 0) >= TEXT_MIN_MEAN_LENGTH and col["distinct_share"] >= 0.2:
        return "text"
    if valid >= ID_MIN_ROWS and col["n_distinct"] >= ID_DISTINCT_SHARE * valid:
        return "id"
    return "categorical"


def task_of_target(column: dict[str, Any] | None) -> str | None:
    """classification for labels (text, booleans, few whole numbers), regression for other numbers."""
    if column is None:
        return None
    kind = column.get("kind")
    if kind in ("categorical", "boolean", "text", "id") and "mean" not in column:
        return "classification"
    if kind in ("numeric", "boolean", "id"):
        if kind == "boolean" or (column.get("integral") and column.get("n_distinct", 0) <= CLASSIFICATION_MAX_CLASSES):
            return "classification"
        return "regression"
    return None



# ----------------------------------------------------------------------------- target
def _auc(ranks: np.ndarray, positive: np.ndarray) -> float | None:
    """Area under the ROC curve of one feature for a binary target, from the feature's ranks."""
    ok = ~np.isnan(ranks)
    pos = positive & ok
    n1 = int(pos.sum())
    n0 = int(ok.sum()) - n1
    if not n1 or not n0:
        return None
    u = float(ranks[pos].astype(np.float64).sum()) - n1 * (n1 + 1) / 2
    return u / (n1 * n0)


def _lookup(matrix: dict[str, Any] | None, a: str, b: str) -> float | None:
    if not matrix or a not in matrix["columns"] or b not in matrix["columns"]:
        return None
    cols = matrix["columns"]
    return matrix["matrix"][cols.index(a)][cols.index(b)]


def _eta(assoc: dict[str, Any], numeric: str, categorical: str) -> float | None:
    cr = assoc.get("correlation_ratio")
    if not cr or numeric not in cr["numeric"] or categorical not in cr["categorical"]:
        return None
    return cr["matrix"][cr["numeric"].index(numeric)][cr["categorical"].index(categorical)]


def _binary_target(task: str | None, tc: _Categorical | None) -> tuple[np.ndarray, str] | None:
    """(rows of the minority class, its label) for a two-class target labelled on every row."""
    if task != "classification" or tc is None or int(np.count_nonzero(tc.counts)) != 2 or (tc.codes < 0).any():
        return None  # AUC from a feature's ranks needs a label on every row
    present = np.flatnonzero(tc.counts)
    minority = int(present[np.argmin(tc.counts[present])])
    return tc.codes == minority, tc.labels[minority]


def _target_associations(columns: dict[str, Any], assoc: dict[str, Any], target: str, task: str | None,
                         nums: dict[str, NumericColumn], cats: dict[str, _Categorical],
                         aucs: dict[str, float], positive: str | None) -> dict[str, Any]:
    """Each feature against the target, with the measure that fits the pair and a 0..1 strength."""
    out: dict[str, Any] = {}
    for name, col in columns.items():
        if name == target or col.get("kind") in (None, "datetime", "text", "id"):
            continue
        row: dict[str, Any] = {}
        if task == "classification":
            if name in nums:
                eta = _eta(assoc, name, target)
                row.update(measure="correlation_ratio", value=eta, strength=eta)
                if name in aucs:
                    auc = aucs[name]
                    row.update(measure="auc", value=auc, strength=abs(2 * auc - 1), positive=positive,
                               correlation_ratio=eta)
            elif name in cats:
                v = _lookup(assoc.get("cramers_v"), name, target)
                row.update(measure="cramers_v", value=v, strength=v)
        elif task == "regression":
            if name in nums:
                rho = _lookup(assoc.get("spearman"), name, target)
                r = _lookup(assoc.get("pearson"), name, target)
                row.update(measure="spearman", value=rho, strength=None if rho is None else abs(rho), pearson=r)
            elif name in cats:
                eta = _eta(assoc, target, name)
                row.update(measure="correlation_ratio", value=eta, strength=eta)
        if row and row.get("value") is not None:
            out[name] = row
    return out


def _target_summary(col: dict[str, Any], task: str | None, cat: _Categorical | None) -> dict[str, Any]:
    if task == "classification" and cat is not None:
        valid = int(cat.counts.sum())
        order = np.argsort(-cat.counts, kind="stable")
        classes = [{"value": cat.labels[i], "count": int(cat.counts[i]), "share": cat.counts[i] / valid}
                   for i in order if cat.counts[i]]
        shares = [c["share"] for c in classes]
        return {"task": task, "classes": classes, "n_classes": len(classes),
                "minority_share": min(shares) if shares else None,
                "imbalance_ratio": (max(shares) / min(shares)) if shares and min(shares) > 0 else None}
    if task == "regression":
        keys = ("mean", "std", "min", "max", "quantiles", "histogram")
        return {"task": task, **{k: col.get(k) for k in keys}}
    return {"task": task}


# ----------------------------------------------------------------------------- rows
def _row_hashes(series_of: dict[str, pd.Series], n: int, names: list[str],
                cats: dict[str, _Categorical]) -> np.ndarray:
    """One 64-bit hash per row over ``names`` (codes for categoricals, values for the rest)."""
    h = np.zeros(n, dtype=np.uint64)
    mult = np.uint64(0x100000001B3)
    for name in names:
        if name in cats:
            col = pd.util.hash_array(cats[name].codes)
        else:
            col = pd.util.hash_pandas_object(series_of[name], index=False).to_numpy()
        h *= mult
        h ^= col
        del col
    return h


# ----------------------------------------------------------------------------- profile
def profile_frame(df: pd.DataFrame, *, target: str | None = None, task: str | None = None,
                  associations: bool = True, progress: Progress | None = None,
                  n_jobs: int | None = None, declared_ids: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """Profile ``df`` (see the module docstring); ``target`` must be a column when given.

    ``declared_ids``: columns the dataset already declares as its id (no id-like warning).
    """
    progress = progress or _none
    t0 = time.perf_counter()
    n = int(len(df))
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        df = df.copy(deep=False)
        df.columns = names = [f"{c}" if names.count(c) == 1 else f"{c}#{i}" for i, c in enumerate(names)]
    columns: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    nums: dict[str, NumericColumn] = {}
    cats: dict[str, _Categorical] = {}
    timings: dict[str, float] = {}

    # each column taken out of the frame once (a consolidated frame builds a Series per access)
    series_of = {name: df.iloc[:, i] for i, name in enumerate(names)}
    numeric_names = [c for c in names if _is_numeric(series_of[c].dtype)]
    other = [c for c in names if c not in numeric_names]

    # the other columns first: their factorisation's temporaries then never meet the numeric ranks
    t1 = time.perf_counter()
    for i, name in enumerate(other):
        series = series_of[name]
        try:
            as_dt = _as_datetime(series)
            if as_dt is not None:
                col = _datetime_column(as_dt, series)
                col["kind"] = "datetime"
            else:
                col, cat = _categorical_column(name, series)
                col["kind"] = _kind_categorical(col, n, series)
                cats[name] = cat
            columns[name] = col
        except Exception as exc:  # noqa: BLE001 - nested objects, unhashable values: report and go on
            skipped[name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".strip()
        progress("other columns", i + 1, len(other))
    timings["categorical"] = time.perf_counter() - t1

    # duplicates before the numeric pass, for the same reason (hashing's temporaries)
    t2 = time.perf_counter()
    profiled = [c for c in names if c in columns or c in numeric_names]
    dup = 0
    if n and profiled:
        hashes = np.sort(_row_hashes(series_of, len(df), profiled, cats))  # sorting 1M hashes: 25 ms; pd.unique's table: 300
        dup = int(n - 1 - np.count_nonzero(hashes[1:] != hashes[:-1]))
        del hashes
    timings["duplicates"] = time.perf_counter() - t2
    progress("duplicates", 1, 1)

    t1 = time.perf_counter()

    def one_numeric(name: str) -> tuple[str, dict[str, Any] | None, NumericColumn | None, str | None]:
        try:
            col, num = numeric_column(name, series_of[name], want_ranks=associations)
            return name, col, num, None
        except Exception as exc:  # noqa: BLE001 - one bad column never fails the profile
            return name, None, None, f"{type(exc).__name__}: {exc}"

    workers = n_jobs or min(4, os.cpu_count() or 1)
    done = 0
    if workers > 1 and len(numeric_names) > 1 and n >= 50_000:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = []
            for res in pool.map(one_numeric, numeric_names):
                results.append(res)
                done += 1
                progress("numeric columns", done, len(numeric_names))
    else:
        results = []
        for name in numeric_names:
            results.append(one_numeric(name))
            done += 1
            progress("numeric columns", done, len(numeric_names))
    for name, col, num, err in results:
        if err is not None or col is None:
            skipped[name] = err or "could not be profiled"
            continue
        col["kind"] = _kind_numeric(name, col, n)
        columns[name] = col
        if num is not None:
            nums[name] = num
    timings["numeric"] = time.perf_counter() - t1
    columns = {name: columns[name] for name in names if name in columns}

    if target is not None and target in columns and task is None:
        task = task_of_target(columns[target])
    if target is not None and task == "classification" and target in nums and target not in cats:
        # a numeric label (0/1, 1..k) is also a categorical variable for the association measures
        _, cat = _categorical_column(target, df[target])
        cats[target] = cat

    t3 = time.perf_counter()
    assoc: dict[str, Any] = {}
    aucs: dict[str, float] = {}
    binary = _binary_target(task, cats.get(target)) if target is not None else None
    if associations and n:
        anum = [nums[c] for c in nums if columns[c]["kind"] in ("numeric", "boolean") and (columns[c].get("std") or 0) > 0]
        acat = [cats[c] for c in cats if (columns[c]["kind"] in ("categorical", "boolean") or c == target)
                and 2 <= len(cats[c].labels) <= ASSOC_MAX_CATEGORIES]
        assoc = _numeric_associations(anum, n, progress)
        if binary is not None:
            for c in anum:
                if c.name != target and c.ranks is not None:
                    auc = _auc(c.ranks, binary[0])
                    if auc is not None:
                        aucs[c.name] = auc
        for c in nums.values():
            c.ranks = None  # the largest thing held (4 bytes a cell): free it before the categorical pass
        assoc.update(_categorical_associations(anum, acat, n, progress))
    timings["associations"] = time.perf_counter() - t3

    out: dict[str, Any] = {
        "format": PROFILE_FORMAT, "version": PROFILE_VERSION,
        "n_rows": n, "n_columns": len(names), "n_duplicate_rows": dup, "duplicate_share": dup / n if n else 0.0,
        "memory_bytes": int(df.memory_usage(deep=False, index=False).sum()),
        "target": target, "task": task, "declared_ids": [c for c in declared_ids if c],
        "columns": columns, "skipped": skipped, "associations": assoc,
    }
    if target is not None and target in columns:
        out["target_summary"] = _target_summary(columns[target], task, cats.get(target))
        out["target_associations"] = _target_associations(columns, assoc, target, task, nums, cats, aucs,
                                                          binary[1] if binary else None)
    out["warnings"] = find_warnings(out)
    timings["total"] = time.perf_counter() - t0
    out["timings"] = {k: round(v, 4) for k, v in timings.items()}
    return out


def summary_of(profile: dict[str, Any]) -> dict[str, Any]:
    """The compact part a run keeps beside its fingerprint: sizes, per-column kind/missing/distinct, warnings."""
    cols = {name: {"kind": c.get("kind"), "missing_share": round(float(c.get("missing_share") or 0.0), 6),
                   "n_distinct": c.get("n_distinct")}
            for name, c in profile["columns"].items()}
    return {
        "format": "mlplat.data-profile-summary", "version": PROFILE_VERSION,
        "n_rows": profile["n_rows"], "n_columns": profile["n_columns"],
        "n_duplicate_rows": profile["n_duplicate_rows"], "target": profile.get("target"),
        "task": profile.get("task"), "columns": cols, "skipped": profile.get("skipped") or {},
        "target_summary": {k: v for k, v in (profile.get("target_summary") or {}).items() if k != "histogram"},
        "warnings": [{k: w[k] for k in ("type", "column", "message")} for w in profile.get("warnings") or []],
    }
