"""The compact window reader gives the plain reader's rows, and says None where it cannot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pyarrow as pa
import pyarrow.parquet as pq

from mlplat.serving import predlog_columns
from mlplat.serving.predlog import PredictionLog, read_prediction_log, version_counts
from mlplat.serving.predlog_columns import read_window_columns

DAY = 86400.0
T0 = 20000 * DAY
COLS = ["input.tenure", "input.charges", "input.region", "input.plan", "proba.1"]


def _fill(tmp_path: Path, rng: np.random.Generator) -> PredictionLog:
    """Three days of flushes of version 1 (ints, floats with gaps, strings with gaps, a column whose
    distinct values outgrow int8 codes) and a few rows of version 2."""
    log = PredictionLog(tmp_path)
    for i in range(60):
        n = int(rng.integers(1, 40))
        ts = T0 + i * 3600.0
        inputs = pd.DataFrame({
            "tenure": rng.integers(0, 72, n),
            "charges": np.where(rng.random(n) < 0.1, np.nan, rng.normal(50, 10, n)),
            "region": pd.Series(rng.choice(["north", "south", "west", None], n), dtype=object),
            "plan": [f"plan-{int(k)}" for k in rng.integers(0, 300, n)],  # > 127 categories in all
        })
        p = rng.random(n)
        assert log.append(ts=ts, request_id=f"r{i}", model="churn", version=1, latency_ms=1.0, inputs=inputs,
                          predictions=(p > 0.5).astype(int).tolist(), proba=[[1 - x, x] for x in p], classes=[0, 1])
        if i % 6 == 0:
            log.flush()  # files of different sizes and dictionaries
    log.append(ts=T0 + 5, request_id="v2", model="churn", version=2, latency_ms=1.0,
               inputs=pd.DataFrame({"tenure": [1, 2]}), predictions=[0, 1], proba=[[0.5, 0.5]] * 2, classes=[0, 1])
    log.flush()
    return log


def _same_rows(compact: pd.DataFrame, plain: pd.DataFrame) -> None:
    assert list(compact.columns) == list(plain.columns)
    key = list(compact.columns)
    a = compact.astype({c: object for c in key if isinstance(compact[c].dtype, pd.CategoricalDtype)})
    b = plain.astype({c: object for c in key if plain[c].dtype != np.float64 and plain[c].dtype.kind != "i"})
    a = a.sort_values(key, kind="stable", na_position="first").reset_index(drop=True)
    b = b.sort_values(key, kind="stable", na_position="first").reset_index(drop=True)
    pdt.assert_frame_equal(a.astype(object).where(a.notna(), None), b.astype(object).where(b.notna(), None))


def test_a_window_equals_the_plain_read(tmp_path: Path):
    _fill(tmp_path, np.random.default_rng(0))
    since, until = T0 + 7.5 * 3600, T0 + 50 * 3600  # cuts files at both ends
    compact = read_window_columns("churn", since, until, root=tmp_path, version=1, columns=COLS)
    plain = read_prediction_log("churn", since, root=tmp_path, until=until, version=1, columns=COLS, ordered=False)
    assert compact is not None and 0 < len(compact) < len(read_prediction_log("churn", root=tmp_path))
    _same_rows(compact, plain)
    assert isinstance(compact["input.region"].dtype, pd.CategoricalDtype)
    assert compact["input.plan"].cat.codes.dtype == np.int16  # widened past 127 categories
    assert compact["input.region"].isna().any() and compact["input.charges"].isna().any()


def test_other_versions_are_counted_without_reading_them(tmp_path: Path):
    _fill(tmp_path, np.random.default_rng(1))
    plain = read_prediction_log("churn", T0 + 2, root=tmp_path, until=T0 + 30 * 3600)
    assert version_counts("churn", T0 + 2, root=tmp_path, until=T0 + 30 * 3600) == {
        int(v): int(n) for v, n in plain["version"].value_counts().items()}


def _part(root: Path, model: str, ts: float, table: pa.Table, tag: str) -> None:
    part = root / f"model={model}" / "version=1" / "date=2024-10-04"
    part.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, part / f"part-{int(ts * 1000)}-{int(ts * 1000)}-{tag}.parquet")


def test_ints_with_a_gap_in_a_later_file_become_floats(tmp_path: Path):
    _part(tmp_path, "churn", T0, pa.table({"ts": [T0, T0], "input.tenure": pa.array([3, 4], pa.int64())}), "a")
    _part(tmp_path, "churn", T0 + 1, pa.table({"ts": [T0 + 1] * 2, "input.tenure": pa.array([None, 5], pa.int64())}),
          "b")
    got = read_window_columns("churn", None, None, root=tmp_path, version=1, columns=["input.tenure"])
    assert got["input.tenure"].dtype == np.float64
    assert sorted(got["input.tenure"].fillna(-1).tolist()) == [-1.0, 3.0, 4.0, 5.0]


def test_shapes_it_does_not_take_read_plainly(tmp_path: Path, monkeypatch):
    log = PredictionLog(tmp_path)
    log.append(ts=T0, request_id="a", model="churn", version=1, latency_ms=1.0,
               inputs=pd.DataFrame({"region": ["north", "south", "west"]}), predictions=[0, 1, 0],
               proba=[[0.5, 0.5]] * 3, classes=[0, 1])
    log.flush()
    monkeypatch.setattr(predlog_columns, "MAX_CATEGORIES", 2)
    assert read_window_columns("churn", None, None, root=tmp_path, version=1, columns=["input.region"]) is None
    # a nested input
    _part(tmp_path, "nested", T0, pa.table({"ts": [T0], "input.tags": [[1, 2]]}), "x")
    assert read_window_columns("nested", None, None, root=tmp_path, version=1, columns=["input.tags"]) is None
    # the earlier layout is merged by the plain reader only
    (tmp_path / "churn").mkdir()
    assert read_window_columns("churn", None, None, root=tmp_path, version=1, columns=["input.region"]) is None


def test_an_empty_window_is_an_empty_frame(tmp_path: Path):
    _fill(tmp_path, np.random.default_rng(2))
    got = read_window_columns("churn", T0 + 400 * DAY, None, root=tmp_path, version=1, columns=COLS)
    assert got is not None and got.empty and list(got.columns) == COLS


def test_a_window_in_object_storage_equals_the_plain_read(s3_bucket):
    bucket, endpoint = s3_bucket
    root, options = f"{bucket}/predictions", {"client_kwargs": {"endpoint_url": endpoint}}
    log = PredictionLog(root, storage_options=options)
    rng = np.random.default_rng(4)
    for i in range(3):
        n = 5 + i
        log.append(ts=T0 + i * 3600.0, request_id=f"r{i}", model="churn", version=1, latency_ms=1.0,
                   inputs=pd.DataFrame({"tenure": rng.integers(0, 9, n), "region": rng.choice(["a", "b"], n)}),
                   predictions=[0] * n, proba=[[0.5, 0.5]] * n, classes=[0, 1])
        log.flush()
    cols = ["input.tenure", "input.region", "proba.1"]
    compact = read_window_columns("churn", T0 + 1, None, root=root, version=1, columns=cols, storage_options=options)
    plain = read_prediction_log("churn", T0 + 1, root=root, version=1, columns=cols, ordered=False,
                                storage_options=options)
    assert compact is not None and len(compact) == 13
    _same_rows(compact, plain)
