"""Check input rows against a version's signature and build the frame the model expects.

Compiled once per loaded version (``Spec``). Two kinds of problem, reported per feature:

- **type problems** ("missing", "unexpected", "must be a number, got 'abc' in row 2", "null
  in row 0 but the model does not accept missing values"): the model cannot take the
  value, so the input is always refused (HTTP 422, ``mlplat predict`` one stderr line);
- **schema violations**: the value has the right type but the schema forbids it (a
  category outside the declared ``allowed`` set, a number outside the declared
  ``min``/``max``, beyond ``max_abs_value`` where no range is declared, a string longer
  than ``max_string_chars``). Whether these are refused or served and flagged is the
  serving policy's choice (conf/serving ``schema_violations``), so they are returned, not
  raised.

The check is columnar: one column at a time, converted in C (numpy for a JSON list, after
the Python types present are collected with ``set(map(type, ...))``; pyarrow for a file's
column) and checked with numpy masks (nulls, range, membership), instead of testing every
value in Python. Anything the columnar form does not take as it is (a mixed-type
list, an integer beyond int64) goes through the plain per-value check, which names the
first offending row; ``tests/serving/test_signature.py`` checks both give the same frame.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mlplat.errors import ServingError

MAX_REPORTED = 20
INT64 = 2**63 - 1
DEFAULT_MAX_STRING_CHARS = 256
DEFAULT_MAX_ABS_VALUE = 1e15


class SignatureMismatch(ServingError):
    """Input rows do not fit the signature; ``problems`` lists each feature's problem."""

    def __init__(self, problems: list[dict[str, Any]]):
        self.problems = problems[:MAX_REPORTED]
        head = "; ".join(f"feature {p['feature']!r}: {p['problem']}" for p in self.problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"input does not match the model's signature: {head}{more}")


class TooManyRows(ServingError):
    """More rows than serving.max_rows."""


def kind_of(dtype: str) -> str:
    d = dtype.lower()
    if d.startswith(("int", "uint")):
        return "integer"
    if d.startswith("float"):
        return "number"
    if d.startswith(("bool", "boolean")):
        return "boolean"
    return "string"  # object, str, string, category


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str
    nullable: bool
    allowed: tuple | None = None  # declared in the dataset's schema (conf/dataset columns.<name>.allowed)
    min: float | None = None
    max: float | None = None


def _allowed(kind: str, values: Any) -> tuple | None:
    """The declared allowed set in the feature's own type (YAML gives strings)."""
    if not values:
        return None
    if kind == "string":
        return tuple(str(v) for v in values)
    if kind in ("number", "integer"):
        try:
            return tuple(float(v) for v in values)
        except (TypeError, ValueError):
            return None  # not numbers: the training data check refused such a set already
    return None


@dataclass(frozen=True)
class Spec:
    features: tuple[Feature, ...]
    max_string_chars: int = DEFAULT_MAX_STRING_CHARS
    max_abs_value: float = DEFAULT_MAX_ABS_VALUE

    @classmethod
    def from_signature(cls, signature: dict[str, Any], *, max_string_chars: int = DEFAULT_MAX_STRING_CHARS,
                       max_abs_value: float = DEFAULT_MAX_ABS_VALUE) -> Spec:
        feats = []
        for f in signature.get("inputs") or []:
            kind = kind_of(str(f["dtype"]))
            feats.append(Feature(str(f["name"]), kind, bool(f.get("nullable")), _allowed(kind, f.get("allowed")),
                                 None if f.get("min") is None else float(f["min"]),
                                 None if f.get("max") is None else float(f["max"])))
        return cls(tuple(feats), int(max_string_chars), float(max_abs_value))

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def json_schema(self) -> dict[str, Any]:
        types = {"integer": "integer", "number": "number", "boolean": "boolean", "string": "string"}
        props: dict[str, Any] = {}
        for f in self.features:
            p: dict[str, Any] = {"type": [types[f.kind], "null"] if f.nullable else types[f.kind]}
            if f.allowed is not None:
                p["enum"] = [*f.allowed, *([None] if f.nullable else [])]
            if f.kind in ("number", "integer"):
                p["minimum"] = f.min if f.min is not None else -self.max_abs_value
                p["maximum"] = f.max if f.max is not None else self.max_abs_value
            if f.kind == "string":
                p["maxLength"] = self.max_string_chars
            props[f.name] = p
        return {"type": "object", "additionalProperties": False, "required": self.names, "properties": props}

    @cached_property
    def record_bytes(self) -> int:
        """The longest one record can be in JSON (``json.dumps`` separators) within the schema:
        numbers at 24 characters (``-1.2345678901234567e-300``), strings at their longest
        allowed value or ``max_string_chars`` (every character escaped as ``\\uXXXX`` counts 6)."""
        size = 2  # {}
        for f in self.features:
            if f.kind in ("number", "integer"):
                value = 24
            elif f.kind == "boolean":
                value = 5
            elif f.allowed is not None:
                value = max(len(json.dumps(a)) for a in f.allowed)
            else:
                value = 2 + 6 * self.max_string_chars
            size += len(json.dumps(f.name)) + 2 + max(value, 4) + 2  # "name": value,
        return size + 2  # ", " between records

    def body_limit(self, max_rows: int) -> int:
        """The body limit that lets ``max_rows`` records of this signature through."""
        return 64 + max_rows * self.record_bytes


