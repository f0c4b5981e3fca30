"""Comparing two runs' records: params, metrics, stages, data, code, packages, outcome."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops_nb.artifacts import write_json
from mlops_nb.errors import ComparisonError
from mlops_nb.pipeline.compare import (
    compare_runs,
    previous_run,
    registered_model,
    run_notes,
    run_outcome,
)


def make_record(
    run_id: str,
    pipeline: str = "train",
    *,
    params: dict[str, Any] | None = None,
    metrics: dict[str, dict[str, Any]] | None = None,
    notes: dict[str, dict[str, Any]] | None = None,
    status: str = "succeeded",
    **extra: Any,
) -> dict[str, Any]:
    """A run.json record with one stage per key of ``metrics`` (stage → its metrics).

    ``notes`` gives some of those stages notes (stage → its notes).
    """
    params = {"seed": 0, "data_source": "sample:churn", "target": "churned", **(params or {})}
    metrics = metrics if metrics is not None else {"train": {"cv_roc_auc": 0.8, "trials": 6}}
    stages = []
    for index, (name, logged) in enumerate(metrics.items(), start=1):
        folder = f"{index:02d}_{name}"
        stages.append(
            {
                "name": name,
                "notebook": f"templates/{folder}.ipynb",
                "dir": folder,
                "status": status,
                "seconds": 1.0 + index,
                "cached": False,
                "started_at": "2026-11-23T12:00:00.000Z",
                "params": {"seed": params["seed"], "target": params["target"]},
                "metrics": dict(logged),
                "notes": dict((notes or {}).get(name, {})),
                "artifacts": {},
                "executed": f"{folder}/executed.ipynb",
                "report": f"{folder}/report.html",
                "error": None,
            }
        )
    record = {
        "schema": 1,
        "id": run_id,
        "pipeline": pipeline,
        "status": status,
        "started_at": "2026-11-23T12:00:00.000Z",
        "finished_at": "2026-11-23T12:00:10.000Z",
        "seconds": sum(s["seconds"] for s in stages),
        "until": None,
        "overrides": {},
        "trigger": None,
        "params": params,
        "stages": stages,
        "metrics": {f"{s['name']}.{k}": v for s in stages for k, v in s["metrics"].items()},
        "data_versions": {"raw": "abc123"},
        "git": {"commit": "a" * 40, "dirty": False},
        "environment": {"python": "3.11.7", "packages": {"pandas": "2.2.0", "numpy": "1.26"}},
        "error": None,
    }
    record.update(extra)
    return record


def write_run(runs_dir: Path, record: dict[str, Any]) -> Path:
    """Write ``record`` as an archived run (run.json only, no live process)."""
    folder = runs_dir / record["id"]
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "run.json", {**record, "run_dir": str(folder)})
    return folder


ID_1 = "20261123T120000.000000Z-aaaa"
ID_2 = "20261123T130000.000000Z-bbbb"
ID_3 = "20261123T140000.000000Z-cccc"
ID_4 = "20261123T150000.000000Z-dddd"


def by_key(items) -> dict[str, Any]:
    return {d.key: d for d in items}


def test_equal_runs_have_no_differences():
    a = make_record(ID_1)
    b = copy.deepcopy(a) | {"id": ID_2, "seconds": 99.0}
    b["stages"][0]["seconds"] = 42.0  # durations never count
    diff = compare_runs(a, b)
    assert not diff.differs
    assert diff.to_dict()["metrics"] == [] and diff.to_dict()["stages"] == []
    assert all(len(frame) == 0 for frame in diff.tables().values())
    assert "no differences" in diff.summary()
    assert len(diff.section("params", include_equal=True)) == 3


def test_an_unknown_section_is_a_comparison_error_and_a_value_error():
    diff = compare_runs(make_record(ID_1), make_record(ID_2))
    with pytest.raises(ComparisonError, match="unknown section 'param'; sections") as caught:
        diff.section("param")
    assert isinstance(caught.value, ValueError) and caught.value.section == "param"


def test_params_metrics_stages_data_code_packages_and_model_differences():
    a = make_record(
        ID_1,
        metrics={"train": {"cv_roc_auc": 0.8, "gone": 1}, "evaluate": {"f1": 0.0}},
        notes={"train": {"best": "rf"}},
    )
    b = make_record(
        ID_2,
        params={"seed": 3, "budget": 8},
        metrics={
            "train": {"cv_roc_auc": 0.84},
            "evaluate": {"f1": 0.5},
            "register": {"version": 2, "promoted": True},
        },
        notes={"train": {"best": "logistic"}, "register": {"model": "churn"}},
        data_versions={"raw": "def456"},
        git={"commit": "b" * 40, "dirty": True},
        environment={"python": "3.12.1", "packages": {"pandas": "2.3.0", "numpy": "1.26"}},
    )
    b["stages"][0].update(cached=True, cached_from=ID_1)
    diff = compare_runs(a, b)
    assert diff.differs

    params = by_key(diff.params)
    assert params["seed"].change == "changed" and (params["seed"].a, params["seed"].b) == (0, 3)
    assert params["budget"].change == "added" and params["budget"].a is None
    assert not params["target"].differs
    # a stage param that only repeats the pipeline-level value is not listed twice
    assert diff.stage_params == ()

    metrics = by_key(diff.metrics)
    auc = metrics["train.cv_roc_auc"]
    assert auc.delta == pytest.approx(0.04) and auc.relative == pytest.approx(0.05)
    notes = by_key(diff.notes)
    assert notes["train.best"].change == "changed" and notes["train.best"].delta is None
    assert notes["register.model"].change == "added"
    assert metrics["train.gone"].change == "removed"
    assert metrics["evaluate.f1"].delta == pytest.approx(0.5)
    assert metrics["evaluate.f1"].relative is None  # from zero
    assert metrics["register.version"].change == "added"

    stages = {s.name: s for s in diff.stages}
    assert stages["train"].change == "changed" and stages["train"].cached_b is True
    assert stages["register"].change == "added" and not stages["evaluate"].differs

    assert by_key(diff.data_versions)["raw"].b == "def456"
    assert {d.key for d in diff.git if d.differs} == {"commit", "dirty"}
    assert {d.key for d in diff.packages if d.differs} == {"python", "pandas"}
    outcome = by_key(diff.outcome)
    assert outcome["model_version"].b == "churn:2" and outcome["promoted"].b is True

    tables = diff.tables()
    assert set(tables["params"]["key"]) == {"seed", "budget"}
    assert list(tables["metrics"].columns) == ["key", "a", "b", "delta", "relative", "change"]
    assert tables["metrics"].attrs["runs"] == (ID_1, ID_2)
    everything = diff.tables(include_equal=True)["params"]
    assert "target" in set(everything["key"])

    shown = diff._repr_html_()
    assert "<table" in shown and "train.cv_roc_auc" in shown and "differ" in shown

    as_json = json.loads(json.dumps(diff.to_dict()))
    assert as_json["a"]["id"] == ID_1 and as_json["differs"] is True
    assert {d["key"] for d in as_json["metrics"]} >= {"train.cv_roc_auc", "train.gone"}
    assert [s["name"] for s in as_json["stages"]] == ["train", "register"]


def test_the_registered_model_is_read_from_notes_and_from_older_runs_metrics():
    now = make_record(
        ID_1,
        metrics={"register": {"version": 2, "promoted": True}, "deploy": {"bundle_files": 6}},
        notes={"register": {"model": "churn"}, "deploy": {"model": "churn:2"}},
    )
    before = make_record(ID_2, metrics={"register": {"model": "churn", "version": 1}})
    assert registered_model(now) == {"version": 2, "promoted": True, "model": "churn"}
    assert registered_model(before) == {"model": "churn", "version": 1}
    assert run_outcome(now)["model_version"] == "churn:2" and run_outcome(now)["promoted"]
    assert run_outcome(before)["model_version"] == "churn:1"
    assert registered_model(make_record(ID_3)) == {}


def test_run_notes_are_every_stages_notes_by_stage_and_key():
    record = make_record(
        ID_1,
        metrics={"prepare": {"train_rows": 8}, "register": {"version": 1}},
        notes={"prepare": {"task": "binary"}, "register": {"model": "churn"}},
    )
    assert run_notes(record) == {"prepare.task": "binary", "register.model": "churn"}
    assert run_notes({"stages": "nonsense"}) == {}
    old = make_record(ID_2)
    for stage in old["stages"]:
        del stage["notes"]  # written before stages had notes
    assert run_notes(old) == {}
    same = compare_runs(record, {**record, "id": ID_2})
    assert (
        not same.differs and same.to_dict(include_equal=True)["notes"][0]["key"] == "prepare.task"
    )


def test_stage_params_that_differ_from_the_pipeline_level_are_listed():
    a, b = make_record(ID_1), make_record(ID_2)
    b["stages"][0]["params"]["threshold"] = 0.3
    a["stages"][0]["params"]["threshold"] = 0.5
    diff = compare_runs(a, b)
    assert [(d.key, d.a, d.b) for d in diff.stage_params] == [("train.threshold", 0.5, 0.3)]


def test_values_compare_by_type_and_nan():
    a = make_record(ID_1, metrics={"s": {"nan": float("nan"), "flag": True, "n": 1}})
    b = make_record(ID_2, metrics={"s": {"nan": float("nan"), "flag": 1, "n": 1.0}})
    metrics = by_key(compare_runs(a, b).metrics)
    assert not metrics["s.nan"].differs and not metrics["s.n"].differs
    assert metrics["s.flag"].differs  # True is not the number 1


def test_monitor_decision_is_part_of_the_outcome():
    a = make_record(ID_1, "monitor", decision="ok", decision_reason="fine")
    b = make_record(
        ID_2,
        "monitor",
        decision="drift",
        decision_reason="3 of 9 features drifted",
        retraining={"status": "not started", "summary": "not started: retrain is off"},
    )
    assert run_outcome(b)["retraining"] == "not started: retrain is off"
    outcome = by_key(compare_runs(a, b).outcome)
    assert (outcome["decision"].a, outcome["decision"].b) == ("ok", "drift")
    assert outcome["retraining"].change == "added"


def test_previous_run_is_the_latest_earlier_run_of_the_same_pipeline(tmp_path):
    runs = tmp_path / "runs"
    for record in (
        make_record(ID_1),
        make_record(ID_2),
        make_record(ID_3, "monitor"),
        make_record(ID_4),
    ):
        write_run(runs, record)
    damaged = runs / "20261123T145000.000000Z-eeee"
    damaged.mkdir()
    (damaged / "run.json").write_text("{not json")

    assert previous_run(runs, make_record(ID_4))["id"] == ID_2  # skips monitor and damaged
    assert previous_run(runs, make_record(ID_2))["id"] == ID_1
    assert previous_run(runs, make_record(ID_1)) is None
    assert previous_run(runs, make_record(ID_3, "monitor")) is None
    assert previous_run(tmp_path / "nowhere", make_record(ID_2)) is None


def test_rich_tables_say_no_differences_or_list_them():
    from rich.console import Console

    a, b = make_record(ID_1), make_record(ID_2, params={"seed": 7})
    console = Console(record=True, width=150)
    for renderable in compare_runs(a, a).rich_tables():
        console.print(renderable)
    assert "no differences" in console.export_text()
    console = Console(record=True, width=150)
    for renderable in compare_runs(a, b).rich_tables():
        console.print(renderable)
    text = console.export_text()
    assert "seed" in text and "target" not in text


def cli(*args: str, cwd: Path, outputs: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_NB_PROJECT"}
    env["MLOPS_NB_OUTPUTS"] = str(outputs)
    return subprocess.run(
        [sys.executable, "-m", "mlops_nb", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_runs_compare_command(make_project):
    settings = make_project()
    write_run(settings.runs_dir, make_record(ID_1))
    write_run(
        settings.runs_dir,
        make_record(ID_2, params={"seed": 5}, metrics={"train": {"cv_roc_auc": 0.9, "trials": 6}}),
    )

    shown = cli("runs", "compare", ID_1[:20], "latest", cwd=settings.root, outputs=settings.outputs)
    assert shown.returncode == 0, shown.stderr
    assert "seed" in shown.stdout and "train.cv_roc_auc" in shown.stdout
    assert "+0.1" in shown.stdout and "+12.5%" in shown.stdout
    assert "trials" not in shown.stdout  # equal rows only with --all

    everything = cli(
        "runs", "compare", ID_1, ID_2, "--all", cwd=settings.root, outputs=settings.outputs
    )
    assert "train.trials" in everything.stdout

    data = json.loads(
        cli(
            "runs", "compare", ID_1, ID_2, "--json", cwd=settings.root, outputs=settings.outputs
        ).stdout
    )
    assert data["a"]["id"] == ID_1 and data["b"]["id"] == ID_2
    assert [d["key"] for d in data["params"]] == ["seed"]
    assert pd.Series([d["delta"] for d in data["metrics"]]).round(6).tolist() == [0.1]

    same = cli("runs", "compare", ID_1, ID_1, cwd=settings.root, outputs=settings.outputs)
    assert same.returncode == 0 and "no differences" in same.stdout

    missing = cli("runs", "compare", ID_1, "nope", cwd=settings.root, outputs=settings.outputs)
    assert missing.returncode == 2 and "matches no run" in missing.stderr
