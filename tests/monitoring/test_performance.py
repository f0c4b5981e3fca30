"""Performance against the reference, in each metric's direction."""

from __future__ import annotations

import json
import math

import pytest

from mlops_nb.monitoring import MonitoringError, performance_check


def test_fall_of_a_higher_is_better_metric_beyond_tolerance_is_degraded() -> None:
    check = performance_check({"roc_auc": 0.74, "n": 300}, {"roc_auc": 0.81, "n": 900}, 0.02)

    assert check.degraded and check.degraded_metrics == ["roc_auc"]
    row = check.table.iloc[0]
    assert row["higher_is_better"] and row["change"] == pytest.approx(-0.07)
    assert row["worse_by"] == pytest.approx(0.07) and row["status"] == "degraded"
    assert check.table["metric"].tolist() == ["roc_auc"], "n is not a metric"


def test_within_tolerance_or_better_is_not_degraded() -> None:
    check = performance_check({"roc_auc": 0.80, "f1": 0.7}, {"roc_auc": 0.81, "f1": 0.6}, 0.02)
    assert not check.degraded
    assert check.table["status"].tolist() == ["ok", "improved"]


def test_rise_of_a_lower_is_better_metric_is_degraded() -> None:
    worse = performance_check({"rmse": 1.2, "mae": 0.8}, {"rmse": 1.0, "mae": 0.9}, 0.1)
    assert worse.degraded and worse.degraded_metrics == ["rmse"]
    assert worse.table.set_index("metric").loc["mae", "status"] == "improved"

    better = performance_check({"rmse": 0.7}, {"rmse": 1.0}, 0.0)
    assert not better.degraded and better.table.loc[0, "worse_by"] == pytest.approx(-0.3)


def test_per_metric_and_relative_tolerances() -> None:
    tolerance = {"roc_auc": 0.05, "f1": 0.1, "rmse": 0.1}
    check = performance_check(
        {"roc_auc": 0.77, "f1": 0.5}, {"roc_auc": 0.81, "f1": 0.65}, tolerance
    )
    assert check.degraded_metrics == ["f1"]
    assert check.skipped == ["rmse"]

    relative = performance_check({"rmse": 10.4}, {"rmse": 10.0}, 0.05, relative=True)
    assert relative.table.loc[0, "allowed_drop"] == pytest.approx(0.5) and not relative.degraded


def test_unknown_metric_needs_its_direction() -> None:
    with pytest.raises(MonitoringError, match="higher_is_better"):
        performance_check({"recall": 0.5}, {"recall": 0.6}, 0.05)
    check = performance_check(
        {"recall": 0.5}, {"recall": 0.6}, 0.05, higher_is_better={"recall": True}
    )
    assert check.degraded


def test_undefined_metric_is_not_degraded_and_report_is_json_safe() -> None:
    check = performance_check(
        {"roc_auc": math.nan, "accuracy": 0.9}, {"roc_auc": 0.8, "accuracy": 0.9}, 0.01
    )
    assert not check.degraded
    assert check.table["status"].tolist() == ["undefined", "ok"]
    data = json.loads(json.dumps(check.to_dict(), allow_nan=False))
    assert data["metrics"][0]["current"] is None
    assert "no degradation: 0 of 2 metrics" in check.summary()


@pytest.mark.parametrize(
    ("current", "reference", "tolerance", "message"),
    [
        ({"roc_auc": 0.8}, {"rmse": 1.0}, 0.1, "no metric to compare"),
        ({"roc_auc": 0.8}, {"roc_auc": 0.8}, -0.1, "tolerance -0.1"),
        ({"roc_auc": "high"}, {"roc_auc": 0.8}, 0.1, "not a number"),
    ],
)
def test_bad_inputs_are_refused(current, reference, tolerance, message) -> None:
    with pytest.raises(MonitoringError, match=message):
        performance_check(current, reference, tolerance)
