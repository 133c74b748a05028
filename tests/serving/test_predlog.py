"""The prediction log writes exactly the rows it was given, whatever mix of requests a flush holds."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pyarrow.dataset as ds

from mlplat.serving.predlog import PredictionLog, read_prediction_log


def _reference(items: list) -> pd.DataFrame:
    """One plain frame per request, concatenated: what the log must hold, built independently."""
    frames = []
    for ts, rid, name, version, latency, inputs, preds, proba, classes in items:
        f = pd.DataFrame({"ts": ts, "request_id": rid, "row": range(len(inputs)), "model": name,
                          "version": version, "latency_ms": latency}, index=range(len(inputs)))
        f = pd.concat([f, inputs.reset_index(drop=True).add_prefix("input.")], axis=1)
        f["prediction"] = preds
        for j, c in enumerate(classes or []):
            f[f"proba.{c}"] = [p[j] for p in proba]
        frames.append(f)
    return pd.concat(frames, ignore_index=True)


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    df = df.sort_values(["ts", "request_id", "row"], kind="stable").reset_index(drop=True)
    return df.astype({c: "string" for c in df.columns if df[c].dtype == object})[sorted(df.columns)]


def test_a_flush_of_mixed_requests_and_versions_matches_per_request_frames(tmp_path: Path):
    v1 = pd.DataFrame({"tenure": [3, 40], "region": ["north", None], "charges": [10.5, float("nan")]})
    v1_one = pd.DataFrame({"tenure": [7], "region": ["south"], "charges": [99.0]})
    v2 = pd.DataFrame({"tenure": [1.0], "plan": ["gold"]})  # a new version with other inputs and classes
    items = [
        (1000.0, "r1", "churn", 1, 2.5, v1, [0, 1], [[0.9, 0.1], [0.2, 0.8]], [0, 1]),
        (1000.5, "r2", "churn", 1, 1.5, v1_one, [1], [[0.3, 0.7]], [0, 1]),
        (1001.0, "r3", "churn", 2, 3.0, v2, ["b"], [[0.1, 0.2, 0.7]], ["a", "b", "c"]),
        (1001.5, "r4", "churn", 1, 1.0, v1_one, [0], [[0.6, 0.4]], [0, 1]),
    ]
    log = PredictionLog(tmp_path)
    for ts, rid, name, version, latency, inputs, preds, proba, classes in items:
        assert log.append(ts=ts, request_id=rid, model=name, version=version, latency_ms=latency, inputs=inputs,
                          predictions=preds, proba=proba, classes=classes)
    assert log.flush() == 5 and log.dropped == 0
    got = read_prediction_log("churn", root=tmp_path)
    pdt.assert_frame_equal(_normalise(got), _normalise(_reference(items)), check_dtype=False)
    assert got["request_id"].tolist() == ["r1", "r1", "r2", "r3", "r4"]
    assert got["input.region"].isna().tolist() == [False, True, False, True, False]


def test_regression_predictions_without_classes(tmp_path: Path):
    items = [(5.0, "a", "wage", 3, 1.0, pd.DataFrame({"age": [30, 41]}), [10.5, 12.25], None, None)]
    log = PredictionLog(tmp_path)
    ts, rid, name, version, latency, inputs, preds, proba, classes = items[0]
    log.append(ts=ts, request_id=rid, model=name, version=version, latency_ms=latency, inputs=inputs,
               predictions=preds, proba=proba, classes=classes)
    log.flush()
    got = read_prediction_log("wage", root=tmp_path)
    pdt.assert_frame_equal(_normalise(got), _normalise(_reference(items)), check_dtype=False)
    assert not [c for c in got.columns if c.startswith("proba.")]


def _append(log: PredictionLog, ts: float, rid: str, version: int, inputs: dict, preds: list) -> None:
    proba = [[1 - p, p] for p in preds]
    assert log.append(ts=ts, request_id=rid, model="churn", version=version, latency_ms=1.0, inputs=inputs,
                      predictions=preds, proba=proba, classes=[0, 1])


DAY = 86400.0
T0 = 20000 * DAY  # 2024-10-04 00:00 UTC


def test_hive_partitions_by_model_version_and_utc_date_with_worker_unique_names(tmp_path: Path):
    log = PredictionLog(tmp_path)
    _append(log, T0 - 1, "late", 1, {"tenure": [1]}, [0])          # 2024-10-03 23:59:59
    _append(log, T0 + 1, "early", 1, {"tenure": [2, 3]}, [1, 0])   # 2024-10-04
    _append(log, T0 + 2, "v2", 2, {"tenure": [4]}, [1])
    assert log.flush() == 4
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet"))
    assert [f.rsplit("/", 1)[0] for f in files] == ["model=churn/version=1/date=2024-10-03",
                                                   "model=churn/version=1/date=2024-10-04",
                                                   "model=churn/version=2/date=2024-10-04"]
    assert all(f.rsplit("/", 1)[1].split("-")[3] == str(os.getpid()) for f in files)
    # two writers of one service flushing the same rows in the same millisecond still write two files
    other = PredictionLog(tmp_path)
    _append(other, T0 + 2, "v2b", 2, {"tenure": [5]}, [0])
    other.flush()
    assert len(list((tmp_path / "model=churn/version=2/date=2024-10-04").glob("part-*.parquet"))) == 2
    got = read_prediction_log("churn", root=tmp_path)
    assert got["request_id"].tolist() == ["late", "early", "early", "v2", "v2b"]
    assert got["model"].tolist() == ["churn"] * 5 and got["version"].tolist() == [1, 1, 1, 2, 2]
    assert "date" not in got.columns


def test_a_window_reads_only_its_partitions_rows_and_columns(tmp_path: Path, monkeypatch):
    log = PredictionLog(tmp_path)
    for day in range(10):
        _append(log, T0 + day * DAY + 60, f"d{day}", 1, {"tenure": [day], "region": ["north"]}, [day % 2])
    log.flush()
    opened: list[str] = []
    real = ds.FileSystemDatasetFactory

    def spy(fs, paths, *a, **kw):
        opened.extend(paths)
        return real(fs, paths, *a, **kw)

    monkeypatch.setattr(ds, "FileSystemDatasetFactory", spy)
    got = read_prediction_log("churn", T0 + 7 * DAY, root=tmp_path, until=T0 + 8 * DAY + 60,
                              columns=["input.tenure", "version", "missing"])
    assert sorted(got.columns) == ["input.tenure", "version"]
    assert got["input.tenure"].tolist() == [7, 8]
    assert [p.split("date=")[1][:10] for p in opened] == ["2024-10-11", "2024-10-12"]  # 8 other days never opened
    assert read_prediction_log("churn", T0 + 7 * DAY, root=tmp_path, version=2).empty


def test_flushes_with_null_only_or_differently_typed_columns_read_as_one(tmp_path: Path):
    log = PredictionLog(tmp_path)
    _append(log, T0, "a", 1, {"region": [None], "tenure": [3]}, [0])          # region all null: no type
    log.flush()
    _append(log, T0 + 1, "b", 1, {"region": ["south"], "tenure": [4.5]}, [1])  # string; int -> float
    log.flush()
    got = read_prediction_log("churn", root=tmp_path)
    assert got["input.region"].tolist()[1] == "south" and pd.isna(got["input.region"].tolist()[0])
    assert got["input.tenure"].tolist() == [3.0, 4.5]


def test_logs_of_the_earlier_layout_are_still_read(tmp_path: Path):
    old = tmp_path / "churn"
    old.mkdir()
    pd.DataFrame({"ts": [T0 - 5.0], "request_id": ["old"], "row": [0], "model": ["churn"], "version": [1],
                  "latency_ms": [2.0], "input.tenure": [9], "prediction": [1], "proba.0": [0.2], "proba.1": [0.8]}
                 ).to_parquet(old / f"part-{int((T0 - 5) * 1000):013d}-{int((T0 - 5) * 1000):013d}-abcd1234.parquet")
    log = PredictionLog(tmp_path)
    _append(log, T0, "new", 1, {"tenure": [1]}, [0])
    log.flush()
    got = read_prediction_log("churn", root=tmp_path)
    assert got["request_id"].tolist() == ["old", "new"] and got["input.tenure"].tolist() == [9, 1]
    assert read_prediction_log("churn", T0 - 1, root=tmp_path)["request_id"].tolist() == ["new"]


def test_the_log_in_object_storage_on_an_s3_server(s3_bucket):
    bucket, endpoint = s3_bucket
    root, options = f"{bucket}/predictions", {"client_kwargs": {"endpoint_url": endpoint}}
    log = PredictionLog(root, storage_options=options)
    _append(log, T0, "a", 1, {"tenure": [1, 2]}, [0, 1])
    _append(log, T0 + DAY, "b", 1, {"tenure": [3]}, [1])
    assert log.flush() == 3 and log.dropped == 0
    got = read_prediction_log("churn", T0 + 1, root=root, storage_options=options)
    assert got["request_id"].tolist() == ["b"] and got["version"].tolist() == [1]
    assert len(read_prediction_log("churn", root=root, storage_options=options)) == 3


def test_missing_values_of_nullable_pandas_columns_stay_numbers(tmp_path: Path):
    # a frame handed to the log may hold pandas' nullable dtypes, whose missing value is pd.NA
    inputs = pd.DataFrame({"tenure": pd.array([3, None, 7], dtype="Int64"),
                           "charges": pd.array([1.5, None, 2.0], dtype="Float64"),
                           "region": pd.array(["north", None, "south"], dtype="string")})
    log = PredictionLog(tmp_path)
    log.append(ts=T0, request_id="r", model="churn", version=1, latency_ms=1.0, inputs=inputs,
               predictions=[0, 1, 0], proba=None, classes=None)
    assert log.flush() == 3
    got = read_prediction_log("churn", root=tmp_path)
    assert pd.api.types.is_float_dtype(got["input.tenure"]) and pd.api.types.is_float_dtype(got["input.charges"])
    assert got["input.tenure"].isna().tolist() == [False, True, False] and got["input.tenure"][2] == 7
    assert got["input.charges"].isna().tolist() == [False, True, False]
    assert got["input.region"].isna().tolist() == [False, True, False]
