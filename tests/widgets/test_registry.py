"""RegistryBrowser driven from code: tables, audited alias moves, confirmations, retirement."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from traitlets import TraitError

from mlops_nb.lab.links import DIR_ENV, URL_ENV
from mlops_nb.registry import Registry
from mlops_nb.widgets import RegistryBrowser
from mlops_nb.widgets.registry import NEW_ALIAS
from tests.pipeline.test_compare import make_record, write_run

RUN = "20250101-120000-train"  # the pipeline run both fixture versions were registered by


def history(settings):
    with Registry.from_settings(settings) as registry:
        return registry.history("churn")


def gate_run(settings, *, promote: bool) -> None:
    """The archived run of the fixture versions, its evaluate stage's gate decision."""
    record = make_record(RUN, metrics={"evaluate": {"roc_auc": 0.9}})
    record["stages"][0]["artifacts"] = {"decision": {"file": "decision.json"}}
    folder = write_run(settings.runs_dir, record)
    (folder / "01_evaluate").mkdir()
    decision = {
        "promote": promote,
        "alias": "production",
        "reason": "improvement -0.004 is less than the required margin 0.005, not promoted",
    }
    (folder / "01_evaluate" / "decision.json").write_text(json.dumps(decision))
    (folder / "index.html").write_text("<html></html>")


def test_an_empty_project_says_no_models_yet(settings):
    browser = RegistryBrowser(settings)
    assert "no models yet" in browser.message.value
    assert browser.model.options == () and browser.versions.value == ""
    assert browser.promote_alias.options == (NEW_ALIAS,)
    assert not settings.database.exists(), "browsing must not create the stores"
    browser.promote_reason.value = "why not"
    browser.promote_version.value = "1"
    assert browser.promote() is False
    assert "no model selected" in browser.promote_message.value


def test_versions_and_history_tables(models):
    browser = RegistryBrowser(models, actor="tester")
    assert browser.model.value == "churn"
    versions = browser.versions.value
    assert "production" in versions and "staging" in versions and "roc_auc" in versions
    assert "pipeline_run" in versions and "0123456789abcdef" in versions
    assert versions.startswith('<div style="max-width: 100%; overflow-x: auto;">')
    assert versions.count("<th") == 7, "metrics and lineage share a cell each: it fits"
    assert "roc_auc 0.91<br>accuracy 0.87" in versions
    assert 'pipeline_run <span title="20250101-120000-train">20250101-120000…</span>' in versions
    assert "first model" in browser.history.value and "tester" in browser.history.value
    assert browser.promote_version.options[:2] == ("2", "1")
    assert {"latest", "production", "staging"} <= set(browser.promote_version.options)
    assert browser.promote_alias.options == ("production", "staging", NEW_ALIAS)
    assert browser.promote_alias.value == "production"
    assert browser.new_alias.layout.display == "none"
    assert browser.retire_version.options == ("2", "1")


def test_the_run_that_registered_a_version_links_to_its_report(models, monkeypatch):
    gate_run(models, promote=True)
    versions = RegistryBrowser(models).versions.value
    assert f'href="project/outputs/runs/{RUN}/index.html"' in versions  # from the notebook's cwd
    assert "text-decoration: underline" in versions

    monkeypatch.setenv(URL_ENV, "/user/ana/mlops-nb/runs/")
    monkeypatch.setenv(DIR_ENV, str(models.runs_dir))
    versions = RegistryBrowser(models).versions.value
    assert f'href="/user/ana/mlops-nb/runs/{RUN}/index.html"' in versions


def test_each_message_sits_under_the_button_that_produced_it(models):
    browser = RegistryBrowser(models)
    children = list(browser.widget.children)
    for button, message in (
        (browser.promote_button, browser.promote_message),
        (browser.retire_button, browser.retire_message),
    ):
        row = next(i for i, c in enumerate(children) if button in getattr(c, "children", ()))
        assert children[row + 1] is message


