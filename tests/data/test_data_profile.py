"""The profile's figures against pandas/scipy computing the same definitions, on data with gaps and ties."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlplat.data.profile import profile_frame
from mlplat.data.warnings import find_warnings
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks" / "data_profile"))
from make_frame import make_frame  # noqa: E402


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    df = make_frame(20_000, seed=3)
    df["target"] = (df["num_00"].fillna(0) + np.random.default_rng(1).normal(size=len(df)) > 0).astype(int)
    return pd.concat([df, df.iloc[:37]], ignore_index=True)  # 37 duplicated rows


@pytest.fixture(scope="module")
def profile(frame) -> dict:
    return profile_frame(frame, target="target", n_jobs=2)


NUMERIC = [f"num_{i:02d}" for i in range(15)]


def test_counts_missing_shares_means_stds_and_quantiles_match_pandas(frame, profile):
    assert profile["n_rows"] == len(frame) and profile["n_duplicate_rows"] == int(frame.duplicated().sum()) == 37
    for name in NUMERIC:
        col, s = profile["columns"][name], frame[name]
        assert col["n_missing"] == int(s.isna().sum())
        assert col["missing_share"] == pytest.approx(s.isna().mean(), abs=1e-15)
        assert col["n_distinct"] == s.nunique()
        assert col["mean"] == pytest.approx(s.mean(), rel=1e-12)
        assert col["std"] == pytest.approx(s.std(), rel=1e-12)
        assert (col["min"], col["max"]) == (s.min(), s.max())
        for q in (0.05, 0.25, 0.5, 0.75, 0.95):
            assert col["quantiles"][f"{round(q * 100):g}%"] == pytest.approx(s.quantile(q), abs=1e-12)
        counts, _ = np.histogram(s.dropna(), bins=20, range=(s.min(), s.max()))
        assert np.abs(np.array(col["histogram"]["counts"]) - counts).sum() <= 2  # edges: float rounding only
    for name in ("cat_region", "cat_plan", "cat_channel", "cat_segment"):
        col, vc = profile["columns"][name], frame[name].value_counts()
        assert col["n_distinct"] == len(vc) and col["n_missing"] == int(frame[name].isna().sum())
        assert col["top"][0] == {"value": vc.index[0], "count": int(vc.iloc[0]), "share": vc.iloc[0] / vc.sum()}
    assert profile["columns"]["event_time"]["kind"] == "datetime"
    assert any(w["type"] == "datetime" for w in profile["warnings"])


def test_pearson_and_spearman_match_pandas(frame, profile):
    pe = profile["associations"]["pearson"]
    cols = pe["columns"]
    expected = frame[cols].corr()
    assert np.allclose(np.array(pe["matrix"], dtype=float), expected.to_numpy(), atol=1e-9, rtol=0)
    # Spearman ranks each column once: pandas' figure exactly where neither column has gaps
    sp = profile["associations"]["spearman"]
    complete = [c for c in sp["columns"] if frame[c].notna().all()]
    assert len(complete) >= 5
    idx = [sp["columns"].index(c) for c in complete]
    got = np.array(sp["matrix"], dtype=float)[np.ix_(idx, idx)]
    assert np.allclose(got, frame[complete].corr(method="spearman").to_numpy(), atol=1e-9, rtol=0)
    # and close where pandas re-ranks each pair on its common rows
    assert np.allclose(np.array(sp["matrix"], dtype=float), frame[sp["columns"]].corr(method="spearman").to_numpy(),
                       atol=1e-3)


def test_cramers_v_and_correlation_ratio_match_their_definitions(frame, profile):
    cv = profile["associations"]["cramers_v"]
    a, b = "cat_plan", "cat_channel"
    both = frame[[a, b]].dropna()
    chi2 = stats.chi2_contingency(pd.crosstab(both[a], both[b]), correction=False)[0]
    k = min(both[a].nunique(), both[b].nunique()) - 1
    assert cv["matrix"][cv["columns"].index(a)][cv["columns"].index(b)] == pytest.approx(
        np.sqrt(chi2 / (len(both) * k)), abs=1e-9)
    cr = profile["associations"]["correlation_ratio"]
    x, c = "num_03", "cat_segment"
    both = frame[[x, c]].dropna()
    groups = both.groupby(c)[x]
    between = (groups.count() * (groups.mean() - both[x].mean()) ** 2).sum()
    total = ((both[x] - both[x].mean()) ** 2).sum()
    assert cr["matrix"][cr["numeric"].index(x)][cr["categorical"].index(c)] == pytest.approx(
        np.sqrt(between / total), abs=1e-9)



def test_correlation_ratios_of_the_threaded_pass_match_their_definition():
    """From 50,000 rows the correlation ratios are computed on two threads: every cell is still the definition's."""
    frame = make_frame(60_000, seed=5)
    cr = profile_frame(frame)["associations"]["correlation_ratio"]
    for x in cr["numeric"]:
        for c in cr["categorical"]:
            both = frame[[x, c]].dropna()
            groups = both.groupby(c)[x]
            between = (groups.count() * (groups.mean() - both[x].mean()) ** 2).sum()
            total = ((both[x] - both[x].mean()) ** 2).sum()
            assert cr["matrix"][cr["numeric"].index(x)][cr["categorical"].index(c)] == pytest.approx(
                np.sqrt(between / total), abs=1e-9), (x, c)

