"""Mergeable summaries of current data: partitions add up to the whole, and so do reports."""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mlops_nb.monitoring import DriftDetector, MonitoringError
from mlops_nb.monitoring._stats import ks_grid, wasserstein, wasserstein_grid
from mlops_nb.monitoring.summary import (
    CurrentSummary,
    merge,
    merge_all,
    reference_grid,
    summarize,
)
from tests.monitoring.conftest import make_frame

STATISTICS = ["statistic", "p_value", "p_adjusted", "effect", "psi"]
EXACT = [
    "column",
    "kind",
    "status",
    "test",
    "n_current",
    "missing_current",
    "new_categories",
    "missing_categories",
    "drifted",
    "reason",
]


def split(frame: pd.DataFrame, parts: int, seed: int = 0) -> list[pd.DataFrame]:
    """``frame`` cut into ``parts`` pieces of random sizes (some may be empty), in row order."""
    cuts = np.sort(np.random.default_rng(seed).integers(0, len(frame) + 1, parts - 1))
    bounds = [0, *cuts.tolist(), len(frame)]
    return [frame.iloc[a:b] for a, b in itertools.pairwise(bounds)]


def assert_same_summary(a: CurrentSummary, b: CurrentSummary) -> None:
    assert a.n_rows == b.n_rows and a.ignored == b.ignored and list(a.columns) == list(b.columns)
    for name, left in a.columns.items():
        right = b.columns[name]
        assert (left.kind, left.n_values, left.present) == (
            right.kind,
            right.n_values,
            right.present,
        )
        assert left.counts == right.counts and list(left.counts) == list(right.counts)
        for part in ("bins", "at", "between"):
            np.testing.assert_array_equal(getattr(left, part), getattr(right, part))
        np.testing.assert_allclose(left.offsets, right.offsets, rtol=1e-12, atol=1e-9)
        assert left.mean == pytest.approx(right.mean, rel=1e-12, abs=1e-12)
        assert left.m2 == pytest.approx(right.m2, rel=1e-12, abs=1e-12)
        assert (left.values is None) == (right.values is None)
        if left.values is not None and right.values is not None:
            np.testing.assert_array_equal(np.sort(left.values), np.sort(right.values))


def assert_same_report(a, b) -> None:
    assert (a.dataset_drift, a.n_drifted, a.n_checked, a.n_rows) == (
        b.dataset_drift,
        b.n_drifted,
        b.n_checked,
        b.n_rows,
    )
    assert a.drift_share == b.drift_share and a.ignored_columns == b.ignored_columns
    pd.testing.assert_frame_equal(a.features[EXACT], b.features[EXACT])
    np.testing.assert_allclose(
        a.features[STATISTICS].to_numpy(float), b.features[STATISTICS].to_numpy(float), rtol=1e-9
    )


@pytest.mark.parametrize("parts", [2, 5, 17])
def test_merged_partition_summaries_equal_the_whole(detector: DriftDetector, parts: int) -> None:
    current = make_frame(30_000, 7, shift=0.2).assign(extra=1)
    pieces = split(current, parts, seed=parts)

    whole = summarize(current, detector.profile_)
    merged = merge_all(summarize(piece, detector.profile_) for piece in pieces)
    assert merged.parts == parts
    assert_same_summary(merged, whole)
    backwards = merge_all(summarize(piece, detector.profile_) for piece in reversed(pieces))
    assert_same_summary(backwards, whole)


def test_merge_is_associative(detector: DriftDetector) -> None:
    a, b, c = (summarize(p, detector.profile_) for p in split(make_frame(9_000, 3), 3))
    assert_same_summary(merge(merge(a, b), c), merge(a, merge(b, c)))
    assert_same_summary(merge(a, b), merge(b, a))


@pytest.mark.parametrize("shift", [0.0, 0.5])
def test_partitioned_report_equals_in_process_report(detector: DriftDetector, shift: float) -> None:
    current = make_frame(40_000, 11, shift=shift)
    current.loc[current.index[:800], "region"] = "moon"  # 2 %: a new category

    whole = detector.test(current)
    parted = detector.test_partitions(split(current, 6, seed=1))
    assert_same_report(parted, whole)
    assert whole.drifted_columns == (["income", "region"] if shift else ["region"])


def test_ks_uses_every_current_value_and_matches_scipy(detector: DriftDetector) -> None:
    current = make_frame(50_000, 5, shift=0.05)
    report = detector.test(current).features.set_index("column")
    for name in ("income", "age", "score"):
        sample = detector.profile_[name].sample
        values = current[name].dropna().to_numpy(float)
        expected = stats.ks_2samp(sample, values, method="asymp")
        assert report.loc[name, "n_current"] == values.size
        assert (
            report.loc[name, "statistic"] == expected.statistic
        )  # the same fractions, bit for bit
        assert report.loc[name, "p_value"] == pytest.approx(expected.pvalue, rel=1e-12, abs=1e-300)


