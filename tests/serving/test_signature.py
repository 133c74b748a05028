"""The request/batch signature check in process: the columnar check against the plain
per-value one, schema violations (allowed set, range, magnitude, string length), and the
body limit derived from max_rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlplat.serving import signature as sig

SIGNATURE = {"inputs": [
    {"name": "tenure", "dtype": "int64", "nullable": False, "min": 0, "max": 120},
    {"name": "charges", "dtype": "float64", "nullable": True, "min": 0, "max": 500},
    {"name": "score", "dtype": "float64", "nullable": False},
    {"name": "flag", "dtype": "bool", "nullable": False},
    {"name": "contract", "dtype": "object", "nullable": False, "allowed": ["month", "year"]},
    {"name": "note", "dtype": "object", "nullable": True},
]}
SPEC = sig.Spec.from_signature(SIGNATURE, max_string_chars=10, max_abs_value=1e6)
GOOD = {"tenure": [1, 2], "charges": [10.5, None], "score": [0.5, -2], "flag": [True, False],
        "contract": ["month", "year"], "note": ["a", None]}

VALUE = (st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
         | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=4))


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(cols=st.fixed_dictionaries({n: st.lists(VALUE, min_size=3, max_size=3) for n in SPEC.names}))
def test_the_columnar_check_gives_the_plain_paths_frame_or_refuses_as_it_does(cols):
    try:
        plain = sig.frame(cols, SPEC)
    except sig.SignatureMismatch:
        with pytest.raises(sig.SignatureMismatch):
            sig.check_columns(cols, SPEC)
        return
    fast = sig.check_columns(cols, SPEC).frame
    pd.testing.assert_frame_equal(fast, plain)


def test_a_good_request_has_no_violations_and_the_frame_has_training_dtypes():
    checked = sig.check_columns(GOOD, SPEC)
    assert checked.violations == []
    assert checked.frame.dtypes.astype(str).tolist()[:4] == ["int64", "float64", "float64", "bool"]
    pd.testing.assert_frame_equal(checked.frame, sig.frame(GOOD, SPEC))


@pytest.mark.parametrize("feature, value, needle", [
    ("contract", "weekly", 'must be one of ["month", "year"], got \'weekly\' in row 1'),
    ("tenure", -3, "must be in [0, 120], got -3 in row 1"),
    ("charges", 1e308, "must be in [0, 500]"),
    ("score", 1e308, "must be in [-1000000, 1000000] (serving.max_abs_value"),
    ("note", "x" * 100_000, "must be at most 10 characters (serving.max_string_chars)"),
])
def test_values_the_schema_forbids_are_violations_naming_the_feature_and_the_allowed_values(feature, value, needle):
    cols = {**GOOD, feature: [GOOD[feature][0], value]}
    checked = sig.check_columns(cols, SPEC)
    assert [(v["feature"], v["rows"], v["first_row"]) for v in checked.violations] == [(feature, 1, 1)]
    assert needle in checked.violations[0]["problem"]
    with pytest.raises(sig.SignatureMismatch, match=f"feature '{feature}'"):
        sig.refuse_violations(checked.violations)


def test_a_batch_table_is_checked_column_wise_with_row_numbers_of_the_file():
    table = pa.table({**{k: v for k, v in GOOD.items()}, "extra": ["p", "q"]})
    assert sig.check_table(table, SPEC).violations == []
    bad = pa.table({**GOOD, "tenure": pa.array([5, -1])})
    (v,) = sig.check_table(bad, SPEC, offset=1000).violations
    assert v["first_row"] == 1001 and "in row 1001" in v["problem"]
    nulls = pa.table({**GOOD, "score": pa.array([1.0, None])})
    with pytest.raises(sig.SignatureMismatch, match="feature 'score': null/NaN in row 1001"):
        sig.check_table(nulls, SPEC, offset=1000)
    with pytest.raises(sig.ServingError, match="lacks the model's feature column.*'note'"):
        sig.check_table(pa.table({k: v for k, v in GOOD.items() if k != "note"}), SPEC)


def test_max_rows_records_of_the_longest_allowed_values_fit_the_derived_body_limit():
    longest = {"tenure": -1.2345678901234567e-300, "charges": -1.2345678901234567e-300,
               "score": -1.2345678901234567e-300, "flag": False, "contract": "month", "note": "\u2028" * 10}
    body = json.dumps({"records": [longest] * 10_000}).encode()
    assert len(body) <= SPEC.body_limit(10_000)
    assert SPEC.body_limit(10_000) < 2 * len(body)  # derived, not just large


def test_bare_lists_and_other_shapes_are_refused_naming_what_was_sent():
    with pytest.raises(sig.ServingError, match='must be {"records".*got a JSON list'):
        sig.columns_from_body([{"tenure": 1}], SPEC, 100)
    with pytest.raises(sig.ServingError, match="got an object with keys"):
        sig.columns_from_body({"rows": []}, SPEC, 100)


def test_integers_beyond_int64_and_mixed_types_fall_back_to_the_per_value_message():
    with pytest.raises(sig.SignatureMismatch, match="feature 'tenure': must be a whole number, got 9223372036854775808"):
        sig.check_columns({**GOOD, "tenure": [1, 2**63]}, SPEC)
    with pytest.raises(sig.SignatureMismatch, match="feature 'score': must be a finite number, got True in row 1"):
        sig.check_columns({**GOOD, "score": [1.0, True]}, SPEC)
    assert np.array_equal(sig.check_columns({**GOOD, "tenure": [1.0, 2.0]}, SPEC).frame["tenure"], [1, 2])
