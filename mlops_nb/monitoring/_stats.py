"""The statistics behind drift detection: tests, effect sizes, p-value corrections.

Everything here works on small arrays (bin shares, category counts, bounded
samples), so the cost of a drift check does not grow with the data beyond one
sort and one ``value_counts`` per column.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats
from scipy.spatial import distance as distance_metrics

CORRECTIONS: tuple[str, ...] = ("holm", "bonferroni", "fdr_bh", "none")
PSI_EPSILON = 1e-4
"""Shares below this are raised to it in PSI, so an empty bin gives a finite value."""
MIN_EXPECTED = 5.0
"""Smallest expected count of a chi-square cell; rarer categories are merged."""
KS_EXACT_MAX = 1_000_000
"""Largest product of the sample sizes for which the exact KS p-value is computed."""


def adjust_pvalues(p_values: np.ndarray, method: str) -> np.ndarray:
    """Correct ``p_values`` for multiple testing.

    Args:
        p_values: One raw p-value per hypothesis.
        method: ``"holm"`` (Holm-Bonferroni step-down, controls the family-wise
            error rate), ``"bonferroni"`` (controls it too, less powerful),
            ``"fdr_bh"`` (Benjamini-Hochberg, controls the false discovery rate
            only) or ``"none"``.

    Returns:
        The adjusted p-values, in the input order, capped at 1.
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0 or method == "none":
        return p.copy()
    if method == "bonferroni":
        capped: np.ndarray = np.minimum(p * m, 1.0)
        return capped
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "holm":
        adjusted = np.maximum.accumulate((m - np.arange(m)) * ranked)
    else:
        scaled = ranked * m / np.arange(1, m + 1)
        adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Population stability index of two share vectors over the same bins."""
    p = np.maximum(np.asarray(reference, dtype=float), PSI_EPSILON)
    q = np.maximum(np.asarray(current, dtype=float), PSI_EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def js_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) of two share vectors: SciPy's ``jensenshannon``.

    Pass shares, each vector summing to 1, as the detector does (it divides the
    category counts by their totals first): SciPy rescales whatever it is given,
    so raw counts would not give the distance of their shares. For nearly equal
    shares, rounding can leave the divergence a hair below zero, where SciPy's
    square root gives NaN: that distance is 0.
    """
    with np.errstate(invalid="ignore"):
        distance = float(distance_metrics.jensenshannon(reference, current, base=2))
    return distance if distance > 0 else 0.0


def chi2_homogeneity(reference: np.ndarray, current: np.ndarray) -> tuple[float, float, int]:
    """Chi-square test that two count vectors come from the same distribution.

    Categories whose expected count in the smaller sample would be below
    :data:`MIN_EXPECTED` are merged, rarest first, into one "other" group
    (growing it with the next rarest until it is large enough), so the
    chi-square approximation holds. With fewer than two groups left there is
    nothing to test and the p-value is 1.

    Args:
        reference: Reference count per category.
        current: Current count per category (same order; 0 for categories the
            current data lacks, and reference 0 for new ones).

    Returns:
        ``(statistic, p_value, degrees_of_freedom)``.
    """
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    n_reference, n_current = reference.sum(), current.sum()
    if n_reference == 0 or n_current == 0:
        return 0.0, 1.0, 0
    total = n_reference + n_current
    needed = MIN_EXPECTED * total / min(n_reference, n_current)
    pooled = reference + current
    order = np.argsort(pooled, kind="stable")
    merged = int(np.count_nonzero(pooled < needed))
    if merged:
        cumulative = np.cumsum(pooled[order])
        merged = max(merged, int(np.searchsorted(cumulative, needed, side="left")) + 1)
        merged = min(merged, pooled.size)
    kept = order[merged:]
    rows = np.vstack([reference[kept], current[kept]])
    if merged:
        other = order[:merged]
        rows = np.hstack([rows, [[reference[other].sum()], [current[other].sum()]]])
    groups = rows.shape[1]
    if groups < 2:
        return 0.0, 1.0, 0
    expected = np.outer(rows.sum(axis=1), rows.sum(axis=0)) / total
    statistic = float(np.sum((rows - expected) ** 2 / expected))
    return statistic, float(stats.chi2.sf(statistic, groups - 1)), groups - 1


def ks_test(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov test: ``(statistic, p_value)``.

    The exact p-value is used while ``n_reference * n_current`` is at most
    :data:`KS_EXACT_MAX` (its cost grows with that product, and with a small
    p-value); above, the asymptotic one, which is then accurate. If scipy
    cannot compute the exact one, it falls back to the asymptotic one, silently.
    """
    exact = len(reference) * len(current) <= KS_EXACT_MAX
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ks_2samp(reference, current, method="exact" if exact else "asymp")
    return float(result.statistic), float(result.pvalue)


def wasserstein(reference: np.ndarray, current: np.ndarray) -> float:
    """First Wasserstein (earth mover's) distance of two samples, in their units.

    The integral of the absolute difference of the two empirical CDFs, which
    are constant between consecutive values of the pooled sample. Kept instead
    of ``scipy.stats.wasserstein_distance``, which gives the same value (to
    3e-16) but is 3.1x slower on the default 10,000-value samples (3.79 vs
    1.22 ms; 2.3x at 5,000 and 20,000 values), a cost paid for every numeric
    column of every drift check; and an empty sample gives NaN here, where
    SciPy raises.
    """
    u, v = np.sort(reference), np.sort(current)
    if u.size == 0 or v.size == 0:
        return math.nan
    pooled = np.sort(np.concatenate([u, v]))
    widths = np.diff(pooled)
    u_cdf = np.searchsorted(u, pooled[:-1], side="right") / u.size
    v_cdf = np.searchsorted(v, pooled[:-1], side="right") / v.size
    return float(np.sum(np.abs(u_cdf - v_cdf) * widths))


def absence_p_value(share: float, n: int) -> float:
    """Probability that a category of ``share`` is absent from ``n`` independent rows."""
    if share >= 1.0:
        return 0.0
    return math.exp(n * math.log1p(-share))
