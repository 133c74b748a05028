"""Reports: JSON-safe output and a compact self-contained HTML page."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from mlplat.monitoring import build_profile, check_drift, to_html, to_json


def _frames(n: int = 20_000) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str]]:
    rng = np.random.default_rng(0)
    numeric = [f"num_{i}" for i in range(20)]
    categorical = [f"cat_{i}" for i in range(5)]
    ref = pd.DataFrame({c: rng.normal(size=n) for c in numeric})
    cur = pd.DataFrame({c: rng.normal(0.5 if i < 3 else 0.0, size=n) for i, c in enumerate(numeric)})
    for c in categorical:
        ref[c] = rng.choice([f"v{i}" for i in range(30)], n)
        cur[c] = rng.choice([f"v{i}" for i in range(33)], n)
    return ref, cur, numeric, categorical


def test_json_and_html_report() -> None:
    ref, cur, numeric, categorical = _frames()
    profile = build_profile(ref, numeric=numeric, categorical=categorical)
    cur["num_5"] = cur["num_5"].astype(object)
    cur.loc[:10, "num_5"] = "bad"  # an error row must render too
    result = check_drift(json.loads(json.dumps(profile)), cur, predictions=np.zeros(len(cur)))
    payload = to_json(result)
    assert json.loads(json.dumps(payload, allow_nan=False))["status"] == result.status
    page = to_html(result, title="Nightly <drift>")
    assert len(page.encode()) < 1_000_000
    assert page.count("<svg") == 24  # 25 features minus the one in error
    assert "Nightly &lt;drift&gt;" in page
    # worst first: drifted numeric columns come before the ok ones
    assert page.index(">num_0<") < page.index(">num_10<")
    assert "no reference predictions" in page


def test_headline_says_which_part_drifted() -> None:
    rng = np.random.default_rng(3)
    numeric = [f"num_{i}" for i in range(5)]
    ref = pd.DataFrame({c: rng.normal(size=800) for c in numeric})
    cur = pd.DataFrame({c: rng.normal(size=300) for c in numeric})  # the features did not move
    profile = build_profile(ref, numeric=numeric, categorical=[], predictions=rng.beta(2, 5, 800))
    result = check_drift(profile, cur, predictions=rng.beta(5, 2, 300))  # the model's outputs did
    assert result.status == "drift" and not result.dataset_drift and result.n_drifted == 0
    assert result.verdict.startswith("prediction drifted (ks p=") and "0/5 features drifted" in result.verdict
    page = to_html(result)
    assert "prediction drifted (ks p=" in page and "0/5 features drifted" in page
    cur[numeric[:3]] += 2.0  # now the features moved and the outputs did not
    features_only = check_drift(profile, cur, predictions=rng.beta(2, 5, 300))
    assert features_only.dataset_drift and features_only.predictions["prediction"].status == "ok"
    assert features_only.verdict == "dataset drift: 3/5 features drifted (share 60% >= 50%)"


def test_plots_draw_few_valued_columns_per_value_and_others_on_shared_fixed_width_bins() -> None:
    rng = np.random.default_rng(1)
    n = 20_000
    ref = pd.DataFrame({"flag": rng.integers(0, 2, n), "x": rng.normal(size=n)})
    cur = pd.DataFrame({"flag": rng.integers(0, 2, 3000), "x": rng.normal(size=3000)})
    profile = build_profile(ref, numeric=["flag", "x"], categorical=[])
    plots = {name: f["plot"] for name, f in to_json(check_drift(profile, cur))["features"].items()}

    flag = plots["flag"]  # a 0/1 column: two bars, not one "[0, 1)" bin holding everything
    assert flag["type"] == "bar" and flag["labels"] == ["0", "1"]
    assert flag["ref"] == [float(v) for v in ref["flag"].value_counts(normalize=True).sort_index()]

    x = plots["x"]
    edges = np.asarray(x["edges"])
    assert np.allclose(np.diff(edges), np.diff(edges)[0])  # fixed width
    assert edges[0] == ref["x"].min() and edges[-1] == ref["x"].max()
    # the reference's shares are its density on those bins (within the sketch's 1/2000), not flat
    expected = np.histogram(ref["x"], edges)[0] / n
    assert np.abs(np.asarray(x["ref"]) - expected).max() < 2e-3
    assert max(x["ref"]) > 10 * min(x["ref"])
    assert np.allclose(x["cur"], np.histogram(np.clip(cur["x"], edges[0], edges[-1]), edges)[0] / len(cur))
    assert "[0, 1)" not in to_html(check_drift(profile, cur))
