"""`mlops-nb models ...` against a real registry (SQLite + skops packages) in a temp project."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from mlops_nb import Registry, infer_contract
from tests.test_cli import cli


@pytest.fixture
def project(make_project):
    settings = make_project()
    frame = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]})
    model = LogisticRegression().fit(frame[["x"]], frame["y"])
    with Registry.from_settings(settings) as registry:
        for _ in range(2):
            registry.register(
                "toy",
                model,
                signature=infer_contract(frame[["x"]]),
                task="binary",
                target="y",
                metrics={"roc_auc": 1.0},
                data_version="abc",
                pipeline_run=None,
                training_run=None,
            )
        registry.set_alias("toy", "production", 1, reason="first")
    return settings


def test_list_show_history(project):
    listed = json.loads(cli("models", "list", "--json", cwd=project.root).stdout)
    assert listed[0]["name"] == "toy" and listed[0]["latest"] == 2
    shown = json.loads(cli("models", "show", "toy", "--json", cwd=project.root).stdout)
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    history = json.loads(cli("models", "history", "toy", "--json", cwd=project.root).stdout)
    assert history["history"][0]["reason"] == "first"


def test_promote_writes_the_audit_trail_and_answers_point_in_time(project):
    before = json.loads(cli("models", "history", "toy", "--json", cwd=project.root).stdout)
    moment = before["history"][-1]["at"]
    done = cli(
        "models",
        "promote",
        "toy",
        "2",
        "production",
        "--reason",
        "better on slices",
        "--json",
        cwd=project.root,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "name": "toy",
        "alias": "production",
        "version": 2,
        "moved": True,
    }
    history = json.loads(cli("models", "history", "toy", "--json", cwd=project.root).stdout)
    last = history["history"][-1]
    assert (last["from_version"], last["to_version"], last["reason"]) == (1, 2, "better on slices")
    at = cli(
        "models",
        "history",
        "toy",
        "--alias",
        "production",
        "--at",
        moment,
        "--json",
        cwd=project.root,
    )
    assert json.loads(at.stdout)["version"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("models", "show", "nope"), "no model named 'nope'"),
        (("models", "promote", "toy", "9", "production", "--reason", "x"), "has no version 9"),
        (
            ("models", "promote", "toy", "1", "../up", "--reason", "x"),
            "alias '../up' is not allowed",
        ),
        (("models", "promote", "toy", "1", "staging", "--reason", " "), "reason"),
        (("models", "show", "../etc"), "not allowed"),
    ],
)
def test_bad_model_requests_are_clear(project, args, message):
    done = cli(*args, cwd=project.root)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