_EXPECT = {"number": "a finite number", "integer": "a whole number", "boolean": "true or false", "string": "a string"}


# -- the body's shape --------------------------------------------------------------------------

def columns_from_body(body: Any, spec: Spec, max_rows: int) -> dict[str, list[Any]]:
    """{"records": [...]} / {"columns": {...}} -> column lists, shape-checked."""
    if isinstance(body, dict) and "columns" in body and len(body) == 1:
        cols = body["columns"]
        if not isinstance(cols, dict):
            raise ServingError('"columns" must be an object of feature -> list of values')
        lengths = set()
        for k, v in cols.items():
            if not isinstance(v, list):
                raise ServingError(f'"columns" value for {k!r} must be a list of values, got {type(v).__name__}')
            lengths.add(len(v))
        if len(lengths) > 1:
            raise ServingError(f'every list in "columns" must have the same length (got {sorted(lengths)})')
        n = lengths.pop() if lengths else 0
        _check_rows(n, max_rows)
        _check_names(list(cols), spec)
        return cols
    if not (isinstance(body, dict) and len(body) == 1 and "records" in body):
        got = "a JSON list" if isinstance(body, list) else f"an object with keys {sorted(body)[:5]}" if isinstance(
            body, dict) else f"a JSON {type(body).__name__}"
        raise ServingError('the body must be {"records": [{feature: value, ...}, ...]} or '
                           f'{{"columns": {{feature: [values]}}}}, got {got}')
    records = body["records"]
    if not isinstance(records, list):
        raise ServingError(f'"records" must be a list of objects, got {type(records).__name__}')
    _check_rows(len(records), max_rows)
    names = spec.names
    cols: dict[str, list[Any]] = {n: [] for n in names}
    appends = [(n, cols[n].append) for n in names]
    width = len(names)
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise ServingError(f"record {i} must be an object of feature -> value, got {type(rec).__name__}")
        if len(rec) != width:
            _check_names(list(rec), spec, row=i)
        try:
            for n, append in appends:
                append(rec[n])
        except KeyError:
            _check_names(list(rec), spec, row=i)
            raise
    return cols


def _check_rows(n: int, max_rows: int) -> None:
    if n == 0:
        raise ServingError("the request has no rows; send at least one record")
    if n > max_rows:
        raise TooManyRows(f"the request has {n} rows, more than the limit of {max_rows}; split it or use "
                          "`mlplat predict` for files")


def _check_names(got: list[str], spec: Spec, row: int | None = None) -> None:
    where = f" in record {row}" if row is not None else ""
    expected = set(spec.names)
    problems = [{"feature": n, "problem": f"missing{where}"} for n in spec.names if n not in got]
    problems += [{"feature": str(n), "problem": f"unexpected{where} (not in the signature)"}
                 for n in got if n not in expected]
    if problems:
        raise SignatureMismatch(problems)


# -- values: the columnar check -----------------------------------------------------------------

