"""The monitoring loop helpers: current data, the decision policy, retraining inputs."""

from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd
import pytest

from mlops_nb.config import load_settings
from mlops_nb.data import generate_churn
from mlops_nb.monitoring import DriftDetector, MonitoringError, performance_check
from mlops_nb.monitoring.loop import (
    PREDICTION_COLUMN,
    CurrentData,
    MonitorDecision,
    decide_monitoring,
    load_current_data,
    monitor_decision,
    prediction_scores,
    reference_frame,
)
from mlops_nb.serving.inference_log import InferenceLog, LogEntry, inference_log_path
from tests.monitoring.conftest import make_frame


@pytest.fixture
def settings(isolated):
    (isolated / "pipeline.yaml").write_text("pipelines: {}\n")
    return load_settings(isolated)


def test_a_sample_source_is_labelled_current_data(settings):
    current = load_current_data("sample:churn?rows=300&seed=2", settings, "churn", "churned")
    assert len(current.frame) == 300 and current.labelled is True
    assert current.source == "sample:churn?rows=300&seed=2"
    unlabelled = load_current_data("sample:churn?rows=300", settings, "churn", "no_such_target")
    assert not unlabelled.labelled


def test_the_inference_log_is_read_without_its_outputs(settings):
    log = InferenceLog(inference_log_path(settings, "churn"))
    for at, ages in ((time.time() - 86_400 * 3, [30, 40]), (time.time(), [50])):
        log.append(
            LogEntry(
                at=at,
                model="churn",
                version=1,
                request_id=f"r{at}",
                inputs={"age": ages, "region": ["north"] * len(ages)},
                predictions=np.array([0] * len(ages)),
                probabilities=np.array([[0.8, 0.2]] * len(ages)),
                classes=("0", "1"),
            )
        )
    log.close()
    current = load_current_data("inference", settings, "churn", "churned")
    assert list(current.frame.columns) == ["age", "region"]
    assert current.frame["age"].tolist() == [30, 40, 50] and not current.labelled
    yesterday = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=1)
    recent = load_current_data(f"inference:churn?since={yesterday.isoformat()}", settings, "x")
    assert recent.frame["age"].tolist() == [50]
    assert "since" in recent.source


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("inference?limit=3", ["unknown option", "limit", "since="]),
        ("inference?since=yesterday", ["not an ISO", "yesterday"]),
        ("inference:nobody", ["no inference log", "nobody", "serve"]),
    ],
)
def test_bad_inference_specs_say_what_to_do(settings, spec, words):
    with pytest.raises(MonitoringError) as caught:
        load_current_data(spec, settings, "churn")
    for word in words:
        assert word in str(caught.value)


def test_empty_current_data_is_refused(settings):
    generate_churn(5).head(0).to_parquet(settings.root / "empty.parquet")
    with pytest.raises((MonitoringError, Exception)) as caught:
        load_current_data("empty.parquet", settings, "churn")
    assert "no rows" in str(caught.value) or "empty" in str(caught.value)


def _reports(shift: float, degrade: bool):
    detector = DriftDetector().fit(make_frame(3000, seed=1))
    drift = detector.test(make_frame(3000, seed=2, shift=shift))
    now = {"roc_auc": 0.70 if degrade else 0.80}
    return drift, performance_check(now, {"roc_auc": 0.81}, {"roc_auc": 0.05})


def test_the_decision_puts_degraded_before_drift_before_ok():
    drift, bad = _reports(shift=0.0, degrade=True)
    assert monitor_decision(drift, bad)[0] == "degraded"
    drift, good = _reports(shift=0.0, degrade=False)
    decision, reason = monitor_decision(drift, good)
    assert decision == "ok" and "within tolerance" in reason
    assert monitor_decision(drift, None)[0] == "ok"


def test_the_reason_counts_the_checked_features_and_names_the_others():
    reference = generate_churn(2000, seed=0).drop(columns="churned")
    report = DriftDetector().fit(reference).test(generate_churn(2000, seed=1, drift=3))
    skipped = report.features.loc[report.features["status"] == "skipped", "column"].tolist()
    assert skipped == ["customer_id"], "the sample's id column is not tested"
    assert report.n_checked == len(reference.columns) - 1

    decision, reason = monitor_decision(report, None)
    match = re.search(r"(\d+) of (\d+) checked features drifted \((\d+)%, threshold 50%\)", reason)
    assert match, reason
    drifted, checked, percent = map(int, match.groups())
    assert (drifted, checked) == (report.n_drifted, report.n_checked)
    assert percent == round(100 * drifted / checked)  # the count and the share agree
    assert reason.endswith("; not checked: 1 skipped (customer_id)")
    assert decision == "drift" and all(c in reason for c in report.drifted_columns)

    calm = DriftDetector().fit(reference).test(generate_churn(2000, seed=1))
    decision, reason = monitor_decision(calm, None)
    assert decision == "ok"
    assert reason.startswith(f"{calm.n_drifted} of {calm.n_checked} checked features drifted")
    assert "below the dataset-drift threshold; not checked: 1 skipped" in reason


