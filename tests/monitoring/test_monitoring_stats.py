"""Statistics agree with SciPy and with Evidently 0.7's definitions (re-stated here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st
from scipy.spatial import distance

from mlplat.monitoring import stats


@pytest.mark.parametrize(
    ("n1", "n2", "shift"),
    [(30, 30, 0.0), (100, 157, 0.3), (800, 3000, 0.05), (5000, 10000, 0.02), (20000, 15000, 0.01)],
)
def test_ks_matches_scipy(n1: int, n2: int, shift: float) -> None:
    rng = np.random.default_rng(n1 + n2)
    a, b = rng.normal(size=n1), rng.normal(shift, 1.0, size=n2)
    ours = stats.ks_2samp_sorted(np.sort(a), np.sort(b))
    ref = st.ks_2samp(a, b)
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert ours.p_value == pytest.approx(ref.pvalue, abs=1e-9)


def test_ks_with_ties_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 10, 300).astype(float)
    b = rng.integers(0, 12, 411).astype(float)
    ours = stats.ks_2samp_sorted(np.sort(a), np.sort(b))
    assert ours.p_value == pytest.approx(st.ks_2samp(a, b).pvalue, abs=1e-9)


@pytest.mark.parametrize(("n1", "n2"), [(100, 100), (123, 457), (10000, 7001)])
def test_wasserstein_matches_scipy(n1: int, n2: int) -> None:
    rng = np.random.default_rng(n1)
    a, b = rng.exponential(size=n1), rng.exponential(1.3, size=n2)
    ours = stats.wasserstein_sorted(np.sort(a), np.sort(b))
    assert ours == pytest.approx(st.wasserstein_distance(a, b), abs=1e-12)


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 20])
@pytest.mark.parametrize(("n1", "n2"), [(5, 3), (123, 457), (457, 123), (64, 1000), (1000, 64), (250, 1000)])
def test_wasserstein_blocks_match_scipy(monkeypatch, block: int, n1: int, n2: int) -> None:
    """The block-wise merge gives scipy's distance whatever the block size, including blocks
    that end on a breakpoint shared by both samples (250 / 1000, 64 / 1000)."""
    monkeypatch.setattr(stats, "WASSERSTEIN_BLOCK", block)
    rng = np.random.default_rng(n1 * 7 + n2)
    a, b = rng.normal(size=n1), rng.normal(0.3, 1.2, size=n2)
    ours = stats.wasserstein_sorted(np.sort(a), np.sort(b))
    assert ours == pytest.approx(st.wasserstein_distance(a, b), abs=1e-12)


def _evidently_chisquare(ref: pd.Series, cur: pd.Series) -> float:
    """Evidently's definition: expected = reference counts scaled to current size."""
    keys = list(set(ref.dropna().unique()) | set(cur.dropna().unique()))
    rc, cc = ref.value_counts(), cur.value_counts()
    k = len(cur) / len(ref)
    f_exp = [rc.get(key, 0) * k for key in keys]
    f_obs = [cc.get(key, 0) for key in keys]
    return float(st.chisquare(f_obs, f_exp)[1])


def test_chisquare_matches_scipy() -> None:
    rng = np.random.default_rng(5)
    ref = pd.Series(rng.choice(list("abcde"), 700, p=[0.3, 0.25, 0.2, 0.15, 0.1]))
    cur = pd.Series(rng.choice(list("abcde"), 450, p=[0.25, 0.25, 0.2, 0.2, 0.1]))
    keys = sorted(set(ref) | set(cur))
    rc = ref.value_counts().reindex(keys, fill_value=0).to_numpy()
    cc = cur.value_counts().reindex(keys, fill_value=0).to_numpy()
    ours = stats.chisquare_from_counts(rc, cc)
    assert ours.p_value == pytest.approx(_evidently_chisquare(ref, cur), abs=1e-9)


def _evidently_binned(ref: np.ndarray, cur: np.ndarray, fill: bool) -> tuple[np.ndarray, np.ndarray]:
    """Evidently's get_binned_data for a numeric column with > 20 unique values."""
    bins = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    rp = np.histogram(ref, bins)[0] / len(ref)
    cp = np.histogram(cur, bins)[0] / len(cur)
    if fill:
        for arr in (rp, cp):
            m = arr[arr != 0].min()
            np.place(arr, arr == 0, m / 10**6 if m <= 0.0001 else 0.0001)
    return rp, cp