def test_target_balance_and_auc_against_the_target(frame, profile):
    ts = profile["target_summary"]
    assert ts["task"] == "classification" and ts["n_classes"] == 2
    assert sum(c["count"] for c in ts["classes"]) == len(frame)
    from sklearn.metrics import roc_auc_score

    ok = frame["num_03"].notna()
    positive = frame["target"] == int(profile["target_associations"]["num_03"]["positive"])
    auc = roc_auc_score(positive[ok], frame.loc[ok, "num_03"])
    assert profile["target_associations"]["num_03"]["value"] == pytest.approx(auc, abs=1e-9)


def test_every_warning_names_its_column_and_figure():
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)
    y[:15] = 1
    y[15:] = 0  # 15 of 400: imbalanced
    df = pd.DataFrame({
        "row_id": np.arange(n), "y": y, "leak": y * 3.0 + rng.normal(0, 0.01, n), "const": 1.0,
        "gappy": np.where(rng.random(n) < 0.5, np.nan, rng.normal(size=n)),
        "many": [f"c{i % 120}" for i in range(n)], "mixed": [str(i) if i % 10 else "unknown" for i in range(n)],
        "inf": np.where(np.arange(n) < 3, np.inf, rng.normal(size=n)),
        "when": pd.date_range("2024-01-01", periods=n, freq="D"), "fine": rng.normal(size=n),
    })
    df = pd.concat([df, df.iloc[:4]], ignore_index=True)
    profile = profile_frame(df, target="y")
    found = {(w["type"], w["column"]) for w in profile["warnings"]}
    assert {("leakage", "leak"), ("id_like", "row_id"), ("constant", "const"), ("high_missing", "gappy"),
            ("high_cardinality", "many"), ("mixed_types", "mixed"), ("infinite", "inf"), ("imbalance", "y"),
            ("datetime", "when"), ("duplicates", None)} <= found
    assert not any(c == "fine" for _, c in found)
    mixed = next(w for w in profile["warnings"] if w["type"] == "mixed_types")
    assert "'unknown'" in mixed["message"] or "unknown" in mixed["message"]
    assert profile["warnings"][0]["type"] == "leakage"  # most serious first
    assert find_warnings(profile, leakage=1.01) != profile["warnings"]  # thresholds are parameters


def test_compare_uses_the_monitor_statistics_and_the_train_schema_check():
    from mlplat.monitoring.drift import check_drift
    from mlplat.monitoring.profile import build_profile
    from mlplat.ops import compare_frames

    df = pd.read_csv(REPO / "data" / "churn.csv")
    import yaml

    dataset = yaml.safe_load((REPO / "conf" / "dataset" / "churn.yaml").read_text())
    cur = df.sample(900, random_state=2).copy()
    cur["monthly_charges"] = cur["monthly_charges"] * 1.4
    result = compare_frames(df, cur, dataset=dataset)
    cols = ["tenure_months", "monthly_charges", "support_calls", "churned"]
    direct = check_drift(build_profile(df, numeric=cols, categorical=["contract", "region"]),
                         cur[[*cols, "contract", "region"]]).to_dict()
    assert {k: f["score"] for k, f in result["drift"]["features"].items()} == \
        {k: f["score"] for k, f in direct["features"].items()}
    assert result["drift"]["features"]["monthly_charges"]["status"] == "drift"
    assert result["schema"]["declared"] == {"ok": True, "error": None,
                                            "message": "900 rows match the schema of dataset 'churn'"}
    assert result["status"] == "drift"
    cur.loc[cur.index[:5], "region"] = "mars"
    broken = compare_frames(df, cur, dataset=dataset)
    assert broken["status"] == "schema" and "'region' has 5 rows outside the allowed values" in \
        broken["schema"]["declared"]["message"]


