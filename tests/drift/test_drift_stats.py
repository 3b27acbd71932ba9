"""Statistics against scipy and against their defining properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats as sps

from airflow_registry_provider.drift import stats
from airflow_registry_provider.drift.profile import NumericProfile

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
samples = hnp.arrays(np.float64, st.integers(1, 60), elements=finite)
# Few distinct values: ties everywhere, as in integer columns.
tied = hnp.arrays(np.float64, st.integers(1, 60), elements=st.integers(-3, 3).map(float))
counts = hnp.arrays(np.int64, st.integers(2, 12), elements=st.integers(0, 1000))


# scipy's asymptotic p-value divides by zero for 1 vs 1 sample; the statistic is fine.
@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@settings(max_examples=150, deadline=None)
@given(st.one_of(st.tuples(samples, samples), st.tuples(tied, tied)))
def test_exact_distances_match_scipy(pair):
    ref, cur = np.sort(pair[0]), np.sort(pair[1])
    got = stats.ecdf_distances(ref, cur)
    ks = sps.ks_2samp(ref, cur, method="asymp").statistic
    assert got.ks == pytest.approx(ks, abs=1e-12)
    expected = sps.wasserstein_distance(ref, cur)
    assert got.wasserstein == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_exact_distances_on_a_large_sample_match_scipy():
    rng = np.random.default_rng(5)
    ref = np.sort(rng.normal(size=200_000))
    cur = np.sort(rng.normal(0.2, 1.3, size=150_000))
    got = stats.ecdf_distances(ref, cur)
    assert got.ks == pytest.approx(sps.ks_2samp(ref, cur).statistic, abs=1e-12)
    assert got.wasserstein == pytest.approx(sps.wasserstein_distance(ref, cur), rel=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(st.tuples(samples, samples), st.tuples(tied, tied)),
    st.sampled_from([3, 5, 11, 101]),
)
def test_profile_distances_stay_within_the_stated_bounds(pair, n_quantiles):
    ref, cur = np.sort(pair[0]), np.sort(pair[1])
    cdf = NumericProfile.from_sorted(ref, 0, n_quantiles, 4).cdf()
    exact = stats.ecdf_distances(ref, cur)
    approx = cdf.distances(cur)
    assert cdf.max_error <= 1 / (n_quantiles - 1) + 1e-15
    assert abs(approx.ks - exact.ks) <= cdf.max_error + 1e-12
    assert abs(approx.wasserstein - exact.wasserstein) <= cdf.wasserstein_error + 1e-9


def test_profile_of_a_heavy_tailed_sample_keeps_a_tight_wasserstein_bound():
    rng = np.random.default_rng(3)
    ref = np.sort(rng.standard_t(3, size=300_000))
    cur = np.sort(rng.standard_t(3, size=300_000))
    profile = NumericProfile.from_sorted(ref, 0, 1001, 10)
    cdf = profile.cdf()
    assert len(profile.lower_tail) == len(profile.upper_tail) == 8  # 1000 * 2**8 <= 3e5
    # The tail levels bound the error far below range / 1000 for heavy tails.
    assert cdf.wasserstein_error < (ref[-1] - ref[0]) / 1000 / 3
    exact, approx = stats.ecdf_distances(ref, cur), cdf.distances(cur)
    assert abs(approx.wasserstein - exact.wasserstein) <= cdf.wasserstein_error
    assert abs(approx.ks - exact.ks) <= 1e-3


@given(samples)
def test_type1_quantiles_are_the_inverted_cdf(values):
    values = np.sort(values)
    n, k = values.size, np.arange(11)
    q = stats.type1_quantiles(values, k, 10)
    p = k / 10
    assert np.all(np.searchsorted(values, q, side="right") / n >= p - 1e-12)
    assert np.all(np.searchsorted(values, q, side="left") / n <= p + 1e-12)


def test_sketch_grid_is_ascending_with_halving_tails():
    num, den = stats.sketch_grid(5, 2)
    assert (num / den).tolist() == [
        0,
        1 / 16,
        1 / 8,
        1 / 4,
        2 / 4,
        3 / 4,
        7 / 8,
        15 / 16,
        1,
    ]
    assert stats.tail_levels(15, 5) == 1  # 4 * 2 <= 15 < 4 * 4
    assert stats.tail_levels(16, 5) == 2
    assert stats.tail_levels(7, 5) == 0


@given(counts)
def test_psi_and_js_of_identical_counts_are_zero(c):
    if c.sum() == 0:
        c = c + 1
    assert stats.psi(c, c) == 0.0
    assert stats.js_distance(c, c) == pytest.approx(0.0, abs=1e-7)


@given(counts, counts)
def test_js_is_symmetric_and_bounded(a, b):
    a, b = a[: min(a.size, b.size)] + 1, b[: min(a.size, b.size)] + 1
    d = stats.js_distance(a, b)
    assert d == pytest.approx(stats.js_distance(b, a), abs=1e-12)
    assert 0.0 <= d <= 1.0


def test_psi_known_value_and_empty_bins():
    # 0.5/0.5 -> 0.25/0.75: sum (c - r) ln(c / r)
    expected = (0.25 - 0.5) * np.log(0.25 / 0.5) + (0.75 - 0.5) * np.log(0.75 / 0.5)
    assert stats.psi([50, 50], [25, 75]) == pytest.approx(expected)
    assert np.isfinite(stats.psi([10, 0], [0, 10]))


def test_chi_square_matches_scipy_and_handles_a_single_category():
    ref, cur = np.array([30, 50, 20, 0]), np.array([40, 40, 10, 0])
    expected = sps.chi2_contingency(np.array([[30, 50, 20], [40, 40, 10]]))
    assert stats.chi_square(ref, cur) == pytest.approx((expected.statistic, expected.pvalue))
    assert stats.chi_square([10], [20]) == (0.0, 1.0)


def test_ks_pvalue_is_scipys_asymptotic_one():
    assert stats.ks_pvalue(1.0, 1, 1) == pytest.approx(0.0)
    rng = np.random.default_rng(9)
    ref, cur = rng.normal(size=20_000), rng.normal(0.02, 1, size=15_000)
    expected = sps.ks_2samp(ref, cur, method="asymp")
    assert stats.ks_pvalue(expected.statistic, 20_000, 15_000) == pytest.approx(expected.pvalue, rel=1e-9)


def test_pvalue_corrections():
    p = np.array([0.01, 0.02, 0.03, 0.5])
    assert np.allclose(stats.adjust_pvalues(p, "bh"), sps.false_discovery_control(p))
    assert np.allclose(stats.adjust_pvalues(p, "bonferroni"), [0.04, 0.08, 0.12, 1.0])
    assert np.array_equal(stats.adjust_pvalues(p, "none"), p)
    assert stats.adjust_pvalues([], "bh").size == 0


def test_sort_finite_splits_off_nan_and_inf():
    values, n_nan, n_inf = stats.sort_finite([3.0, np.nan, -np.inf, 1.0, np.inf, np.nan])
    assert values.tolist() == [1.0, 3.0]
    assert (n_nan, n_inf) == (2, 2)