def test_prediction_drift_counts_only_when_the_policy_says_so():
    reference = make_frame(3000, seed=1).assign(prediction=np.linspace(0, 1, 3000))
    current = make_frame(3000, seed=2).assign(prediction=np.linspace(0.5, 1, 3000))
    report = DriftDetector().fit(reference).test(current)
    assert report.prediction_drift and not report.dataset_drift
    assert monitor_decision(report, None)[0] == "drift"
    assert monitor_decision(report, None, prediction_drift_counts=False)[0] == "ok"


def test_current_data_lacking_an_input_column_is_refused():
    current = CurrentData(pd.DataFrame({"age": [30], "region": ["north"]}), "new.csv", False)
    current.require_columns(["age", "region"])
    with pytest.raises(MonitoringError) as caught:
        current.require_columns(["age", "income", "score"])
    assert "(new.csv) lacks the model's input column(s) income, score" in str(caught.value)
    assert "it has age, region" in str(caught.value) and caught.value.columns == ["income", "score"]


def test_the_monitor_decision_records_what_it_rests_on():
    drift, performance = _reports(shift=0.0, degrade=True)
    current = CurrentData(make_frame(10, seed=3), "sample:churn?seed=1", True)
    decided = decide_monitoring(
        drift,
        performance,
        model="churn:3",
        alias="production",
        current=current,
        current_version="abc123",
    )
    assert (decided.decision, decided.reason) == monitor_decision(drift, performance)
    saved = decided.to_dict()
    assert list(saved) == [  # decision.json's keys, in its order
        "decision",
        "reason",
        "model",
        "alias",
        "current_data",
        "current_version",
        "labelled",
        "drift",
        "performance",
    ]
    assert saved["drift"] == drift.to_dict() and saved["performance"] == performance.to_dict()
    assert saved["current_data"] == "sample:churn?seed=1" and saved["labelled"] is True
    assert MonitorDecision.from_dict(saved) == decided
    unlabelled = decide_monitoring(
        drift,
        None,
        model="churn:3",
        alias="production",
        current=CurrentData(current.frame, "inference", False),
        current_version=None,
        prediction_drift_counts=False,
    )
    assert unlabelled.performance is None and unlabelled.decision == "ok"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ("ok", ["is a mapping", "not str"]),
        ({"decision": "ok", "reason": "fine"}, ["lacks model, alias, current_data"]),
        (
            {
                "decision": "drifted",
                "reason": "",
                "model": "m:1",
                "alias": "a",
                "current_data": "x",
                "current_version": None,
                "labelled": False,
            },
            ["'drifted' is not a monitoring decision"],
        ),
        (
            {
                "decision": "ok",
                "reason": "",
                "model": "m:1",
                "alias": "a",
                "current_data": "x",
                "current_version": None,
                "labelled": False,
                "extra": 1,
            },
            ["unknown key(s) extra"],
        ),
        (
            {
                "decision": "ok",
                "reason": "",
                "model": "m:1",
                "alias": "a",
                "current_data": "x",
                "current_version": None,
                "labelled": "yes",
            },
            ["labelled is true or false", "labelled='yes'"],
        ),
    ],
    ids=["not-a-mapping", "missing", "unknown-decision", "unknown-key", "not-a-flag"],
)
def test_a_malformed_monitor_decision_is_refused(data, words):
    with pytest.raises(MonitoringError) as caught:
        MonitorDecision.from_dict(data)
    for word in words:
        assert word in str(caught.value)


class _CountingModel:
    """A stand-in binary model that records how many rows each call scored."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        self.calls.append(len(X))
        positive = 1 / (1 + np.exp(-(X["income"].to_numpy() - 50_000) / 10_000))
        return np.column_stack([1 - positive, positive])


def test_prediction_scores_in_chunks_equal_one_call():
    frame = make_frame(1_050, 3)
    whole, chunked = _CountingModel(), _CountingModel()
    expected = prediction_scores(whole, frame, "binary")
    scores = prediction_scores(chunked, frame, "binary", chunk_rows=400)
    assert whole.calls == [1_050]
    assert chunked.calls == [400, 400, 250]
    pd.testing.assert_series_equal(scores, expected)
    assert scores.name == PREDICTION_COLUMN


def test_a_large_reference_is_a_seeded_sample_in_the_data_order():
    data = make_frame(5_000, 4)
    columns = ["income", "region"]
    model = _CountingModel()
    reference = reference_frame(model, data, columns, "binary", max_rows=1_000)
    again = reference_frame(_CountingModel(), data, columns, "binary", max_rows=1_000)
    other = reference_frame(
        _CountingModel(), data, columns, "binary", max_rows=1_000, random_state=1
    )
    assert len(reference) == 1_000 and model.calls == [1_000]
    assert reference.index.is_monotonic_increasing and reference.index.is_unique
    pd.testing.assert_frame_equal(reference, again)
    assert not reference.index.equals(other.index)
    pd.testing.assert_frame_equal(reference[columns], data.loc[reference.index, columns])
    assert list(data.columns) == list(
        make_frame(5_000, 4).columns
    )  # no prediction column added to data
    whole = reference_frame(_CountingModel(), data, columns, "binary", max_rows=None)
    assert len(whole) == 5_000
