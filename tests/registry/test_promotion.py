"""Applying the gate's decision to a freshly registered version: which aliases move."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mlops_nb.errors import RegistryError
from mlops_nb.registry import ModelVersion, Registry
from mlops_nb.registry.gate import PromotionRecord
from mlops_nb.registry.promotion import apply_decision


def decision(**changes: object) -> PromotionRecord:
    values = {
        "promote": True,
        "reason": "challenger 0.9 vs champion 0.8: improvement 0.1 is at least the margin",
        "alias": "production",
        "model_name": "churn",
        "champion_version": 1,
        **changes,
    }
    return PromotionRecord.from_dict(values)


def test_a_promotion_moves_staging_then_the_alias_with_the_gates_reason(
    registry: Registry, register: Callable[..., ModelVersion]
) -> None:
    register()
    registry.set_alias("churn", "production", 1, reason="first model")
    challenger = register()
    changes = apply_decision(registry, challenger, decision(), run="RUN2")
    assert changes == [
        {"alias": "staging", "version": 2, "moved": True},
        {"alias": "production", "version": 2, "moved": True},
    ]
    history = registry.history("churn", "production")
    assert history["reason"].iloc[-1] == decision().reason and history["run"].iloc[-1] == "RUN2"


def test_a_kept_champion_moves_only_staging(
    registry: Registry, register: Callable[..., ModelVersion]
) -> None:
    register()
    registry.set_alias("churn", "production", 1, reason="first model")
    changes = apply_decision(registry, register(), decision(promote=False), run="RUN2")
    assert changes == [{"alias": "staging", "version": 2, "moved": True}]
    assert registry.get("churn", "production").version == 1


def test_decision_json_as_a_mapping_is_applied_like_the_record(
    registry: Registry, register: Callable[..., ModelVersion]
) -> None:
    first = register()
    as_saved = decision(champion_version=None).to_dict()  # what register reads from evaluate
    changes = apply_decision(registry, first, as_saved, run="RUN1", staging_alias=None)
    assert changes == [{"alias": "production", "version": 1, "moved": True}]


def test_a_malformed_decision_moves_nothing(
    registry: Registry, register: Callable[..., ModelVersion]
) -> None:
    version = register()
    with pytest.raises(RegistryError, match="lacks 'alias'"):
        apply_decision(registry, version, {"promote": True, "reason": "better"}, run="RUN1")
    assert registry.history("churn").empty, "not even staging moved"


def test_a_decision_about_another_model_or_an_old_champion_is_refused(
    registry: Registry, register: Callable[..., ModelVersion]
) -> None:
    register()
    registry.set_alias("churn", "production", 1, reason="first model")
    challenger = register()
    with pytest.raises(RegistryError, match="about model 'houses', not 'churn'"):
        apply_decision(registry, challenger, decision(model_name="houses"), run="RUN2")
    registry.set_alias("churn", "production", 2, reason="by hand")
    with pytest.raises(RegistryError, match="moved to v2 while this run evaluated against v1"):
        apply_decision(registry, register(), decision(), run="RUN3")
