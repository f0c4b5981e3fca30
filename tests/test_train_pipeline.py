"""The demo project's own train pipeline, run as a user runs it, on good and bad data."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def mlops(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(tmp_path / "outputs", *args, timeout=600)


def latest(tmp_path: Path) -> dict:
    runs = sorted((tmp_path / "outputs" / "runs").iterdir())
    return json.loads((runs[-1] / "run.json").read_text())


def note(record: dict, key: str) -> object:
    """A stage's note in run.json, as ``note(record, "register.model")``."""
    stage, _, name = key.partition(".")
    return next(s for s in record["stages"] if s["name"] == stage)["notes"][name]


def rows_in(rows: pd.DataFrame, trained: pd.DataFrame) -> int:
    """How many of ``rows`` are among the ``trained`` rows, compared by content."""
    columns = list(trained.columns)
    return len(rows[columns].merge(trained.drop_duplicates(), how="inner", on=columns))


def stage_file(record: dict, stage: str, name: str) -> pd.DataFrame:
    folder = next(s["dir"] for s in record["stages"] if s["name"] == stage)
    return pd.read_parquet(Path(record["run_dir"]) / folder / name)


def test_the_sample_runs_end_to_end_and_a_second_run_is_version_2(tmp_path):
    done = mlops(tmp_path, "run", "train", "-p", "data_source=sample:churn?rows=600&seed=3")
    assert done.returncode == 0, done.stderr
    record = latest(tmp_path)
    assert record["status"] == "succeeded"
    assert [s["name"] for s in record["stages"]] == [
        "ingest",
        "validate",
        "prepare",
        "features",
        "train",
        "evaluate",
        "register",
        "deploy",
    ]
    assert len(record["data_versions"]["raw"]) == 16
    assert record["metrics"]["ingest.rows"] == 600
    assert note(record, "prepare.task") == "binary"
    assert record["metrics"]["validate.invalid_rows"] > 0, "the sample has invalid rows to catch"
    assert record["metrics"]["train.trials"] == 6
    assert 0.5 < record["metrics"]["evaluate.roc_auc"] <= 1
    assert note(record, "register.model") == "churn"
    assert record["metrics"]["register.version"] == 1
    run_dir = Path(record["run_dir"])
    quarantine = pd.read_parquet(run_dir / "02_validate" / "quarantine.parquet")
    assert len(quarantine) == record["metrics"]["validate.invalid_rows"]
    assert quarantine["_reasons"].str.len().min() > 0
    assert str(tmp_path / "outputs") in done.stdout and "index.html" in done.stdout

    again = mlops(
        tmp_path, "run", "train", "-p", "data_source=sample:churn?rows=600&seed=3", "-p", "seed=1"
    )
    assert again.returncode == 0, again.stderr
    second = latest(tmp_path)
    assert second["metrics"]["register.version"] == 2
    decision = json.loads((Path(second["run_dir"]) / "06_evaluate" / "decision.json").read_text())
    assert decision["champion_version"] == 1 and "champion" in decision["reason"]
    assert decision["promote"] == second["metrics"]["register.promoted"]
    # the gate compared on rows neither version trained on: the hash split held out the same rows
    compared = stage_file(second, "evaluate", "compared_rows.parquet")
    assert decision["decided"] and decision["compared_rows"] == len(compared) > 50
    assert rows_in(compared, stage_file(record, "prepare", "train.parquet")) == 0
    assert rows_in(compared, stage_file(second, "prepare", "train.parquet")) == 0
    assert f"on {len(compared):,} of the" in decision["summary"]

    history = json.loads(mlops(tmp_path, "models", "history", "churn", "--json").stdout)
    production = [h for h in history["history"] if h["alias"] == "production"]
    assert production[0]["to_version"] == 1 and production[0]["run"] == record["id"]
    assert all(h["actor"] and h["reason"] and h["at"] for h in history["history"])
    shown = json.loads(mlops(tmp_path, "models", "show", "churn", "--json").stdout)
    assert [v["version"] for v in shown["versions"]] == [1, 2]