def test_small_samples_keep_the_exact_p_value() -> None:
    detector = DriftDetector().fit(make_frame(400, 0))  # 400 x 1,000 <= KS_EXACT_MAX
    current = make_frame(1_000, 1, shift=0.3)
    whole = detector.test(current)
    parted = detector.test_partitions(split(current, 4))
    assert_same_report(parted, whole)
    income = whole.features.set_index("column").loc["income"]
    expected = stats.ks_2samp(detector.profile_["income"].sample, current["income"], method="exact")
    assert income["statistic"] == expected.statistic
    assert income["p_value"] == pytest.approx(expected.pvalue, rel=1e-12)


@pytest.mark.parametrize(("rows", "seed"), [(3_000, 1), (60_000, 2)])
def test_wasserstein_from_counts_is_within_its_bound(
    detector: DriftDetector, rows: int, seed: int
) -> None:
    current = make_frame(rows, seed, shift=0.1)
    summary = summarize(current, detector.profile_)
    for name in ("income", "age", "score"):
        column = detector.profile_[name]
        part = summary.columns[name]
        points, cdf = reference_grid(column)
        distance, bound = wasserstein_grid(
            points, cdf, part.between, part.at, part.offsets, part.n_values
        )
        exact = wasserstein(column.sample, current[name].dropna().to_numpy(float))
        assert abs(distance - exact) <= bound + 1e-9 * column.scale
        assert bound <= 0.003 * column.scale, "negligible against the 0.1 sd threshold"


def test_wasserstein_is_exact_with_one_value_per_crossing_interval() -> None:
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"x": rng.normal(size=5_000)})
    detector = DriftDetector().fit(reference)
    current = pd.DataFrame({"x": rng.normal(0.2, 1.1, 300)})
    column, part = detector.profile_["x"], summarize(current, detector.profile_).columns["x"]
    points, cdf = reference_grid(column)
    distance, bound = wasserstein_grid(points, cdf, part.between, part.at, part.offsets, 300)
    assert bound == 0.0 or part.between.max() >= 2
    if bound == 0.0:
        assert distance == pytest.approx(wasserstein(column.sample, current["x"]), rel=1e-12)
    assert (
        ks_grid(cdf, part.below, part.at, 300)
        == stats.ks_2samp(column.sample, current["x"], method="asymp").statistic
    )


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.integers(-5, 5) | st.floats(-10, 10, allow_nan=False), min_size=1, max_size=60
    ),
    reference=st.lists(st.integers(-5, 5), min_size=10, max_size=40),
    cut=st.integers(0, 60),
)
def test_property_summaries_of_any_split_add_up(values, reference, cut) -> None:
    detector = DriftDetector(min_samples=1).fit(pd.DataFrame({"x": np.asarray(reference, float)}))
    current = pd.DataFrame({"x": np.asarray(values, float)})
    profile = detector.profile_
    whole = summarize(current, profile)
    merged = merge(summarize(current.iloc[:cut], profile), summarize(current.iloc[cut:], profile))
    assert_same_summary(merged, whole)
    if profile["x"].kind == "numeric":
        part = whole.columns["x"]
        _, cdf = reference_grid(profile["x"])
        expected = stats.ks_2samp(profile["x"].sample, current["x"], method="asymp").statistic
        assert ks_grid(cdf, part.below, part.at, part.n_values) == expected


def test_a_partition_whose_type_changed_is_named(detector: DriftDetector) -> None:
    good, bad = make_frame(500, 1), make_frame(500, 2)
    bad["income"] = bad["income"].map(lambda v: f"{v:.0f} USD")
    with pytest.raises(
        MonitoringError, match=r"type changed in 1 column\(s\) of partition '#1'"
    ) as caught:
        detector.test_partitions([good, bad])
    assert caught.value.partition == "#1" and caught.value.columns == ["income"]
    with pytest.raises(MonitoringError, match=r"partition 'p7\.parquet' of the current data lacks"):
        detector.summarize(good.drop(columns=["age"]), part="p7.parquet")


def test_empty_partitions_add_nothing_but_all_empty_is_refused(detector: DriftDetector) -> None:
    current = make_frame(2_000, 3)
    with_empty = [current.head(0), current, current.head(0)]
    assert_same_report(detector.test_partitions(with_empty), detector.test(current))
    with pytest.raises(MonitoringError, match="no rows"):
        detector.test_partitions([current.head(0), current.head(0)])
    with pytest.raises(MonitoringError, match="no partitions"):
        detector.test_partitions([])


def test_summaries_of_other_profiles_are_refused(detector: DriftDetector) -> None:
    other = DriftDetector(columns=["income"]).fit(make_frame(1_000, 0))
    current = make_frame(500, 1)
    with pytest.raises(MonitoringError, match="different reference profiles"):
        merge(summarize(current, detector.profile_), other.summarize(current))
    with pytest.raises(MonitoringError, match="another reference profile"):
        detector.test_summary(other.summarize(current))


def test_a_summary_is_small_and_picklable(detector: DriftDetector) -> None:
    summary = detector.summarize(make_frame(100_000, 2))
    data = pickle.dumps(summary)
    assert len(data) < 1_000_000
    assert_same_summary(pickle.loads(data), summary)
