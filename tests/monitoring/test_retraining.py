"""The retrain stage's steps: the plan, the data, the contract, the run's outcome."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mlops_nb.config import load_settings
from mlops_nb.data import generate_churn, snapshot
from mlops_nb.monitoring import MonitoringError
from mlops_nb.monitoring.loop import MonitorDecision
from mlops_nb.monitoring.retraining import (
    NOT_STARTED,
    RetrainingOutcome,
    plan_retraining,
    retraining_frame,
    retraining_outcome,
    retraining_overrides,
    training_contract,
)


@pytest.fixture
def settings(isolated):
    (isolated / "pipeline.yaml").write_text("pipelines: {}\n")
    return load_settings(isolated)


def decided(decision: str, *, labelled: bool = True) -> MonitorDecision:
    return MonitorDecision(
        decision=decision,
        reason="6 of 9 checked features drifted",
        model="churn:1",
        alias="production",
        current_data="sample:churn?drift=3",
        current_version="abc",
        labelled=labelled,
    )


@pytest.mark.parametrize(
    ("decision", "retrain", "labelled", "start", "why"),
    [
        ("ok", True, True, False, "the decision does not call for it"),
        ("drift", False, True, False, "retrain is off (-p retrain=true starts it)"),
        ("degraded", True, False, False, "the current data has no labels to learn from"),
        ("drift", True, True, True, "the decision is drift and the current data has labels"),
    ],
)
def test_the_plan_retrains_on_a_listed_decision_when_asked_and_labelled(
    decision, retrain, labelled, start, why
):
    plan = plan_retraining(
        decided(decision, labelled=labelled), retrain=retrain, retrain_on=["drift", "degraded"]
    )
    assert plan.start is start and plan.why.startswith(why)


def test_the_plan_refuses_retrain_on_that_names_no_decision():
    with pytest.raises(MonitoringError, match="retrain_on names 'drfit'"):
        plan_retraining(decided("drift"), retrain=True, retrain_on=["drfit"])


def test_overrides_name_the_data_target_model_contract_and_extra_params(tmp_path):
    data, contract = tmp_path / "retrain_data.parquet", tmp_path / "contract.yaml"
    assert retraining_overrides(
        data, target="churned", model_name="churn", contract=contract, extra={"budget": 4}
    ) == {
        "data_source": str(data),
        "target": "churned",
        "model_name": "churn",
        "contract": str(contract),
        "budget": "4",
    }
    inferred = retraining_overrides(data, target="y", model_name="m", contract=None)
    assert "contract" not in inferred


def test_an_outcome_not_started_says_why_and_reads_like_a_dict():
    outcome = RetrainingOutcome.not_started("retrain is off")
    assert not outcome.started and outcome.status == NOT_STARTED
    assert outcome.to_dict() == {"status": "not started", "summary": "not started: retrain is off"}
    assert outcome["summary"] == "not started: retrain is off" and dict(outcome) == outcome


def test_retraining_data_is_the_reference_snapshot_then_labelled_current_rows(settings):
    reference = generate_churn(200, seed=1)
    snap = snapshot(reference, settings.snapshots_dir)
    current = generate_churn(100, seed=2, drift=2).assign(extra=1)
    current.loc[current.index[:10], "churned"] = np.nan
    combined, n_reference = retraining_frame(settings, snap.version, current, "churned")
    assert n_reference == 200 and len(combined) == 290
    assert list(combined.columns) == list(reference.columns)
    with pytest.raises(MonitoringError, match="snapshot"):
        retraining_frame(settings, "0" * 16, current, "churned")
    with pytest.raises(MonitoringError, match="tenure_months"):
        retraining_frame(settings, snap.version, current.drop(columns="tenure_months"), "churned")


def test_training_contract_and_outcome_read_the_archive(settings, tmp_path):
    assert training_contract(settings, None) is None
    folder = settings.runs_dir / "RUN1" / "02_validate"
    folder.mkdir(parents=True)
    (folder / "contract.yaml").write_text("schema_type: dataframe\n")
    assert training_contract(settings, "RUN1") == folder / "contract.yaml"
    evaluate = settings.runs_dir / "RUN2" / "06_evaluate"
    evaluate.mkdir(parents=True)
    decision = {"promote": True, "alias": "production", "reason": "better"}
    (evaluate / "decision.json").write_text(json.dumps(decision))
    run = {
        "id": "RUN2",
        "status": "succeeded",
        "run_dir": str(settings.runs_dir / "RUN2"),
        "stages": [
            {"name": "evaluate", "dir": "06_evaluate", "metrics": {}},
            {
                "name": "register",
                "dir": "07_register",
                "metrics": {"version": 3, "promoted": True},
                "notes": {"model": "churn"},
            },
        ],
    }
    outcome = retraining_outcome(run)
    assert outcome["version"] == 3 and outcome["promoted"] and outcome["alias"] == "production"
    assert "churn:3" in outcome["summary"] and "promoted to production" in outcome["summary"]
    assert list(outcome) == [
        "status",
        "run",
        "model",
        "version",
        "promoted",
        "alias",
        "reason",
        "summary",
    ]
    assert isinstance(outcome, RetrainingOutcome) and outcome.started and outcome.model == "churn"
    failed = retraining_outcome({**run, "status": "failed", "stages": run["stages"][:1]})
    assert failed["version"] is None and "without registering" in failed["summary"]
    older = {"name": "register", "dir": "07_register", "metrics": {"model": "churn", "version": 3}}
    assert retraining_outcome({**run, "stages": [run["stages"][0], older]}).model == "churn"


def test_outcome_tells_the_decision_register_applied_over_evaluates(settings):
    run_dir = settings.runs_dir / "RUN3"
    for folder, reason in (("06_evaluate", "better than v1"), ("07_register", "re-judged: worse")):
        (run_dir / folder).mkdir(parents=True)
        decision = {"promote": folder == "06_evaluate", "alias": "production", "reason": reason}
        (run_dir / folder / "decision.json").write_text(json.dumps(decision))
    run = {
        "id": "RUN3",
        "status": "succeeded",
        "run_dir": str(run_dir),
        "stages": [
            {"name": "evaluate", "dir": "06_evaluate", "metrics": {}},
            {
                "name": "register",
                "dir": "07_register",
                "metrics": {"version": 2, "promoted": False},
            },
        ],
    }
    outcome = retraining_outcome(run)
    assert outcome.reason == "re-judged: worse" and not outcome.promoted
    assert "did not take production (re-judged: worse)" in outcome.summary