def test_a_random_holdout_the_champion_trained_on_is_left_out_of_the_comparison(tmp_path):
    source = "data_source=sample:churn?rows=600&seed=3"
    first = mlops(tmp_path, "run", "train", "--until", "register", "-p", source)
    assert first.returncode == 0, first.stderr
    champion = latest(tmp_path)
    # a challenger whose random split draws its holdout mostly from the champion's training rows
    second = mlops(
        tmp_path,
        "run",
        "train",
        "--until",
        "evaluate",
        "-p",
        source,
        "-p",
        "split=random",
        "-p",
        "seed=2",
    )
    assert second.returncode == 0, second.stderr
    record = latest(tmp_path)
    decision = json.loads((Path(record["run_dir"]) / "06_evaluate" / "decision.json").read_text())
    holdout = stage_file(record, "prepare", "test.parquet")
    trained = stage_file(champion, "prepare", "train.parquet")
    seen = rows_in(holdout, trained)
    assert seen > len(holdout) / 2, "a random holdout overlaps the champion's training rows"
    assert decision["excluded"]["in v1's training rows"] == seen
    compared = stage_file(record, "evaluate", "compared_rows.parquet")
    assert len(compared) == len(holdout) - seen == decision["compared_rows"]
    assert rows_in(compared, trained) == 0
    assert not decision["decided"] and not decision["promote"]
    assert "seen by neither model" in decision["reason"]


def test_a_csv_of_another_shape_works_without_code_changes(tmp_path):
    rng = np.random.default_rng(1)
    n = 200
    frame = pd.DataFrame(
        {
            "petal": rng.normal(4, 1, n).round(2),
            "sepal": rng.normal(3, 0.5, n).round(2),
            "colour": rng.choice(["red", "blue"], n),
        }
    )
    frame["species"] = np.where(
        frame.petal > 4.3, "virginica", np.where(frame.sepal > 3, "setosa", "versicolor")
    )
    frame.to_csv(tmp_path / "flowers.csv", index=False)
    done = mlops(
        tmp_path, "run", "-p", f"data_source={tmp_path / 'flowers.csv'}", "-p", "target=species"
    )
    assert done.returncode == 0, done.stderr
    record = latest(tmp_path)
    assert note(record, "prepare.task") == "multiclass"
    validate = next(s for s in record["stages"] if s["name"] == "validate")
    assert validate["notes"]["contract"] == "inferred"
    contract = (Path(record["run_dir"]) / "02_validate" / "contract.yaml").read_text()
    assert "species" in contract and "churned" not in contract


def test_data_that_breaks_its_contract_stops_at_validate_with_a_failure_report(tmp_path):
    done = mlops(
        tmp_path, "run", "-p", "data_source=sample:churn?rows=600", "-p", "on_invalid=fail"
    )
    assert done.returncode == 1
    assert "stage 'validate' failed" in done.stderr
    assert "break contract 'churn'" in done.stderr and "in_range(18, 100)" in done.stderr
    assert "Traceback" not in done.stderr
    record = latest(tmp_path)
    assert record["status"] == "failed"
    assert [s["status"] for s in record["stages"]][:3] == ["succeeded", "failed", "skipped"]
    failures = pd.read_parquet(Path(record["run_dir"]) / "02_validate" / "failures.parquet")
    assert set(failures["column"]) >= {"age"}


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("", (), "is empty"),
        ("a,b,churned\n", (), "is empty"),
        ("a,b,churned\n1,2,0\n1,2,0,9,9\n", (), "line 3"),
        ("a,b,label\n1,2,0\n3,4,1\n", (), "target column 'churned' is not in"),
    ],
    ids=["empty-file", "header-only", "malformed", "missing-target"],
)
def test_bad_files_are_refused_before_any_run_starts(tmp_path, content, args, message):
    # the data source's head is looked at before any kernel (mlops_nb.data.preflight)
    path = tmp_path / "bad.csv"
    path.write_text(content)
    done = mlops(tmp_path, "run", "-p", f"data_source={path}", "--until", "ingest", *args)
    assert done.returncode == 2, done.stdout
    assert message in done.stderr and "bad.csv" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "outputs" / "runs").exists()


def test_a_missing_file_is_refused_before_any_run_starts(tmp_path):
    done = mlops(tmp_path, "run", "-p", f"data_source={tmp_path / 'nowhere.csv'}")
    assert done.returncode == 2
    assert "nowhere.csv" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "outputs" / "runs").exists()
