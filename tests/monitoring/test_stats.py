"""The statistics behind the detector, against scipy and textbook values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mlops_nb.monitoring._stats import (
    adjust_pvalues,
    chi2_homogeneity,
    js_distance,
    psi,
    wasserstein,
)

P = np.array([0.01, 0.04, 0.03, 0.2])


def test_holm_bonferroni_and_bh_match_textbook_values() -> None:
    np.testing.assert_allclose(adjust_pvalues(P, "bonferroni"), [0.04, 0.16, 0.12, 0.8])
    np.testing.assert_allclose(adjust_pvalues(P, "holm"), [0.04, 0.09, 0.09, 0.2])
    np.testing.assert_allclose(adjust_pvalues(P, "fdr_bh"), [0.04, 0.16 / 3, 0.16 / 3, 0.2])
    np.testing.assert_allclose(adjust_pvalues(P, "none"), P)
    assert adjust_pvalues(np.array([]), "holm").size == 0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30))
def test_corrections_never_lower_p_values_and_keep_their_order(values: list[float]) -> None:
    p = np.array(values)
    for method in ("holm", "bonferroni", "fdr_bh"):
        adjusted = adjust_pvalues(p, method)
        assert (adjusted >= p - 1e-12).all() and (adjusted <= 1.0).all()
        order = np.argsort(p, kind="stable")
        assert (np.diff(adjusted[order]) >= -1e-12).all()
    assert (adjust_pvalues(p, "holm") <= adjust_pvalues(p, "bonferroni") + 1e-12).all()


def test_wasserstein_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=1_000), np.round(rng.normal(0.3, 2.0, 333), 1)
    assert wasserstein(a, b) == pytest.approx(stats.wasserstein_distance(a, b))


def test_chi2_without_rare_categories_matches_scipy() -> None:
    reference, current = np.array([500, 300, 200]), np.array([60, 20, 20])
    statistic, p_value, dof = chi2_homogeneity(reference, current)
    expected = stats.chi2_contingency(np.vstack([reference, current]), correction=False)
    assert statistic == pytest.approx(expected.statistic)
    assert p_value == pytest.approx(expected.pvalue)
    assert dof == 2


def test_chi2_merges_rare_categories_until_expected_counts_are_valid() -> None:
    reference = np.array([5_000, 3_000, 40, 20, 0])
    current = np.array([500, 300, 2, 1, 3])
    statistic, p_value, dof = chi2_homogeneity(reference, current)
    assert dof == 2  # the three rare categories became one group
    merged = np.array([[5_000, 3_000, 60], [500, 300, 6]])
    expected = stats.chi2_contingency(merged, correction=False)
    assert statistic == pytest.approx(expected.statistic)
    assert p_value == pytest.approx(expected.pvalue)


def test_chi2_grows_a_too_small_other_group() -> None:
    reference, current = np.array([5_000, 3_000, 30, 10, 0]), np.array([500, 300, 2, 1, 3])
    # the rare three hold 46 rows, fewer than the 55 a valid group needs: 3,300 joins them
    assert chi2_homogeneity(reference, current)[2] == 1


def test_chi2_with_one_group_left_has_nothing_to_test() -> None:
    assert chi2_homogeneity(np.array([10_000, 3]), np.array([20, 0])) == (0.0, 1.0, 0)


def test_distances_of_identical_and_disjoint_shares() -> None:
    p = np.array([0.5, 0.3, 0.2, 0.0])
    assert psi(p, p) == 0.0 and js_distance(p, p) == 0.0
    assert js_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1.0)
    assert psi(np.array([0.5, 0.5]), np.array([0.6, 0.4])) == pytest.approx(0.0405, abs=1e-4)


def _textbook_js(p: np.ndarray, q: np.ndarray) -> float:
    middle = 0.5 * (p + q)
    terms = [np.sum(s[s > 0] * np.log2(s[s > 0] / middle[s > 0])) for s in (p, q)]
    return float(np.sqrt(max(0.0, 0.5 * sum(terms))))


def test_js_distance_of_shares_is_the_textbook_one() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        counts = rng.multinomial(5_000, rng.dirichlet(np.ones(6)), size=2).astype(float)
        p, q = counts[0] / counts[0].sum(), counts[1] / counts[1].sum()
        assert js_distance(p, q) == pytest.approx(_textbook_js(p, q), abs=1e-12)


def test_js_distance_of_shares_equal_but_for_rounding_is_zero() -> None:
    p = np.array([0.1, 0.2, 0.3, 0.4])
    q = p * (1 + np.array([1e-16, -2e-16, 3e-16, -1e-16]))
    assert js_distance(p, q / q.sum()) == 0.0  # SciPy alone gives NaN here
