"""The prediction log writes exactly the rows it was given, whatever mix of requests a flush holds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandas.testing as pdt

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
