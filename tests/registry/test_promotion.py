"""Applying the gate's decision to a freshly registered version: which aliases move.

When another run moved the champion after this one evaluated, the challenger is
judged again against the new champion on the same holdout, and the alias moves
only if it still holds the champion judged against (a compare-and-set).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops_nb.errors import RegistryError
from mlops_nb.prep.keys import row_keys
from mlops_nb.registry import ModelVersion, Registry, promotion
from mlops_nb.registry.champion import TRAINING_KEYS_FILE
from mlops_nb.registry.gate import PromotionRecord
from mlops_nb.registry.promotion import apply_decision
from tests.registry.conftest import register_model
from tests.registry.test_champion import TARGET, dataset, fit, rule_for

GATE = {"required_margin": 0.005, "min_quality": 0.7, "min_compared_rows": 50}


def decision(**changes: object) -> PromotionRecord:
    values = {
        "promote": True,
        "reason": "challenger 0.9 vs champion 0.8: improvement 0.1 is at least the margin",
        "alias": "production",
        "model_name": "churn",
        "champion_version": 1,
        **GATE,
        **changes,
    }
    return PromotionRecord.from_dict(values)


def test_a_promotion_moves_the_alias_with_the_gates_reason_then_staging(
    registry: Registry, register: Callable[..., ModelVersion]
) -> None:
    register()
    registry.set_alias("churn", "production", 1, reason="first model")
    challenger = register()
    outcome = apply_decision(registry, challenger, decision(), run="RUN2")
    assert outcome.changes == [
        {"alias": "production", "version": 2, "moved": True, "reason": decision().reason},
        {"alias": "staging", "version": 2, "moved": True, "reason": "newly registered by run RUN2"},
    ]
    assert outcome.decision == decision() and outcome.promoted and outcome.decision.rejudged == 0
    history = registry.history("churn", "production")
    assert history["reason"].iloc[-1] == decision().reason and history["run"].iloc[-1] == "RUN2"
    assert outcome.to_dict()["decision"] == decision().to_dict()


def test_a_kept_champion_moves_only_staging(
    registry: Registry, register: Callable[..., ModelVersion]
) -> None:
    register()
    registry.set_alias("churn", "production", 1, reason="first model")
    outcome = apply_decision(registry, register(), decision(promote=False), run="RUN2")
    assert [change["alias"] for change in outcome.changes] == ["staging"]
    assert registry.get("churn", "production").version == 1
    assert outcome.decision == decision(promote=False) and not outcome.promoted


def test_decision_json_as_a_mapping_is_applied_like_the_record(
    registry: Registry, register: Callable[..., ModelVersion]
) -> None:
    first = register()
    as_saved = decision(champion_version=None).to_dict()  # what register reads from evaluate
    outcome = apply_decision(registry, first, as_saved, run="RUN1", staging_alias=None)
    assert outcome.changes == [
        {"alias": "production", "version": 1, "moved": True, "reason": as_saved["reason"]}
    ]


def test_a_malformed_decision_moves_nothing(
    registry: Registry, register: Callable[..., ModelVersion]
) -> None:
    version = register()
    with pytest.raises(RegistryError, match="lacks 'alias'"):
        apply_decision(registry, version, {"promote": True, "reason": "better"}, run="RUN1")
    assert registry.history("churn").empty, "not even staging moved"


def test_a_decision_about_another_model_is_refused(
    registry: Registry, register: Callable[..., ModelVersion]
) -> None:
    register()
    challenger = register()
    with pytest.raises(RegistryError, match="about model 'houses', not 'churn'"):
        apply_decision(registry, challenger, decision(model_name="houses"), run="RUN2")


# -- the champion moved while this run evaluated ---------------------------------


class Holdout:
    """A challenger trained on rows 0-299 of a 400-row frame, its holdout rows 300-399."""

    def __init__(self, tmp_path: Path, frame: pd.DataFrame | None = None) -> None:
        self.frame = dataset() if frame is None else frame
        self.keys = row_keys(self.frame)
        self.train, self.holdout = self.frame.iloc[:300], self.frame.iloc[300:]
        self.tmp_path = tmp_path

    def evidence(self, challenger: Any) -> dict[str, Any]:
        """The holdout arguments the register stage passes to apply_decision."""
        return {
            "challenger": challenger,
            "holdout": self.holdout,
            "target": TARGET,
            "task": "binary",
            "holdout_keys": self.keys.loc[self.holdout.index],
            "train_keys": self.keys.loc[self.train.index],
            "rule": rule_for(self.frame),
        }

    def register(self, registry: Registry, model: Any, trained_on: slice = slice(0, 300)) -> int:
        """Register ``model`` with the identities of rows ``trained_on`` as its training rows."""
        path = self.tmp_path / "keys.parquet"
        self.keys.iloc[trained_on].to_frame().to_parquet(path, index=False)
        extra = {"attachments": {TRAINING_KEYS_FILE: path}, "split": rule_for(self.frame).to_dict()}
        return register_model(registry, "churn", model, **extra).version


def good(data: Holdout) -> Any:
    return fit(data.train)


def bad(data: Holdout) -> Any:
    """A model trained on shuffled labels: about as good as a coin."""
    labels = data.train[TARGET].sample(frac=1, random_state=1).to_numpy()
    shuffled = data.train.assign(**{TARGET: labels})
    return fit(shuffled)


def first_version_decision() -> PromotionRecord:
    """What evaluate decided while there was no champion: promote the first version."""
    return decision(champion_version=None, reason="no champion: 0.9 >= the minimum 0.7, promoted")


def test_a_champion_that_moved_is_judged_again_and_beaten(
    registry: Registry, tmp_path: Path
) -> None:
    data = Holdout(tmp_path)
    champion = data.register(registry, bad(data))  # another run registered and promoted first
    registry.set_alias("churn", "production", champion, reason="first model")
    challenger = good(data)
    version = registry.get("churn", data.register(registry, challenger))

    outcome = apply_decision(
        registry, version, first_version_decision(), run="RUN2", **data.evidence(challenger)
    )

    judged = outcome.decision
    assert judged.promote and judged.decided and judged.rejudged == 1
    assert judged.champion_version == 1 and judged.compared_rows == 100
    assert judged.reason.startswith(
        "re-judged against v1 because v1 became the champion during this run "
        "(it evaluated with none): challenger "
    )
    assert judged.required_margin == 0.005 and judged.min_compared_rows == 50
    assert registry.get("churn", "production").version == 2
    history = registry.history("churn")
    assert history["reason"].iloc[-2] == judged.reason and history["run"].iloc[-2] == "RUN2"
    staged = f"newly registered by run RUN2; production: {judged.reason}"
    assert history["reason"].iloc[-1] == staged


def test_a_worse_challenger_is_registered_not_promoted_and_the_reason_says_so(
    registry: Registry, tmp_path: Path
) -> None:
    data = Holdout(tmp_path)
    registry.set_alias("churn", "production", data.register(registry, good(data)), reason="v1")
    registry.set_alias("churn", "production", data.register(registry, good(data)), reason="v2")
    challenger = bad(data)
    version = registry.get("churn", data.register(registry, challenger))

    outcome = apply_decision(registry, version, decision(), run="RUN3", **data.evidence(challenger))

    judged = outcome.decision
    assert not judged.promote and judged.decided and judged.verdict == "keep"
    assert judged.reason.startswith("re-judged against v2 because the champion moved from v1")
    assert "less than the required margin 0.005, not promoted" in judged.reason
    assert registry.get("churn", "production").version == 2, "the champion keeps the alias"
    assert registry.get("churn", 3).aliases == ("staging",), "registered all the same"
    assert [change["alias"] for change in outcome.changes] == ["staging"]
    assert judged.reason in registry.history("churn", "staging")["reason"].iloc[-1]


def test_too_few_rows_unseen_by_the_new_champion_is_not_decided(
    registry: Registry, tmp_path: Path
) -> None:
    data = Holdout(tmp_path)
    # the new champion trained on rows 0-379: only 20 holdout rows are unseen by both
    champion = data.register(registry, good(data), trained_on=slice(0, 380))
    registry.set_alias("churn", "production", champion, reason="first model")
    challenger = good(data)
    version = registry.get("churn", data.register(registry, challenger))

    outcome = apply_decision(
        registry, version, first_version_decision(), run="RUN2", **data.evidence(challenger)
    )

    judged = outcome.decision
    assert judged.verdict == "not decided" and judged.compared_rows == 20
    assert "only 20 holdout row(s) were seen by neither model" in judged.reason
    assert registry.get("churn", "production").version == 1


def test_without_a_holdout_a_moved_champion_means_not_promoted_never_an_error(
    registry: Registry, register: Callable[..., ModelVersion]
) -> None:
    register()
    registry.set_alias("churn", "production", 1, reason="first model")
    register()
    registry.set_alias("churn", "production", 2, reason="by hand")
    outcome = apply_decision(registry, register(), decision(), run="RUN3")

    assert not outcome.promoted and outcome.decision.verdict == "not decided"
    assert outcome.decision.reason.startswith(
        "not promoted: the champion moved from v1 to v2 after this run evaluated, and "
        "apply_decision was given no holdout to judge it again"
    )
    assert registry.get("churn", "production").version == 2
    assert registry.get("churn", 3).aliases == ("staging",)


def test_a_decision_without_the_gates_settings_is_not_judged_again(
    registry: Registry, tmp_path: Path
) -> None:
    data = Holdout(tmp_path)
    registry.set_alias("churn", "production", data.register(registry, good(data)), reason="v1")
    challenger = good(data)
    version = registry.get("churn", data.register(registry, challenger))
    older = {k: v for k, v in first_version_decision().to_dict().items() if k not in GATE}

    outcome = apply_decision(registry, version, older, run="RUN2", **data.evidence(challenger))

    assert not outcome.promoted
    assert "does not record the gate's settings" in outcome.decision.reason


def test_a_champion_that_keeps_moving_is_given_up_on_after_the_attempts(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = Holdout(tmp_path)
    numbers = [data.register(registry, good(data)) for _ in range(4)]
    registry.set_alias("churn", "production", numbers[1], reason="v2")
    real = promotion.judge_challenger

    def judge_while_another_run_promotes(*args: Any, **kwargs: Any) -> Any:
        judged = real(*args, **kwargs)
        held = registry.get("churn", "production").version
        registry.set_alias("churn", "production", held + 1, reason="another run")
        return judged

    monkeypatch.setattr(promotion, "judge_challenger", judge_while_another_run_promotes)
    challenger = good(data)
    version = registry.get("churn", data.register(registry, challenger))
    outcome = apply_decision(
        registry, version, decision(), run="RUN5", attempts=2, **data.evidence(challenger)
    )

    assert not outcome.promoted and outcome.decision.rejudged == 2
    assert "the champion kept moving while this run judged it (v1 → v2 → v3 → v4)" in (
        outcome.decision.reason
    )
    assert "gave up after 2 re-judgement(s)" in outcome.decision.reason
    assert registry.get("churn", "production").version == 4


def test_an_alias_moved_between_the_check_and_the_swap_is_judged_again(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = Holdout(tmp_path)
    first, second = (data.register(registry, bad(data)) for _ in range(2))
    registry.set_alias("churn", "production", first, reason="v1")
    challenger = good(data)
    version = registry.get("churn", data.register(registry, challenger))
    real, calls = registry.swap_alias, []

    def lose_the_first_race(*args: Any, **kwargs: Any) -> int | None:
        if not calls:  # another run promotes v2 just before this run's swap
            registry.set_alias("churn", "production", second, reason="another run")
        calls.append(kwargs["expected"])
        return real(*args, **kwargs)

    monkeypatch.setattr(registry, "swap_alias", lose_the_first_race)
    stale = decision(champion_version=first)
    outcome = apply_decision(registry, version, stale, run="RUN3", **data.evidence(challenger))

    assert calls == [1, 2], "the swap expected v1, lost, and after judging again expected v2"
    assert outcome.promoted and outcome.decision.champion_version == 2
    assert outcome.decision.reason.startswith(
        "re-judged against v2 because the champion moved from v1 during this run"
    )
    moves = registry.history("churn", "production")
    assert moves["to_version"].astype(int).tolist() == [1, 2, 3]
    assert moves["reason"].iloc[-1] == outcome.decision.reason
