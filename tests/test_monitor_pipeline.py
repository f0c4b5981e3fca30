"""The monitor pipeline on the demo project: ok on fresh data, drift, retraining, bad input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from mlops_nb.data import generate_churn
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    """A project outputs folder holding a trained, registered churn model at production."""
    folder = tmp_path_factory.mktemp("monitor") / "outputs"
    done = mlops(
        folder,
        "run",
        "train",
        "--until",
        "register",
        "-p",
        "data_source=sample:churn?rows=1500&seed=3",
    )
    assert done.returncode == 0, done.stderr
    return folder


def mlops(outputs: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(outputs, *args)


def show(outputs: Path, run: str | None = None) -> dict:
    """A run record; by default the latest monitor run (a retraining run starts after it)."""
    if run is None:
        listed = mlops(outputs, "runs", "list", "--pipeline", "monitor", "--json")
        run = json.loads(listed.stdout)[-1]["id"]
    done = mlops(outputs, "runs", "show", run, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def stage_file(record: dict, stage: str, name: str) -> pd.DataFrame:
    folder = next(s["dir"] for s in record["stages"] if s["name"] == stage)
    return pd.read_parquet(Path(record["run_dir"]) / folder / name)


def test_same_distribution_data_is_ok(outputs):
    done = mlops(outputs, "run", "monitor", "-p", "current_data=sample:churn?drift=0&seed=11")
    assert done.returncode == 0, done.stderr
    assert "decision: ok" in done.stdout
    record = show(outputs)
    assert record["pipeline"] == "monitor" and record["status"] == "succeeded"
    assert record["decision"] == "ok"
    assert record["monitored_model"] == "churn:1"
    assert record["retraining"]["status"] == "not started"
    assert record["metrics"]["monitor.drifted_features"] == 0
    drift = pd.read_parquet(Path(record["run_dir"]) / "01_monitor" / "drift.parquet")
    assert "monthly_charges" in set(drift["column"]) and not drift["drifted"].any()


def test_strong_drift_retrains_through_the_gates(outputs):
    done = mlops(
        outputs,
        "run",
        "monitor",
        "-p",
        "current_data=sample:churn?drift=3&seed=12&rows=1500",
        "-p",
        "retrain=true",
        "-p",
        "train_params={budget: 2}",
    )
    assert done.returncode == 0, done.stderr
    record = show(outputs)
    assert record["decision"] in {"drift", "degraded"}
    assert "decision: " + record["decision"] in done.stdout and "retraining:" in done.stdout
    drift = pd.read_parquet(Path(record["run_dir"]) / "01_monitor" / "drift.parquet")
    flagged = drift.set_index("column")
    assert flagged.loc["monthly_charges", "drifted"]
    assert "crypto-wallet" in list(flagged.loc["payment_method", "new_categories"])

    retraining = record["retraining"]
    assert retraining["status"] == "succeeded" and retraining["version"] == 2
    child = show(outputs, retraining["run"])
    assert child["pipeline"] == "train"
    assert (
        child["trigger"]["run"] == record["id"]
        and child["trigger"]["decision"] == record["decision"]
    )
    assert child["params"]["model_name"] == "churn"
    assert child["stages"][1]["notes"]["contract"].endswith("contract.yaml")

    # the retraining run's gate compared on rows neither v1 nor v2 trained on
    parent = show(outputs, json.loads(mlops(outputs, "runs", "list", "--json").stdout)[0]["id"])
    compared = stage_file(child, "evaluate", "compared_rows.parquet")
    decision = json.loads((Path(child["run_dir"]) / "06_evaluate" / "decision.json").read_text())
    assert decision["decided"] and decision["champion_version"] == 1
    assert len(compared) == decision["compared_rows"] > 100
    for trained in (
        stage_file(parent, "prepare", "train.parquet"),
        stage_file(child, "prepare", "train.parquet"),
    ):
        columns = list(trained.columns)
        assert compared[columns].merge(trained.drop_duplicates(), on=columns).empty
    # and v1's training rows are recognised in the retraining data (the exclusion can see them)
    v1_keys = pd.read_parquet(outputs / "registry" / "churn" / "1" / "training_keys.parquet")
    child_keys = stage_file(child, "prepare", "train_keys.parquet")
    assert v1_keys["row_key"].isin(child_keys["row_key"]).all()

    history = json.loads(mlops(outputs, "models", "history", "churn", "--json").stdout)["history"]
    moves = [h for h in history if h["run"] == retraining["run"]]
    assert any(h["alias"] == "staging" and h["to_version"] == 2 for h in moves)
    versions = json.loads(mlops(outputs, "models", "show", "churn", "--json").stdout)
    assert {v["version"] for v in versions["versions"]} >= {1, 2}, "the loser stays registered"


def test_schema_mismatch_and_empty_data_fail_clearly(outputs, tmp_path):
    data = generate_churn(300, seed=4).drop(columns=["tenure_months"])
    data.to_csv(tmp_path / "no_tenure.csv", index=False)
    done = mlops(outputs, "run", "monitor", "-p", f"current_data={tmp_path / 'no_tenure.csv'}")
    assert done.returncode == 1
    assert "tenure_months" in done.stderr and "monitor" in done.stderr
    assert "Traceback" not in done.stderr

    generate_churn(10, seed=4).head(0).to_csv(tmp_path / "empty.csv", index=False)
    done = mlops(outputs, "run", "monitor", "-p", f"current_data={tmp_path / 'empty.csv'}")
    assert done.returncode == 1
    assert "no rows" in done.stderr or "empty" in done.stderr
    assert "Traceback" not in done.stderr