def test_promote_writes_the_audit_trail_with_the_reason(models):
    browser = RegistryBrowser(models, actor="alice")
    browser.promote_version.value = "staging"
    browser.promote_alias.value = "production"
    browser.promote_reason.value = "beats v1 on the north region"
    browser.promote_button.click()

    assert "churn@production → version 2" in browser.promote_message.value
    assert "mlops-nb-ok" in browser.promote_message.value
    last = history(models).iloc[-1]
    assert (last["alias"], last["from_version"], last["to_version"]) == ("production", 1, 2)
    assert last["reason"] == "beats v1 on the north region" and last["actor"] == "alice"
    assert "beats v1 on the north region" in browser.history.value
    assert browser.promote_reason.value == ""

    browser.promote_version.value = "2"
    browser.promote_reason.value = "again"
    assert browser.promote() is False
    assert "already points at version 2" in browser.promote_message.value
    assert len(history(models)) == 3


def test_a_new_alias_is_chosen_apart_and_must_be_confirmed(models):
    browser = RegistryBrowser(models, actor="carol")
    with pytest.raises(TraitError):
        browser.promote_alias.value = "prodution"  # only the model's aliases can be picked
    browser.promote_alias.value = NEW_ALIAS
    assert browser.new_alias.layout.display is None
    browser.new_alias.value = "prodution"
    browser.promote_version.value = "2"
    browser.promote_reason.value = "typo"
    before = len(history(models))

    browser.promote_button.click()
    message = browser.promote_message.value
    assert "mlops-nb-warning" in message and "&#x27;prodution&#x27; is a new alias" in message
    assert "production, staging" in message and "Click Confirm" in message
    assert browser.promote_button.description == "Confirm"
    assert len(history(models)) == before, "nothing is written before the confirmation"

    browser.new_alias.value = "shadow"  # a change to the form asks again
    assert browser.promote_button.description == "Set alias"
    browser.promote_button.click()
    assert "&#x27;shadow&#x27; is a new alias" in browser.promote_message.value
    browser.promote_button.click()
    assert "churn@shadow → version 2" in browser.promote_message.value
    assert history(models).iloc[-1][["alias", "to_version"]].tolist() == ["shadow", 2]
    assert "shadow" in browser.promote_alias.options
    assert browser.promote_button.description == "Set alias"


def test_overriding_the_gate_warns_first(models):
    gate_run(models, promote=False)
    browser = RegistryBrowser(models, actor="dave")
    browser.promote_version.value = "2"
    browser.promote_reason.value = "the margin is too strict"
    before = len(history(models))

    browser.promote_button.click()
    message = browser.promote_message.value
    assert "mlops-nb-warning" in message and f"promotion gate of run {RUN}" in message
    assert "kept version 2 out of production" in message and "less than the required" in message
    assert len(history(models)) == before

    browser.promote_button.click()
    assert "against the gate&#x27;s decision" in browser.promote_message.value
    assert history(models).iloc[-1][["alias", "to_version"]].tolist() == ["production", 2]

    browser.promote_alias.value = "staging"  # the gate only decides production
    browser.promote_version.value = "1"
    browser.promote_reason.value = "roll staging back"
    assert browser.promote() is True


def test_a_promoted_version_needs_no_confirmation(models):
    gate_run(models, promote=True)
    browser = RegistryBrowser(models)
    browser.promote_version.value = "2"
    browser.promote_reason.value = "as the gate said"
    assert browser.promote() is True
    assert "mlops-nb-ok" in browser.promote_message.value


def test_errors_are_shown_and_nothing_is_written(models):
    browser = RegistryBrowser(models)
    before = len(history(models))

    browser.promote_version.value = "1"
    browser.promote_reason.value = "   "
    browser.promote_button.click()
    assert "a reason is required" in browser.promote_message.value
    assert "mlops-nb-error" in browser.promote_message.value

    browser.promote_version.value = "9"
    browser.promote_reason.value = "typo"
    browser.promote_button.click()
    assert "no version 9" in browser.promote_message.value

    browser.promote_version.value = "1"
    browser.promote_alias.value = NEW_ALIAS
    browser.new_alias.value = "latest"
    browser.promote_button.click()
    assert "clash" in browser.promote_message.value

    browser.new_alias.value = ""
    browser.promote_button.click()
    assert "choose the alias to move" in browser.promote_message.value

    browser.retire_version.value = "1"
    browser.retire_reason.value = ""
    browser.retire_button.click()
    assert "a reason is required" in browser.retire_message.value
    assert browser.promote_message.value != browser.retire_message.value
    assert len(history(models)) == before


