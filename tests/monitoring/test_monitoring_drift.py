"""Drift detection behaviour: injected drift is found, no-drift stays quiet, bad input degrades."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlplat.monitoring import build_profile, check_drift

NUMERIC = ["n_normal", "n_expo", "n_uniform", "n_int"]
CATEGORICAL = ["c_small", "c_large"]


def make_frame(n: int, seed: int, *, null_share: float = 0.02) -> pd.DataFrame:
    """Mixed-type frame; every column keeps the same distribution for any seed."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "n_normal": rng.normal(10.0, 2.0, n),
            "n_expo": rng.exponential(3.0, n),
            "n_uniform": rng.uniform(-1.0, 1.0, n),
            "n_int": rng.integers(0, 50, n).astype(np.int64),
            "c_small": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
            "c_large": rng.choice([f"k{i}" for i in range(12)], n),
        }
    )
    mask = rng.random(n) < null_share
    df.loc[mask, "n_normal"] = np.nan
    return df


def feature(result, name):  # noqa: ANN001, ANN201 - tiny test helper
    return result.features[name]


# ------------------------------------------------------------------ injected drift


@pytest.mark.parametrize("n", [500, 5000])
def test_mean_shift_detected(n: int) -> None:
    ref, cur = make_frame(n, 1), make_frame(n, 2)
    cur["n_normal"] += 1.0  # half a standard deviation
    res = check_drift(ref, cur)
    f = feature(res, "n_normal")
    assert f.method == ("ks" if n <= 1000 else "wasserstein")
    assert f.drifted and f.status == "drift"
    assert feature(res, "n_expo").status != "drift"


@pytest.mark.parametrize("n", [500, 5000])
def test_scale_change_detected(n: int) -> None:
    ref, cur = make_frame(n, 3), make_frame(n, 4)
    cur["n_uniform"] *= 2.0
    assert feature(check_drift(ref, cur), "n_uniform").status == "drift"


