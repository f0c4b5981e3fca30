from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from mlops_nb.artifacts import write_json
from mlops_nb.errors import RunNotFoundError
from mlops_nb.pipeline import archive
from mlops_nb.processes import start_tick


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_running_run_whose_process_died_reads_as_interrupted(tmp_path):
    run_dir = tmp_path / "runs" / "20260101T000000.000000Z-abcd"
    record = {
        "id": run_dir.name,
        "status": "running",
        "pid": dead_pid(),
        "host": os.uname().nodename,
        "stages": [{"name": "a", "status": "succeeded"}, {"name": "b", "status": "running"}],
    }
    write_json(run_dir / "run.json", record)
    read = archive.read_run(run_dir)
    assert read["status"] == "interrupted"
    assert [s["status"] for s in read["stages"]] == ["succeeded", "interrupted"]


def test_a_live_run_stays_running(tmp_path):
    run_dir = tmp_path / "r"
    record = {
        "id": "r",
        "status": "running",
        "pid": os.getpid(),
        "host": os.uname().nodename,
        "pid_started": start_tick(os.getpid()),
        "stages": [],
    }
    write_json(run_dir / "run.json", record)
    assert archive.read_run(run_dir)["status"] == "running"


def test_find_run_by_prefix_latest_and_unknown(tmp_path):
    for run_id in ("20260101T000000.000000Z-aaaa", "20260102T000000.000000Z-bbbb"):
        write_json(tmp_path / run_id / "run.json", {"id": run_id, "status": "succeeded"})
    assert archive.find_run(tmp_path, "latest").name.endswith("bbbb")
    assert archive.find_run(tmp_path, "20260101").name.endswith("aaaa")
    with pytest.raises(RunNotFoundError, match="matches 2 runs"):
        archive.find_run(tmp_path, "2026")
    with pytest.raises(RunNotFoundError, match="matches no run"):
        archive.find_run(tmp_path, "1999")


def test_write_json_is_atomic_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / "run.json"
    write_json(target, {"a": 1})
    with pytest.raises(TypeError):
        write_json(target, {"a": object.__new__(type("Bad", (), {"__str__": None}))})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_damaged_runs_are_skipped_in_lists(tmp_path):
    write_json(tmp_path / "a" / "run.json", {"id": "a", "status": "succeeded"})
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "run.json").write_text("{half")
    assert [r["id"] for r in archive.list_runs(tmp_path)] == ["a"]
