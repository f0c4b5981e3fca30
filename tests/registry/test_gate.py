"""The promotion gate, table-driven."""

from __future__ import annotations

import math

import pytest

from mlops_nb.errors import RegistryError
from mlops_nb.registry import decide_promotion
from mlops_nb.registry.gate import PromotionRecord

# challenger, champion, higher_is_better, margin, min_quality, promote, margin seen
CASES = [
    # first version: the minimum quality decides
    (0.82, None, True, 0.01, 0.80, True, None),
    (0.80, None, True, 0.01, 0.80, True, None),
    (0.79, None, True, 0.01, 0.80, False, None),
    (0.50, None, True, 0.01, None, True, None),
    (12.0, None, False, 0.5, 15.0, True, None),
    (16.0, None, False, 0.5, 15.0, False, None),
    # against a champion: the margin decides
    (0.85, 0.80, True, 0.05, None, True, 0.05),  # exactly the margin, despite rounding
    (0.84, 0.80, True, 0.05, None, False, 0.04),
    (0.80, 0.80, True, 0.0, None, True, 0.0),
    (0.79, 0.80, True, 0.0, None, False, -0.01),
    (0.81, 0.80, True, 0.01, 0.95, True, 0.01),  # min quality only gates first versions
    (9.0, 10.0, False, 0.5, None, True, 1.0),  # lower is better: an error that drops
    (9.8, 10.0, False, 0.5, None, False, 0.2),
    (11.0, 10.0, False, 0.0, None, False, -1.0),
]


@pytest.mark.parametrize(
    ("challenger", "champion", "higher", "margin", "min_quality", "promote", "seen"), CASES
)
def test_decisions(challenger, champion, higher, margin, min_quality, promote, seen) -> None:
    decision = decide_promotion(
        challenger, champion, higher_is_better=higher, margin=margin, min_quality=min_quality
    )
    assert decision.promote is promote
    assert decision.challenger == challenger
    assert decision.champion == champion
    if seen is None:
        assert decision.margin is None
    else:
        assert decision.margin == pytest.approx(seen)
    assert ("not promoted" in decision.reason) is (not promote)
    assert f"{challenger:.4g}" in decision.reason


def test_reason_names_the_numbers() -> None:
    decision = decide_promotion(0.84, 0.80, higher_is_better=True, margin=0.05)
    assert decision.reason == (
        "challenger 0.84 vs champion 0.8: improvement 0.04 is less than the required "
        "margin 0.05, not promoted"
    )
    first = decide_promotion(0.7, None, higher_is_better=True, min_quality=0.75)
    assert "0.7 < the minimum quality 0.75" in first.reason


def test_missing_metrics_never_promote() -> None:
    assert not decide_promotion(math.nan, 0.8, higher_is_better=True).promote
    assert not decide_promotion(math.nan, None, higher_is_better=True).promote
    assert not decide_promotion(0.9, math.nan, higher_is_better=True).promote


@pytest.mark.parametrize("margin", [-0.1, math.nan, "0.1"])
def test_bad_margin_is_refused(margin: object) -> None:
    with pytest.raises(RegistryError, match="margin"):
        decide_promotion(0.9, 0.8, higher_is_better=True, margin=margin)  # type: ignore[arg-type]


RECORD = {
    "promote": False,
    "reason": "challenger 0.8 vs champion 0.81: improvement -0.01 is less than the margin",
    "margin": -0.01,
    "champion": 0.81,
    "challenger": 0.8,
    "decided": True,
    "model_name": "churn",
    "metric": "roc_auc",
    "alias": "production",
    "champion_version": 3,
    "holdout_rows": 400,
    "compared_rows": 380,
    "excluded": {"also in the challenger's training rows": 20},
    "summary": "Compared against v3 on 380 of the 400 holdout rows; left out: 20 seen.",
    "required_margin": 0.005,
    "min_quality": None,
    "min_compared_rows": 50,
    "rejudged": 0,
    "fairness": None,
}


def test_a_record_round_trips_decision_json_and_reads_like_it() -> None:
    record = PromotionRecord.from_dict(RECORD)
    assert record.to_dict() == RECORD and list(record.to_dict()) == list(RECORD)
    assert record == RECORD and dict(record) == RECORD and record["alias"] == "production"
    assert record.champion_version == 3 and record.excluded == RECORD["excluded"]
    assert PromotionRecord.from_dict(record) is record


@pytest.mark.parametrize(
    ("changes", "verdict"),
    [({"promote": True}, "promote"), ({}, "keep"), ({"decided": False}, "not decided")],
)
def test_the_verdict_says_promote_keep_or_not_decided(changes, verdict) -> None:
    assert PromotionRecord.from_dict({**RECORD, **changes}).verdict == verdict


def test_a_record_of_an_older_run_takes_defaults_for_what_it_lacks() -> None:
    older = {"promote": True, "reason": "first model", "alias": "production"}
    record = PromotionRecord.from_dict(older)
    assert record.decided and record.champion_version is None and record.excluded == {}
    assert record.verdict == "promote"


def test_numpy_values_become_python_ones() -> None:
    np = pytest.importorskip("numpy")
    record = PromotionRecord.from_dict(
        {**RECORD, "promote": np.bool_(True), "champion_version": np.int64(3)}
    )
    assert record.promote is True and type(record.champion_version) is int


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (["promote"], ["is a mapping", "not list"]),
        ({"promote": True, "reason": "x"}, ["lacks 'alias'", "it has: promote, reason"]),
        ({**RECORD, "promte": True}, ["unknown key(s) 'promte'", "decision.json"]),
        ({**RECORD, "promote": "yes"}, ["'promote' must be true or false", "'yes'"]),
        ({**RECORD, "champion_version": 2.5}, ["'champion_version' must be a whole number"]),
        ({**RECORD, "alias": None}, ["'alias' must be text, not None"]),
        ({**RECORD, "excluded": {"seen": "many"}}, ["'excluded' must be a mapping of reasons"]),
    ],
    ids=["not-a-mapping", "missing", "unknown", "bool", "int", "null", "counts"],
)
def test_a_malformed_decision_is_refused_with_what_is_wrong(data, words) -> None:
    with pytest.raises(RegistryError) as caught:
        PromotionRecord.from_dict(data)
    for word in words:
        assert word in str(caught.value)
