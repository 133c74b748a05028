"""Check request rows against a version's signature and build the frame the model expects.

Compiled once per loaded version (``Spec``) so a request only walks its values. A problem
is reported per feature ("missing", "unexpected", "must be a number, got 'abc' in row 2",
"null in row 0 but the model does not accept missing values") and the caller answers 422
(HTTP) or raises ServingError (batch) with them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlplat.errors import ServingError

MAX_REPORTED = 20


class SignatureMismatch(ServingError):
    """Input rows do not fit the signature; ``problems`` lists each feature's problem."""

    def __init__(self, problems: list[dict[str, str]]):
        self.problems = problems[:MAX_REPORTED]
        head = "; ".join(f"feature {p['feature']!r}: {p['problem']}" for p in self.problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__(f"input does not match the model's signature: {head}{more}")


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


@dataclass(frozen=True)
class Spec:
    features: tuple[Feature, ...]

    @classmethod
    def from_signature(cls, signature: dict[str, Any]) -> Spec:
        return cls(tuple(Feature(str(f["name"]), kind_of(str(f["dtype"])), bool(f.get("nullable")))
                         for f in signature.get("inputs") or []))

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def json_schema(self) -> dict[str, Any]:
        types = {"integer": "integer", "number": "number", "boolean": "boolean", "string": "string"}
        return {"type": "object", "additionalProperties": False, "required": self.names,
                "properties": {f.name: {"type": [types[f.kind], "null"] if f.nullable else types[f.kind]}
                               for f in self.features}}


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


INT64 = 2**63 - 1


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


_EXPECT = {"number": "a finite number", "integer": "a whole number", "boolean": "true or false", "string": "a string"}


def columns_from_body(body: Any, spec: Spec, max_rows: int) -> dict[str, list[Any]]:
    """{"records": [...]} / a bare list of records / {"columns": {...}} -> column lists, shape-checked."""
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
    records = body.get("records") if isinstance(body, dict) and len(body) == 1 else body
    if not isinstance(records, list):
        raise ServingError('the body must be {"records": [{feature: value, ...}, ...]} or '
                           '{"columns": {feature: [values]}}')
    _check_rows(len(records), max_rows)
    names = spec.names
    cols: dict[str, list[Any]] = {n: [] for n in names}
    for i, rec in enumerate(records):
        if not isinstance(rec, dict):
            raise ServingError(f"record {i} must be an object of feature -> value, got {type(rec).__name__}")
        if len(rec) != len(names) or any(n not in rec for n in names):
            _check_names(list(rec), spec, row=i)
        for n in names:
            cols[n].append(rec[n])
    return cols


def _check_rows(n: int, max_rows: int) -> None:
    if n == 0:
        raise ServingError("the request has no rows; send at least one record")
    if n > max_rows:
        raise TooManyRows(f"the request has {n} rows, more than the limit of {max_rows}; split it or use "
                          "`mlplat predict` for files")


class TooManyRows(ServingError):
    """More rows than serving.max_rows."""


def _check_names(got: list[str], spec: Spec, row: int | None = None) -> None:
    where = f" in record {row}" if row is not None else ""
    expected = set(spec.names)
    problems = [{"feature": n, "problem": f"missing{where}"} for n in spec.names if n not in got]
    problems += [{"feature": str(n), "problem": f"unexpected{where} (not in the signature)"}
                 for n in got if n not in expected]
    if problems:
        raise SignatureMismatch(problems)


def frame(cols: dict[str, list[Any]], spec: Spec) -> pd.DataFrame:
    """Type- and null-check every value, then build the frame with the training dtypes."""
    problems: list[dict[str, str]] = []
    data: dict[str, Any] = {}
    for f in spec.features:
        values = cols[f.name]
        has_null = False
        for i, v in enumerate(values):
            if _is_missing(v):
                has_null = True
                if not f.nullable:
                    problems.append({"feature": f.name, "problem": f"null/NaN in row {i} but the model's signature "
                                                                    "does not accept missing values"})
                    break
            elif not _type_ok(f.kind, v):
                problems.append({"feature": f.name, "problem": f"must be {_EXPECT[f.kind]}, got {v!r:.40} in row {i}"})
                break
        if problems and problems[-1]["feature"] == f.name:
            continue
        if f.kind == "integer" and not has_null:
            data[f.name] = np.asarray(values, dtype=np.float64).astype(np.int64) if any(
                isinstance(v, float) for v in values) else np.asarray(values, dtype=np.int64)
        elif f.kind in ("number", "integer"):
            data[f.name] = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
        elif f.kind == "boolean":
            data[f.name] = np.asarray(values, dtype=object if has_null else bool)
        else:
            data[f.name] = np.asarray([np.nan if v is None else v for v in values], dtype=object)
    if problems:
        raise SignatureMismatch(problems)
    return pd.DataFrame(data, columns=spec.names)


def check_frame(df: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    """A batch file's chunk: the signature's columns (extra ones ignored), typed like training."""
    missing = [n for n in spec.names if n not in df.columns]
    if missing:
        raise ServingError(f"the input lacks the model's feature column(s) {', '.join(map(repr, missing))} "
                           f"(it has {', '.join(map(repr, map(str, df.columns[:10])))}); fix the file's header")
    cols = {n: df[n].tolist() for n in spec.names}
    return frame(cols, spec)