class Rows:
    """Checked rows as typed numpy columns, in the signature's order. The DataFrame is built
    only when something asks for it: the compiled pipeline (fastpath.py) reads the columns
    directly, and building a 30-column frame for a 100-row request cost more than checking
    its values (measured: 1.2 vs 0.6 ms)."""

    __slots__ = ("columns", "names", "_frame")

    def __init__(self, columns: dict[str, np.ndarray], names: list[str]):
        self.columns, self.names, self._frame = columns, names, None

    def __len__(self) -> int:
        return len(self.columns[self.names[0]]) if self.names else 0

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = pd.DataFrame(self.columns, columns=self.names)
        return self._frame

    def block(self, names: list[str], dtype: Any) -> np.ndarray:
        """The columns ``names`` as one 2-D array of ``dtype``."""
        out = np.empty((len(self), len(names)), dtype=dtype)
        for j, n in enumerate(names):
            out[:, j] = self.columns[n]
        return out

    @staticmethod
    def concat(parts: list[Rows]) -> Rows:
        names = parts[0].names
        return Rows({n: np.concatenate([p.columns[n] for p in parts]) for n in names}, names)


@dataclass
class Checked:
    """The rows to predict and the schema violations found (empty when every value fits)."""
    rows: Rows
    violations: list[dict[str, Any]] = field(default_factory=list)

    @property
    def frame(self) -> pd.DataFrame:
        return self.rows.frame


class _Fallback(Exception):
    """The columnar form cannot take this column as it is: use the per-value check."""


_ARROW_OK = {
    "number": (pa.types.is_floating, pa.types.is_integer),
    "integer": (pa.types.is_integer, pa.types.is_floating),
    "boolean": (pa.types.is_boolean,),
    "string": (pa.types.is_string, pa.types.is_large_string),
}