def test_psi_and_js_match_evidently_binning() -> None:
    rng = np.random.default_rng(9)
    ref, cur = rng.normal(size=5000), rng.normal(0.4, 1.2, size=3000)
    rs, cs = np.sort(ref), np.sort(cur)
    edges = stats.sturges_edges(min(rs[0], cs[0]), max(rs[-1], cs[-1]), rs.size + cs.size)
    np.testing.assert_allclose(edges, np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges"))
    rp, cp = stats.weighted_bin_percents(rs, edges), stats.weighted_bin_percents(cs, edges)
    erp, ecp = _evidently_binned(ref, cur, fill=True)
    expected_psi = float(np.sum((erp - ecp) * np.log(erp / ecp)))
    assert stats.psi_from_percents(rp, cp) == pytest.approx(expected_psi, abs=1e-9)
    jrp, jcp = _evidently_binned(ref, cur, fill=False)
    assert stats.jensenshannon_from_percents(rp, cp) == pytest.approx(
        float(distance.jensenshannon(jrp, jcp)), abs=1e-9
    )


def test_z_test_matches_normal_two_proportion() -> None:
    ref = np.array([600.0, 400.0])
    cur = np.array([450.0, 550.0])
    z, p = stats.z_test_from_counts(ref, cur)
    p1, p2 = 0.4, 0.55
    pooled = (p1 + p2) / 2
    expected_z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (2 / 1000))
    assert z == pytest.approx(expected_z)
    assert p == pytest.approx(2 * st.norm.sf(abs(expected_z)), abs=1e-12)
    assert stats.z_test_from_counts(np.array([10.0]), np.array([5.0]))[1] == 1.0


def test_chi2_homogeneity_matches_scipy_contingency() -> None:
    ref = np.array([120.0, 80.0, 40.0, 0.0, 7.0])
    cur = np.array([100.0, 95.0, 30.0, 6.0, 0.0])
    ours = stats.chi2_homogeneity_from_counts(ref, cur)
    expected = st.chi2_contingency(np.vstack([ref, cur]), correction=False)
    assert ours.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert ours.p_value == pytest.approx(expected.pvalue, abs=1e-12)


def test_ks_uses_only_scipys_public_api_and_equals_ks_2samp_exactly() -> None:
    """The exact p-value comes from the public ks_2samp (no scipy.stats._private import) and
    equals it to the last bit, with ties, unequal and coprime sizes, both sides of 10,000."""
    import inspect

    assert "scipy.stats._" not in inspect.getsource(stats)
    rng = np.random.default_rng(7)
    sizes = [(int(rng.integers(1, 400)), int(rng.integers(1, 400))) for _ in range(40)] + [(9999, 37), (10001, 50)]
    for n1, n2 in sizes:
        a, b = rng.integers(0, 15, n1).astype(float), rng.integers(0, 17, n2).astype(float)
        ours = stats.ks_2samp_sorted(np.sort(a), np.sort(b))
        ref = st.ks_2samp(a, b, method="auto")
        assert (ours.statistic, ours.p_value) == pytest.approx((ref.statistic, ref.pvalue), abs=1e-15), (n1, n2)


def test_ks_on_a_sketch_uses_the_reference_size() -> None:
    """A quantile sketch of a larger reference: the p-value is ks_2samp's for the true sizes."""
    rng = np.random.default_rng(11)
    ref = np.sort(rng.normal(size=3000))
    sketch = ref[((np.arange(500) + 0.5) * 6).astype(int)]  # 500 equal-weight points of 3000
    cur = np.sort(rng.normal(0.1, size=800))
    ours = stats.ks_2samp_sorted(np.sort(sketch), cur, n_ref=3000)
    full = st.ks_2samp(ref, cur, method="exact")
    assert abs(ours.statistic - full.statistic) <= 1 / 500
    assert ours.p_value == pytest.approx(full.pvalue, rel=0.5, abs=1e-3)