def test_retire_removes_aliases_with_history_and_greys_the_version(models):
    browser = RegistryBrowser(models, actor="bob")
    assert "color: #8a8a8a" not in browser.versions.value
    browser.retire_version.value = "1"
    browser.retire_reason.value = "leaks the target"
    browser.retire_button.click()
    assert "retired churn:1" in browser.retire_message.value
    assert "production" in browser.retire_message.value
    last = history(models).iloc[-1]
    assert last["alias"] == "production" and pd.isna(last["to_version"])
    assert "leaks the target" in last["reason"]
    assert browser.retire_version.options == ("2",)
    assert browser.versions.value.count("<th") == 8  # now with the retired_reason column
    rows = browser.versions.value.split("<tr")[2:]  # after the header: v2, then v1
    assert "color: #8a8a8a" in rows[1] and "retired" in rows[1]
    assert "color: #8a8a8a" not in rows[0] and "font-weight: 600" not in rows[1]
    assert "production" in browser.promote_alias.options, "an alias once used stays a choice"

    browser.promote_version.value = "1"
    browser.promote_alias.value = "production"
    browser.promote_reason.value = "bring it back"
    browser.promote_button.click()
    assert "is retired" in browser.promote_message.value


def protect_production(settings, monkeypatch) -> None:
    """Production becomes a protected alias; the person acting is ``author``."""
    with settings.pipeline_file.open("a") as spec:
        spec.write("\ngovernance:\n  protected_aliases: [production]\n")
    monkeypatch.setenv("MLOPS_NB_USER", "author")


def test_pending_proposals_are_shown_and_approved_with_a_reason(models, monkeypatch):
    protect_production(models, monkeypatch)
    with Registry.from_settings(models) as registry:
        registered_by = registry.load("churn", 2).metadata["registered_by"]
        held, proposal = registry.propose("churn", "production", 2, reason="better on recall")
    assert held == 1 and proposal is not None and registered_by
    browser = RegistryBrowser(models, actor="reviewer")
    assert "better on recall" in browser.pending.value and "author" in browser.pending.value
    assert browser.approve_proposal.options[0][0] == f"#{proposal}: v2 → production"

    browser.approve_reason.value = ""
    assert browser.approve() is False and "say why" in browser.approve_message.value
    browser.promote_version.value, browser.promote_alias.value = "2", "production"
    browser.promote_reason.value = "skip the review"
    assert browser.promote() is False and "protected" in browser.promote_message.value

    browser.approve_reason.value = "reviewed the report"
    assert browser.approve() is True, browser.approve_message.value
    assert "approved: churn@production → v2" in browser.approve_message.value
    assert "no proposal waits" in browser.pending.value
    events = [e for e in browser.history.value.split("<tr") if "approved" in e]
    assert events and "reviewer" in browser.history.value
    with Registry.from_settings(models) as registry:
        assert registry.get("churn", "production").version == 2
        audit = registry.audit("churn", "production")
    assert audit["event"].tolist()[-3:] == ["proposed", "approved", "approved move"]
    assert audit["actor"].tolist()[-3:] == ["author", "reviewer", "reviewer"]


def test_the_registrant_cannot_approve_their_own_version_from_the_browser(models, monkeypatch):
    protect_production(models, monkeypatch)
    with Registry.from_settings(models) as registry:
        registrant = registry.load("churn", 2).metadata["registered_by"]
        registry.propose("churn", "production", 2, reason="mine")
    browser = RegistryBrowser(models, actor=registrant)
    browser.approve_reason.value = "trust me"
    assert browser.approve() is False
    assert "cannot approve it" in browser.approve_message.value
    with Registry.from_settings(models) as registry:
        assert registry.get("churn", "production").version == 1
