"""The demo's `segments` pipeline: one model per region, the segment stages running at once."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.slow

SEGMENTS = ["north", "south", "east", "west"]


def mlops(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(tmp_path / "outputs", *args, timeout=600)


def span(stage: dict) -> tuple[datetime, datetime]:
    started = datetime.fromisoformat(stage["started_at"].replace("Z", "+00:00"))
    return started, started + timedelta(seconds=stage["seconds"])


def test_one_model_per_region_trained_side_by_side_then_summarized(tmp_path):
    done = mlops(
        tmp_path,
        "run",
        "segments",
        "--jobs",
        "2",
        "-p",
        "data_source=sample:churn?rows=1200&seed=3",
        "-p",
        "budget=1",
    )
    assert done.returncode == 0, done.stderr
    (run_dir,) = (tmp_path / "outputs" / "runs").iterdir()
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "succeeded"
    stages = {stage["name"]: stage for stage in record["stages"]}
    names = [f"segment_{value}" for value in SEGMENTS]
    assert list(stages) == ["ingest", "validate", "prepare", "features", *names, "summary"]
    for name in names:
        assert stages[name]["status"] == "succeeded" and not stages[name]["cached"], name

    # with two slots, segment stages ran at the same time, never more than two at once
    spans = [span(stages[name]) for name in names]
    at_once = [sum(start <= moment < end for start, end in spans) for moment, _ in spans]
    assert max(at_once) == 2, spans

    # each segment modelled exactly the prepared rows of its region
    prepare = run_dir / stages["prepare"]["dir"]
    train = pd.read_parquet(prepare / "train.parquet")
    test = pd.read_parquet(prepare / "test.parquet")
    for value, name in zip(SEGMENTS, names, strict=True):
        stage = stages[name]
        assert stage["notes"]["segment"] == value and stage["notes"]["status"] == "modelled"
        assert stage["metrics"]["train_rows"] == (train["region"] == value).sum() > 0
        assert stage["metrics"]["test_rows"] == (test["region"] == value).sum() > 0
        assert 0.5 < stage["metrics"]["roc_auc"] <= 1
        assert (run_dir / stage["dir"] / "model.skops").is_file()

    summary = run_dir / stages["summary"]["dir"]
    table = pd.read_parquet(summary / "summary.parquet")
    assert list(table["segment"]) == SEGMENTS
    assert list(table["train_rows"]) == [stages[n]["metrics"]["train_rows"] for n in names]
    assert list(table["roc_auc"]) == [stages[n]["metrics"]["roc_auc"] for n in names]
    assert (summary / "segments.png").stat().st_size > 0
    assert stages["summary"]["notes"]["missing"] == []
    assert not (tmp_path / "outputs" / "registry").exists(), "segment models are not registered"