def _numeric(f: Feature, values: np.ndarray) -> np.ndarray:
    """A number column as float64 (NaN for nulls) or, integers without nulls, int64; raises for
    NaN where the signature has no nulls, infinities and (integers) fractions."""
    if values.dtype.kind != "f":
        return values.astype(np.float64) if f.kind == "number" else values.astype(np.int64, copy=False)
    nan = np.isnan(values)
    any_nan = bool(nan.any())
    if any_nan and not f.nullable:
        raise SignatureMismatch([_null_problem(f, int(np.flatnonzero(nan)[0]))])
    bad = np.isinf(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SignatureMismatch([_type_problem(f, float(values[i]), i)])
    if f.kind == "integer":
        with np.errstate(invalid="ignore"):
            whole = nan | ((values == np.floor(values)) & (np.abs(values) < 2.0**63))
        if not whole.all():
            i = int(np.flatnonzero(~whole)[0])
            raise SignatureMismatch([_type_problem(f, float(values[i]), i)])
        if not any_nan:
            return values.astype(np.int64)
    return values


def column_values(f: Feature, arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A pyarrow column as the training dtype (float64 NaN / int64 / bool / object with NaN);
    raises SignatureMismatch for a value of the wrong type, _Fallback if unsure."""
    t = arr.type
    nulls = arr.null_count
    if pa.types.is_null(t):
        if not f.nullable and len(arr):
            raise SignatureMismatch([_null_problem(f, 0)])
        return np.full(len(arr), np.nan, dtype=np.float64 if f.kind in ("number", "integer") else object)
    if pa.types.is_dictionary(t):
        arr = arr.cast(t.value_type)
        t = arr.type
    if not any(ok(t) for ok in _ARROW_OK[f.kind]) or pa.types.is_unsigned_integer(t):
        raise _Fallback  # (unsigned: a Python int beyond int64 that pyarrow took as uint64)
    if nulls and not f.nullable:
        raise SignatureMismatch([_null_problem(f, pc.index(pc.is_null(arr), True).as_py())])
    if f.kind in ("number", "integer"):
        if nulls:
            arr = pc.cast(arr, pa.float64())
        return _numeric(f, arr.to_numpy(zero_copy_only=False))
    if f.kind == "boolean":
        if nulls:
            return np.asarray(arr.to_pylist(), dtype=object)
        return arr.to_numpy(zero_copy_only=False).astype(bool)
    values = arr.to_numpy(zero_copy_only=False).astype(object, copy=False)  # str, None for nulls
    if nulls:
        values[pd.isna(values)] = np.nan
    return values


_NONE = type(None)
_PY_TYPES = {"number": {int, float}, "integer": {int, float}, "boolean": {bool}, "string": {str}}


def json_values(f: Feature, raw: list[Any]) -> np.ndarray:
    """A JSON column list as the training dtype. The Python types present are found in C
    (``set(map(type, ...))``: bool is not int here) and the list converted by numpy in one
    call; a list this cannot take exactly as the plain check would goes to it (_Fallback)."""
    types = set(map(type, raw))
    nulls = _NONE in types
    types.discard(_NONE)
    if not types <= _PY_TYPES[f.kind]:
        raise _Fallback
    if nulls and not f.nullable:
        raise SignatureMismatch([_null_problem(f, raw.index(None))])
    if f.kind in ("number", "integer"):
        try:
            if types == {int} and not nulls:
                values = np.asarray(raw, dtype=np.int64)
            else:
                values = np.asarray(raw, dtype=np.float64)  # None -> NaN
        except (OverflowError, ValueError, TypeError) as exc:
            raise _Fallback from exc
        if int in types and f.kind == "number" and values.dtype.kind == "f" and len(values) and \
                np.nanmax(np.abs(values), initial=0.0) > 1e300:
            raise _Fallback  # an integer the plain check refuses as beyond what numpy holds
        return _numeric(f, values)
    if f.kind == "boolean":
        return np.asarray(raw, dtype=object if nulls else bool)
    values = np.asarray(raw, dtype=object)
    if nulls:
        values[np.equal(values, None)] = np.nan
    return values


def _null_problem(f: Feature, row: int) -> dict[str, str]:
    return {"feature": f.name, "problem": f"null/NaN in row {row} but the model's signature does not accept "
                                         "missing values"}


def _type_problem(f: Feature, v: Any, row: int) -> dict[str, str]:
    return {"feature": f.name, "problem": f"must be {_EXPECT[f.kind]}, got {v!r:.40} in row {row}"}


def violations_of(f: Feature, values: np.ndarray, spec: Spec, offset: int = 0) -> list[dict[str, Any]]:
    """Schema violations of one typed column: values the declared schema forbids."""
    out: list[dict[str, Any]] = []

    def add(mask: np.ndarray, what: str) -> None:
        if mask.any():
            idx = np.flatnonzero(mask)
            first = values[idx[0]]
            first = first.item() if hasattr(first, "item") else first
            out.append({"feature": f.name, "problem": f"{what}, got {first!r:.40} in row {idx[0] + offset}",
                        "rows": int(len(idx)), "first_row": int(idx[0] + offset)})

    if f.kind in ("number", "integer"):
        v = values.astype(np.float64, copy=False)
        with np.errstate(invalid="ignore"):
            if f.allowed is not None:
                add(~np.isnan(v) & ~np.isin(v, np.asarray(f.allowed, dtype=np.float64)),
                    f"must be one of {_show(f.allowed)}")
            lo = f.min if f.min is not None else -spec.max_abs_value
            hi = f.max if f.max is not None else spec.max_abs_value
            add((v < lo) | (v > hi), f"must be in [{_num(lo)}, {_num(hi)}]"
                + ("" if f.min is not None or f.max is not None else " (serving.max_abs_value; declare the "
                                                                       "column's min/max in the dataset to change it)"))
    elif f.kind == "string":
        present = values[~pd.isna(values)] if f.nullable else values
        if f.allowed is not None:  # pandas' hash table: isin on an object array sorts instead
            bad = ~pd.isna(values) & ~pd.Series(values, copy=False).isin(f.allowed).to_numpy()
            add(bad, f"must be one of {_show(f.allowed)}")
        elif len(present):
            lengths = np.frompyfunc(len, 1, 1)(np.where(pd.isna(values), "", values)).astype(np.int64)
            add(lengths > spec.max_string_chars, f"must be at most {spec.max_string_chars} characters "
                                                 "(serving.max_string_chars)")
    return out


def _show(allowed: tuple) -> str:
    return "[" + ", ".join(json.dumps(a) if isinstance(a, str) else _num(a) for a in allowed) + "]"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e16 else repr(float(x))


def check_columns(cols: dict[str, list[Any]], spec: Spec) -> Checked:
    """Type-check JSON column lists (column-wise), build the frame, collect schema violations."""
    data: dict[str, Any] = {}
    problems: list[dict[str, Any]] = []
    violations: list[dict[str, Any]] = []
    for f in spec.features:
        raw = cols[f.name]
        try:
            values = json_values(f, raw)
        except _Fallback:
            try:
                values = _plain_column(f, raw)
            except SignatureMismatch as exc:
                problems += exc.problems
                continue
        except SignatureMismatch as exc:
            problems += exc.problems
            continue
        data[f.name] = values
        violations += violations_of(f, values, spec)
    if problems:
        raise SignatureMismatch(problems)
    return Checked(Rows(data, spec.names), violations)


def check_table(table: pa.Table, spec: Spec, offset: int = 0) -> Checked:
    """A batch chunk read by pyarrow: the signature's columns typed like training, plus violations.
    Row numbers in messages count from ``offset`` (the chunk's first row in the file)."""
    missing = [n for n in spec.names if n not in table.column_names]
    if missing:
        raise ServingError(f"the input lacks the model's feature column(s) {', '.join(map(repr, missing))} "
                           f"(it has {', '.join(map(repr, table.column_names[:10]))}); fix the file's header")
    data: dict[str, Any] = {}
    violations: list[dict[str, Any]] = []
    for f in spec.features:
        col = table.column(f.name)
        try:
            values = column_values(f, col)
        except _Fallback:
            values = _plain_column(f, col.to_pylist(), offset)
        except SignatureMismatch as exc:
            raise SignatureMismatch([_shift(p, offset) for p in exc.problems]) from None
        data[f.name] = values
        violations += violations_of(f, values, spec, offset)
    return Checked(Rows(data, spec.names), violations)


def _shift(p: dict[str, Any], offset: int) -> dict[str, Any]:
    if not offset:
        return p
    return {**p, "problem": re.sub(r"in row (\d+)", lambda m: f"in row {int(m.group(1)) + offset}", p["problem"])}


# -- values: the plain per-value check (the reference, and the fallback) ------------------------

def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _type_ok(kind: str, v: Any) -> bool:
    if kind in ("number", "integer"):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return False
        if isinstance(v, float):  # NaN was handled as missing; inf is no measurement
            return not math.isinf(v) and (kind == "number" or (v.is_integer() and abs(v) <= INT64))
        return abs(v) <= (INT64 if kind == "integer" else 1e300)  # beyond these numpy cannot hold it
    if kind == "boolean":
        return isinstance(v, bool)
    return isinstance(v, str)


def _plain_column(f: Feature, values: list[Any], offset: int = 0) -> np.ndarray:
    has_null = False
    for i, v in enumerate(values):
        if _is_missing(v):
            has_null = True
            if not f.nullable:
                raise SignatureMismatch([_null_problem(f, i + offset)])
        elif not _type_ok(f.kind, v):
            raise SignatureMismatch([_type_problem(f, v, i + offset)])
    if f.kind == "integer" and not has_null:
        return np.asarray(values, dtype=np.float64).astype(np.int64) if any(
            isinstance(v, float) for v in values) else np.asarray(values, dtype=np.int64)
    if f.kind in ("number", "integer"):
        return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
    if f.kind == "boolean":
        return np.asarray(values, dtype=object if has_null else bool)
    return np.asarray([np.nan if _is_missing(v) else v for v in values], dtype=object)


def frame(cols: dict[str, list[Any]], spec: Spec) -> pd.DataFrame:
    """The plain path: type- and null-check every value one at a time, then build the frame."""
    problems: list[dict[str, Any]] = []
    data: dict[str, Any] = {}
    for f in spec.features:
        try:
            data[f.name] = _plain_column(f, cols[f.name])
        except SignatureMismatch as exc:
            problems += exc.problems
    if problems:
        raise SignatureMismatch(problems)
    return pd.DataFrame(data, columns=spec.names)


def check_frame(df: pd.DataFrame, spec: Spec) -> Checked:
    """A DataFrame (the Python API): the signature's columns (extra ones ignored), typed like training."""
    missing = [n for n in spec.names if n not in df.columns]
    if missing:
        raise ServingError(f"the input lacks the model's feature column(s) {', '.join(map(repr, missing))} "
                           f"(it has {', '.join(map(repr, map(str, df.columns[:10])))}); fix the frame's columns")
    return check_columns({n: df[n].tolist() for n in spec.names}, spec)


def refuse_violations(violations: list[dict[str, Any]]) -> None:
    """Raise the violations as a mismatch (the `reject` policy)."""
    if violations:
        raise SignatureMismatch(violations)
