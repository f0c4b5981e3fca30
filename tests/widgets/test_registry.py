"""RegistryBrowser driven from code: tables, audited alias moves, retirement, errors."""

from __future__ import annotations

import pandas as pd

from mlops_nb.registry import Registry
from mlops_nb.widgets import RegistryBrowser


def history(settings):
    with Registry.from_settings(settings) as registry:
        return registry.history("churn")


def test_an_empty_project_says_no_models_yet(settings):
    browser = RegistryBrowser(settings)
    assert "no models yet" in browser.message.value
    assert browser.model.options == () and browser.versions.value == ""
    assert not settings.database.exists(), "browsing must not create the stores"
    browser.promote_reason.value = "why not"
    browser.promote_version.value = "1"
    assert browser.promote() is False
    assert "no model selected" in browser.message.value


def test_versions_and_history_tables(models):
    browser = RegistryBrowser(models, actor="tester")
    assert browser.model.value == "churn"
    versions = browser.versions.value
    assert "production" in versions and "staging" in versions and "roc_auc" in versions
    assert "pipeline_run" in versions and "0123456789abcdef" in versions
    assert "first model" in browser.history.value and "tester" in browser.history.value
    assert browser.promote_version.options[:2] == ("2", "1")
    assert {"latest", "production", "staging"} <= set(browser.promote_version.options)
    assert browser.retire_version.options == ("2", "1")


def test_promote_writes_the_audit_trail_with_the_reason(models):
    browser = RegistryBrowser(models, actor="alice")
    browser.promote_version.value = "staging"
    browser.promote_alias.value = "production"
    browser.promote_reason.value = "beats v1 on the north region"
    browser.promote_button.click()

    assert "churn@production → version 2" in browser.message.value
    assert "mlops-nb-ok" in browser.message.value
    last = history(models).iloc[-1]
    assert (last["alias"], last["from_version"], last["to_version"]) == ("production", 1, 2)
    assert last["reason"] == "beats v1 on the north region" and last["actor"] == "alice"
    assert "beats v1 on the north region" in browser.history.value
    assert browser.promote_reason.value == ""

    browser.promote_version.value = "2"
    browser.promote_reason.value = "again"
    assert browser.promote() is False
    assert "already points at version 2" in browser.message.value
    assert len(history(models)) == 3


def test_errors_are_shown_and_nothing_is_written(models):
    browser = RegistryBrowser(models)
    before = len(history(models))

    browser.promote_version.value = "1"
    browser.promote_reason.value = "   "
    browser.promote_button.click()
    assert "a reason is required" in browser.message.value
    assert "mlops-nb-error" in browser.message.value

    browser.promote_version.value = "9"
    browser.promote_reason.value = "typo"
    browser.promote_button.click()
    assert "no version 9" in browser.message.value

    browser.promote_version.value = "1"
    browser.promote_alias.value = "latest"
    browser.promote_button.click()
    assert "clash" in browser.message.value

    browser.promote_alias.value = ""
    browser.promote_button.click()
    assert "type the alias" in browser.message.value

    browser.retire_version.value = "1"
    browser.retire_reason.value = ""
    browser.retire_button.click()
    assert "a reason is required" in browser.message.value
    assert len(history(models)) == before


def test_retire_removes_aliases_with_history(models):
    browser = RegistryBrowser(models, actor="bob")
    browser.retire_version.value = "1"
    browser.retire_reason.value = "leaks the target"
    browser.retire_button.click()
    assert "retired churn:1" in browser.message.value and "production" in browser.message.value
    last = history(models).iloc[-1]
    assert last["alias"] == "production" and pd.isna(last["to_version"])
    assert "leaks the target" in last["reason"]
    assert browser.retire_version.options == ("2",)
    assert "retired" in browser.versions.value

    browser.promote_version.value = "1"
    browser.promote_alias.value = "production"
    browser.promote_reason.value = "bring it back"
    browser.promote_button.click()
    assert "is retired" in browser.message.value