def test_counted_and_key_sorted_columns_match_pandas_and_scipy():
    """The fast paths (bincount for small whole numbers, one 64-bit key sort elsewhere) against plain pandas/scipy."""
    from mlplat.data.numeric import sort_order

    rng = np.random.default_rng(7)
    n = 3000
    close = 1.0 + rng.integers(0, 40, n) * 1e-13  # agree on their high bits: the key sort's exact fix-up
    close[rng.random(n) < 0.05] = np.nan
    df = pd.DataFrame({
        "counts": np.where(rng.random(n) < 0.04, np.nan, rng.integers(-3, 60, n).astype(np.float64)),  # counted
        "ints": rng.integers(-(2**40), 2**40, n),  # whole numbers, wide range: exact integer keys
        "small_ints": rng.integers(0, 7, n),  # int64, counted
        "nullable": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 9, n)), dtype="Int64"),
        "signed_zeros": np.where(rng.random(n) < 0.3, -0.0, rng.normal(size=n)),
        "close": close,
        "normal32": np.where(rng.random(n) < 0.03, np.nan, rng.normal(size=n)).astype(np.float32),
        "halves": np.where(rng.random(n) < 0.02, np.nan, rng.integers(0, 30, n) / 2.0),
    })
    for c in df.columns:
        vals = df[c].dropna().to_numpy(dtype=np.float64)
        assert np.array_equal(vals[sort_order(vals)], np.sort(vals))
    prof = profile_frame(df)
    for c in df.columns:
        col, s = prof["columns"][c], df[c].astype("float64")
        assert col["n_missing"] == int(s.isna().sum()) and col["n_distinct"] == s.nunique()
        assert col["mean"] == pytest.approx(s.mean(), rel=1e-12, abs=1e-12)
        assert col["std"] == pytest.approx(s.std(), rel=1e-9)
        assert (col["min"], col["max"]) == (s.min(), s.max())
        vc = s.value_counts()
        assert col["top_share"] == pytest.approx(vc.max() / vc.sum(), abs=1e-15)
        assert col["n_zeros"] == int((s == 0).sum())
        for q in (0.05, 0.25, 0.5, 0.75, 0.95):
            assert col["quantiles"][f"{round(q * 100):g}%"] == pytest.approx(s.quantile(q), abs=1e-9)
        counts, _ = np.histogram(s.dropna(), bins=20, range=(s.min(), s.max()))
        assert np.abs(np.array(col["histogram"]["counts"]) - counts).sum() <= 2  # edges: float rounding only
    sp = prof["associations"]["spearman"]
    cols = sp["columns"]
    got = np.array(sp["matrix"], dtype=float)
    for i, a in enumerate(cols):
        for j, b in enumerate(cols):
            if df[a].notna().all() and df[b].notna().all():  # pandas' pairwise re-ranking agrees here
                assert got[i, j] == pytest.approx(stats.spearmanr(df[a], df[b])[0], abs=1e-9)
    # ranks over each column's own present values, correlated on the common rows (the documented definition)
    ranked = df[cols].astype("float64").rank()
    assert np.allclose(got, ranked.corr().to_numpy(), atol=1e-9, rtol=0)
    # Pearson on each pair's common rows, against scipy (pandas differs by 4e-5 on "close"; scipy agrees)
    pe = prof["associations"]["pearson"]
    for i, a in enumerate(pe["columns"]):
        for j, b in enumerate(pe["columns"][:i]):
            both = df[[a, b]].astype("float64").dropna()
            assert pe["matrix"][i][j] == pytest.approx(stats.pearsonr(both[a], both[b])[0], abs=1e-9)
