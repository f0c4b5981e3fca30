"""Aliases, their audit history, time travel and retirement."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from mlops_nb.errors import ModelNotFoundError, RegistryError
from mlops_nb.registry import Registry, parse_model_ref


@pytest.fixture
def three(registry: Registry, register) -> Registry:
    for _ in range(3):
        register()
    return registry


def _tick() -> datetime:
    """A moment strictly between two registry writes."""
    time.sleep(0.002)
    moment = datetime.now(UTC)
    time.sleep(0.002)
    return moment


def test_set_move_and_remove_are_recorded(three: Registry) -> None:
    assert three.set_alias("churn", "production", 1, reason="first model", actor="ana", run="run-1")
    assert three.set_alias("churn", "production", 2, reason="beats v1 by 0.02", actor="bo")
    assert three.get("churn", "production").version == 2
    assert three.get("churn", 2).aliases == ("production",)
    assert three.remove_alias("churn", "production", reason="incident 17", actor="cy") == 2
    history = three.history("churn")
    assert list(history.columns) == [
        "at",
        "alias",
        "from_version",
        "to_version",
        "actor",
        "reason",
        "run",
    ]
    assert history["from_version"].tolist() == [pd.NA, 1, 2]
    assert history["to_version"].tolist() == [1, 2, pd.NA]
    assert history["actor"].tolist() == ["ana", "bo", "cy"]
    assert history["reason"].tolist() == ["first model", "beats v1 by 0.02", "incident 17"]
    assert history["run"].iloc[0] == "run-1" and history["run"].iloc[1:].isna().all()
    assert history["at"].is_monotonic_increasing and str(history["at"].dt.tz) == "UTC"


def test_setting_the_same_version_records_nothing(three: Registry) -> None:
    assert three.set_alias("churn", "production", 1, reason="first")
    assert not three.set_alias("churn", "production", 1, reason="again")
    assert len(three.history("churn")) == 1


def test_alias_can_follow_another_alias_or_latest(three: Registry) -> None:
    three.set_alias("churn", "staging", 2, reason="candidate")
    three.set_alias("churn", "production", "staging", reason="staging looked good")
    three.set_alias("churn", "canary", "latest", reason="newest")
    assert three.get("churn", "production").version == 2
    assert three.get("churn", "canary").version == 3
    assert three.load(*parse_model_ref("churn@production")).version.version == 2


def test_history_of_one_alias(three: Registry) -> None:
    three.set_alias("churn", "production", 1, reason="a")
    three.set_alias("churn", "staging", 3, reason="b")
    assert three.history("churn", "staging")["to_version"].tolist() == [3]
    assert three.history("churn", "nothing").empty


def test_actor_defaults_to_the_os_user(three: Registry, monkeypatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "model-owner")
    three.set_alias("churn", "production", 1, reason="first")

    def no_user() -> str:
        raise OSError("no user")

    monkeypatch.setattr("getpass.getuser", no_user)
    three.set_alias("churn", "production", 2, reason="second")
    assert three.history("churn")["actor"].tolist() == ["model-owner", "unknown"]


def test_alias_at_answers_which_version_held_it(three: Registry) -> None:
    before = _tick()
    three.set_alias("churn", "production", 1, reason="first")
    on_one = _tick()
    three.set_alias("churn", "production", 3, reason="second")
    on_three = _tick()
    three.remove_alias("churn", "production", reason="rollback")
    after = _tick()
    assert three.alias_at("churn", "production", before) is None
    assert three.alias_at("churn", "production", on_one) == 1
    assert three.alias_at("churn", "production", on_three) == 3
    assert three.alias_at("churn", "production", after) is None
    assert three.alias_at("churn", "production", on_one.isoformat()) == 1
    assert three.alias_at("churn", "never-set", after) is None
    local_naive = on_three.astimezone().replace(tzinfo=None)  # naive = local time
    assert three.alias_at("churn", "production", local_naive) == 3
    recorded = three.history("churn")["at"].iloc[1].to_pydatetime()
    assert three.alias_at("churn", "production", recorded) == 3  # at T itself: the new one
    assert three.alias_at("churn", "production", recorded - timedelta(microseconds=1)) == 1


def test_alias_at_refuses_bad_times(three: Registry) -> None:
    with pytest.raises(RegistryError, match="ISO 8601"):
        three.alias_at("churn", "production", "yesterday")


def test_retire_removes_aliases_and_blocks_new_ones(three: Registry) -> None:
    three.set_alias("churn", "production", 2, reason="best")
    three.set_alias("churn", "shadow", 2, reason="compare")
    three.set_alias("churn", "staging", 3, reason="candidate")
    retired = three.retire("churn", 2, reason="drift on tenure", actor="monitor", run="mon-9")
    assert retired.status == "retired" and retired.aliases == ()
    history = three.history("churn")
    removals = history[history["to_version"].isna()]
    assert sorted(removals["alias"]) == ["production", "shadow"]
    assert set(removals["reason"]) == {"retired version 2: drift on tenure"}
    assert set(removals["run"]) == {"mon-9"} and set(removals["actor"]) == {"monitor"}
    assert three.get("churn", "staging").version == 3
    with pytest.raises(RegistryError, match="retired and cannot take alias"):
        three.set_alias("churn", "production", 2, reason="undo")
    versions = three.versions("churn")
    assert versions["status"].tolist() == ["active", "retired", "active"]
    assert versions["retired_reason"].tolist()[1] == "drift on tenure"
    assert three.retire("churn", 2, reason="again").status == "retired"  # idempotent
    assert len(three.history("churn")) == len(history)
    assert three.load("churn", 2).version.status == "retired"  # still loadable by number


def test_latest_skips_retired_versions(three: Registry) -> None:
    three.retire("churn", 3, reason="bad")
    assert three.get("churn").version == 2
    assert three.list_models()["latest"].tolist() == [2]
    three.retire("churn", 1, reason="old")
    three.retire("churn", 2, reason="old")
    with pytest.raises(ModelNotFoundError, match="every version of model 'churn' is retired"):
        three.get("churn", "latest")


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_reason_is_required(three: Registry, reason: object) -> None:
    with pytest.raises(RegistryError, match="a reason is required"):
        three.set_alias("churn", "production", 1, reason=reason)  # type: ignore[arg-type]
    with pytest.raises(RegistryError, match="a reason is required"):
        three.retire("churn", 1, reason=reason)  # type: ignore[arg-type]
    assert three.history("churn").empty


@pytest.mark.parametrize("alias", ["3", "latest", "../prod", "a/b", ""])
def test_bad_aliases_are_refused(three: Registry, alias: str) -> None:
    with pytest.raises(RegistryError):
        three.set_alias("churn", alias, 1, reason="x")
    assert three.history("churn").empty


def test_alias_errors_name_what_exists(three: Registry) -> None:
    with pytest.raises(ModelNotFoundError, match="has no version 9; its versions are 1, 2, 3"):
        three.set_alias("churn", "production", 9, reason="x")
    with pytest.raises(ModelNotFoundError, match="no alias 'production'"):
        three.remove_alias("churn", "production", reason="x")
    with pytest.raises(ModelNotFoundError, match="no model named 'fraud'"):
        three.set_alias("fraud", "production", 1, reason="x")
    with pytest.raises(ModelNotFoundError, match="no model named 'fraud'"):
        three.history("fraud")
    with pytest.raises(ModelNotFoundError, match="no model named 'fraud'"):
        three.alias_at("fraud", "production", datetime.now(UTC))


def test_aliases_survive_reopening(three: Registry) -> None:
    three.set_alias("churn", "production", 2, reason="best")
    with Registry(three.backend, three.root) as again:
        assert again.get("churn", "production").version == 2
        assert len(again.history("churn")) == 1


def test_swap_alias_moves_only_from_the_expected_version(three: Registry) -> None:
    assert three.swap_alias("churn", "production", 1, expected=None, reason="first") is None
    assert three.swap_alias("churn", "production", 2, expected=None, reason="stale") == 1
    assert three.get("churn", "production").version == 1, "a stale swap moves nothing"
    assert three.swap_alias("churn", "production", 2, expected=1, reason="better") == 1
    assert three.get("churn", "production").version == 2
    assert three.history("churn", "production")["reason"].tolist() == ["first", "better"]
    with pytest.raises(RegistryError, match="reason is required"):
        three.swap_alias("churn", "production", 3, expected=2, reason=" ")