@pytest.mark.parametrize("n", [500, 5000])
def test_new_category_detected(n: int) -> None:
    ref, cur = make_frame(n, 5), make_frame(n, 6)
    cur.loc[cur.index[: n // 5], "c_small"] = "zz_new"
    f = feature(check_drift(ref, cur), "c_small")
    assert f.status == "drift" and f.drifted
    assert f.unseen_categories == ["zz_new"]
    assert f.unseen_share == pytest.approx(0.2, abs=0.01)


def test_rare_new_category_is_a_warning() -> None:
    ref, cur = make_frame(5000, 7), make_frame(5000, 8)
    cur.loc[cur.index[:10], "c_large"] = "brand_new"
    f = feature(check_drift(ref, cur), "c_large")
    assert f.status == "warn" and "unseen" in f.reason


@pytest.mark.parametrize("n", [500, 5000])
def test_null_rate_change_detected(n: int) -> None:
    ref, cur = make_frame(n, 9), make_frame(n, 10)
    cur.loc[cur.sample(frac=0.25, random_state=0).index, "n_expo"] = np.nan
    f = feature(check_drift(ref, cur), "n_expo")
    assert not f.drifted  # the distribution of the remaining values is unchanged...
    assert f.status == "drift"  # ...but the null share jumped
    assert f.null_share_change == pytest.approx(0.25, abs=0.03)
    assert "null share" in f.reason


def test_dataset_drift_share() -> None:
    ref, cur = make_frame(3000, 11), make_frame(3000, 12)
    for col in ["n_normal", "n_expo", "n_uniform", "n_int"]:
        cur[col] = cur[col] * 3 + 5
    res = check_drift(ref, cur)
    assert res.n_drifted == 4 and res.n_checked == 6
    assert res.dataset_drift and res.status == "drift"
    assert not check_drift(ref, cur, config={"drift_share": 0.9}).dataset_drift


# ------------------------------------------------------------------ false alarms


@pytest.mark.parametrize(("n", "methods"), [(400, {"ks", "chi2"}), (4000, {"wasserstein", "jensenshannon"})])
def test_false_alarm_rate_across_seeds(n: int, methods: set[str]) -> None:
    alarms = total = 0
    for seed in range(50):
        ref = make_frame(n, 1000 + seed)
        profile = build_profile(ref, numeric=NUMERIC, categorical=CATEGORICAL)
        res = check_drift(profile, make_frame(n, 5000 + seed), config={"n_jobs": 1})
        assert {f.method for f in res.features.values()} == methods
        alarms += sum(f.status == "drift" for f in res.features.values())
        total += len(res.features)
    assert alarms / total <= 0.05, f"{alarms}/{total} false alarms"


# ------------------------------------------------------------------ overrides & predictions


def test_method_override_per_feature_and_threshold() -> None:
    ref, cur = make_frame(3000, 13), make_frame(3000, 14)
    cfg = {"features": {"n_normal": {"method": "psi", "threshold": 0.2}, "c_small": {"method": "chi2"}}}
    res = check_drift(ref, cur, config=cfg)
    assert feature(res, "n_normal").method == "psi"
    assert feature(res, "n_normal").threshold == 0.2
    assert feature(res, "c_small").method == "chi2"
    assert feature(res, "n_expo").method == "wasserstein"


def test_warn_between_half_and_full_threshold() -> None:
    ref, cur = make_frame(5000, 15), make_frame(5000, 16)
    cur["n_normal"] += 0.15 * 2.0  # normed Wasserstein ~0.15
    res = check_drift(ref, cur, config={"features": {"n_normal": {"threshold": 0.2}}})
    f = feature(res, "n_normal")
    assert 0.1 <= f.score < 0.2
    assert f.status == "warn" and not f.drifted


def test_prediction_drift_numeric_and_labels() -> None:
    rng = np.random.default_rng(17)
    ref = make_frame(2000, 17)
    ref_proba = rng.beta(2, 5, 2000)
    profile = build_profile(ref, numeric=NUMERIC, categorical=CATEGORICAL, predictions=ref_proba)
    res = check_drift(profile, make_frame(2000, 18), predictions=rng.beta(5, 2, 2000))
    assert res.predictions["prediction"].status == "drift"
    assert res.status == "drift"
    labels = pd.Series(rng.choice(["cat", "dog"], 2000))
    res2 = check_drift(
        ref, make_frame(2000, 19), predictions=labels, reference_predictions=labels.sample(frac=1.0)
    )
    assert res2.predictions["prediction"].kind == "categorical"
    assert res2.predictions["prediction"].status == "ok"


# ------------------------------------------------------------------ bad input


def test_bad_inputs_give_feature_errors_not_exceptions() -> None:
    ref = make_frame(1500, 20)
    profile = build_profile(ref, numeric=NUMERIC, categorical=CATEGORICAL)
    cur = make_frame(1500, 21).drop(columns=["n_expo"])
    cur["n_int"] = cur["n_int"].astype(str)  # strings that still parse: fine
    cur["n_uniform"] = "oops"  # wrong dtype
    cur["c_large"] = None  # all null
    cur["extra"] = 1.0
    res = check_drift(profile, cur)
    assert res.features["n_expo"].status == "error"
    assert "missing" in res.features["n_expo"].reason
    assert res.features["n_uniform"].status == "error"
    assert "non-numeric" in res.features["n_uniform"].reason
    assert res.features["c_large"].status == "error"
    assert "no non-null" in res.features["c_large"].reason
    assert res.features["n_int"].status in {"ok", "warn"}  # parsed numeric strings are fine
    assert res.ignored_columns == ["extra"]
    assert res.status in {"warn", "drift"} and res.n_checked == 3


def test_empty_current_and_missing_profile() -> None:
    ref = make_frame(200, 22)
    res = check_drift(ref, ref.iloc[0:0])
    assert res.status == "error"
    assert all(f.status == "error" and "empty" in f.reason for f in res.features.values())
    res2 = check_drift(None, ref)
    assert res2.status == "error" and set(res2.features) == set(ref.columns)
    assert all("profile missing" in f.reason for f in res2.features.values())
    res3 = check_drift({"not": "a profile"}, ref)
    assert res3.status == "error"
    res4 = check_drift(ref, "not a frame")  # type: ignore[arg-type]
    assert res4.status == "error"


def test_unknown_method_and_all_null_reference() -> None:
    ref = make_frame(300, 23)
    ref["n_expo"] = np.nan
    res = check_drift(ref, make_frame(300, 24), config={"features": {"n_normal": {"method": "bogus"}}})
    assert res.features["n_normal"].status == "error" and "bogus" in res.features["n_normal"].reason
    assert res.features["n_expo"].status == "error" and "reference" in res.features["n_expo"].reason
    assert res.features["c_small"].status in {"ok", "warn"}


# ------------------------------------------------------------------ profile vs exact


def test_small_profile_round_trip_is_exact() -> None:
    ref, cur = make_frame(3000, 25), make_frame(2500, 26)
    cur["n_normal"] += 0.3
    profile = json.loads(json.dumps(build_profile(ref, numeric=NUMERIC, categorical=CATEGORICAL)))
    for method in ["ks", "wasserstein", "psi", "jensenshannon"]:
        cfg = {"num_method": method}
        exact, prof = check_drift(ref, cur, config=cfg), check_drift(profile, cur, config=cfg)
        for name in NUMERIC + CATEGORICAL:
            assert prof.features[name].score == pytest.approx(exact.features[name].score, abs=1e-12), (
                method,
                name,
            )


# Sketch tolerance (documented): ECDF within 1/n_quantiles, so KS D within 1e-3,
# normed Wasserstein within 5e-3, PSI/JS within 0.01 for n_quantiles=2000.
SKETCH_TOL = {"ks": 1e-3, "wasserstein": 5e-3, "psi": 1e-2, "jensenshannon": 1e-2}


@pytest.mark.parametrize("method", sorted(SKETCH_TOL))
def test_sketch_profile_matches_exact_within_tolerance(method: str) -> None:
    ref, cur = make_frame(60_000, 27), make_frame(40_000, 28)
    cur["n_expo"] *= 1.1
    profile = json.loads(json.dumps(build_profile(ref, numeric=NUMERIC, categorical=CATEGORICAL)))
    assert not profile["features"]["n_normal"]["sample_exact"]
    cfg = {"num_method": method}
    exact, prof = check_drift(ref, cur, config=cfg), check_drift(profile, cur, config=cfg)
    for name in NUMERIC:
        e, p = exact.features[name], prof.features[name]
        assert p.statistic == pytest.approx(e.statistic, abs=SKETCH_TOL[method]), name
        assert p.drifted == e.drifted, name


# ------------------------------------------------------------------ the large-window paths
def test_counted_and_in_place_sorts_equal_numpys_sort_and_leave_the_column_alone() -> None:
    from mlplat.monitoring.feature_drift import _sorted_current

    rng = np.random.default_rng(5)
    cases = [
        pd.Series(rng.integers(-30, 40, 5000)),                       # counted (negative lower end)
        pd.Series(rng.integers(0, 10, 5000).astype(np.uint16)),        # counted, unsigned
        pd.Series(rng.integers(0, 10**9, 500)),                        # too wide a range: sorted
        pd.Series(rng.normal(size=3000)),                              # a view of the caller's floats
        pd.Series(np.where(rng.random(3000) < 0.1, np.nan, rng.normal(size=3000))),  # a private copy
        pd.Series(pd.array([1, None, 3, 2], dtype="Int64")),           # nullable: the general path
        pd.Series([True, False, True]),
    ]
    for series in cases:
        before = series.copy()
        got, n_null, err, counted = _sorted_current(series)
        expected = series.to_numpy(dtype=np.float64, na_value=np.nan)
        expected = np.sort(expected[np.isfinite(expected)])
        assert err is None and n_null == int(series.isna().sum())
        np.testing.assert_array_equal(got, expected)
        pd.testing.assert_series_equal(series, before)  # never sorted in place
        if counted is not None:
            keys, counts = np.unique(expected, return_counts=True)
            np.testing.assert_array_equal(counted[0], keys)
            np.testing.assert_array_equal(counted[1], counts)


def test_clipped_bin_percents_equal_clipping_first() -> None:
    from mlplat.monitoring import stats

    values = np.sort(np.random.default_rng(3).normal(size=2000) * 3)
    for edges in (np.linspace(-2, 2, 21), np.linspace(-20, 20, 5), np.linspace(0.5, 0.7, 3)):
        np.testing.assert_array_equal(stats.clipped_bin_percents(values, edges),
                                      stats.weighted_bin_percents(np.clip(values, edges[0], edges[-1]), edges))


def test_categorical_columns_check_as_their_strings_and_unused_categories_are_not_unseen() -> None:
    ref, cur = make_frame(3000, 0), make_frame(3000, 1)
    as_categories = cur.astype({"c_small": "category", "c_large": "category"})
    as_categories["c_small"] = as_categories["c_small"].cat.add_categories(["never-seen"])
    plain = check_drift(ref, cur).to_dict()
    compact = check_drift(ref, as_categories).to_dict()
    assert compact == plain
    assert compact["features"]["c_small"]["unseen_categories"] == []


def test_thread_count_follows_the_memory_budget(monkeypatch) -> None:
    """A frame whose columns would hold more than CHECK_MEMORY_BYTES at once is checked column by column,
    with the same result."""
    from mlplat.monitoring import drift

    ref, cur = make_frame(3000, 0), make_frame(3000, 1)
    seen = []
    real = drift.ThreadPoolExecutor

    def spy(max_workers):
        seen.append(max_workers)
        return real(max_workers=max_workers)

    monkeypatch.setattr(drift, "ThreadPoolExecutor", spy)
    wide = check_drift(ref, cur, config={"n_jobs": None}).to_dict()
    pools = len(seen)
    monkeypatch.setattr(drift, "CHECK_MEMORY_BYTES", 16 * 3000)
    narrow = check_drift(ref, cur, config={"n_jobs": None}).to_dict()
    assert wide == narrow
    if (drift.os.cpu_count() or 1) > 1:
        assert pools >= 1 and len(seen) == pools  # the narrow run made no pool
