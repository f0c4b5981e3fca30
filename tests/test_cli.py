"""The `mlops-nb` command as a user runs it: a subprocess, exit codes, messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipeline.test_runner import WITH_BROKEN


def cli(*args: str, cwd: Path, columns: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns)} if columns else None
    return subprocess.run(
        [sys.executable, "-m", "mlops_nb", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_run_then_runs_show_and_list(make_project):
    settings = make_project()
    done = cli("run", "-p", "value=4", cwd=settings.root)
    assert done.returncode == 0, done.stderr
    assert "index.html" in done.stdout and "consume" in done.stdout

    shown = json.loads(cli("runs", "show", "latest", "--json", cwd=settings.root).stdout)
    for key in ("id", "pipeline", "status", "params", "stages", "metrics", "run_dir", "report"):
        assert key in shown
    assert shown["status"] == "succeeded" and shown["params"]["value"] == 4
    assert {"name", "status", "seconds", "cached"} <= set(shown["stages"][0])
    assert Path(shown["report"]).is_file()

    listed = json.loads(cli("runs", "list", "--json", cwd=settings.root).stdout)
    assert [r["id"] for r in listed] == [shown["id"]]


@pytest.mark.slow
def test_a_failing_stage_exits_non_zero_with_a_message_not_a_traceback(make_project):
    settings = make_project(WITH_BROKEN)
    done = cli("run", cwd=settings.root)
    assert done.returncode == 1
    assert "stage 'broken' failed in cell In [4]" in done.stderr
    assert "ValueError: boom in broken" in done.stderr
    assert "Traceback" not in done.stderr
    shown = json.loads(cli("runs", "show", "latest", "--json", cwd=settings.root).stdout)
    assert shown["status"] == "failed"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("run", "-p", "nope=1"), "unknown parameter 'nope'"),
        (("run", "-p", "value"), "is not NAME=VALUE"),
        (("run", "-p", "value=abc"), "'abc' is not a valid int"),
        (("run", "--until", "nowhere"), "no stage 'nowhere'"),
        (("run", "other"), "no pipeline 'other'"),
        (("runs", "show", "nope"), "no runs yet"),
    ],
)
def test_bad_requests_give_one_clear_line(make_project, args, message):
    settings = make_project()
    done = cli(*args, cwd=settings.root)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not settings.runs_dir.exists()


def test_outside_a_project_says_how_to_start(isolated):
    done = cli("runs", "list", cwd=isolated)
    assert done.returncode == 2 and "no pipeline.yaml found" in done.stderr


def write_run(settings, run_id: str, **fields) -> None:
    folder = settings.runs_dir / run_id
    folder.mkdir(parents=True)
    record = {"id": run_id, "pipeline": "demo", "status": "succeeded", "seconds": 1.0}
    stages = [{"name": "produce", "status": "succeeded", "seconds": 1.0, "cached": False}]
    (folder / "run.json").write_text(json.dumps({**record, "stages": stages, **fields}))


def test_partial_runs_are_labelled_partial_in_list_and_show(make_project):
    settings = make_project()
    write_run(settings, "20260101T000000.000000Z-aaaa", until=None, partial=False)
    write_run(settings, "20260102T000000.000000Z-bbbb", until="produce", partial=True)
    write_run(settings, "20260103T000000.000000Z-cccc", until="produce")  # before `partial`

    listed = json.loads(cli("runs", "list", "--json", cwd=settings.root).stdout)
    assert [(r["partial"], r["until"], r["status"]) for r in listed] == [
        (False, None, "succeeded"),
        (True, "produce", "succeeded"),
        (True, "produce", "succeeded"),
    ]
    table = cli("runs", "list", cwd=settings.root, columns=160).stdout
    assert table.count("succeeded (partial: until produce)") == 2
    shown = cli("runs", "show", "20260102", cwd=settings.root, columns=160).stdout
    assert "demo — succeeded (partial: until produce)" in shown
    for run_id in ("20260102", "20260103"):
        record = json.loads(cli("runs", "show", run_id, "--json", cwd=settings.root).stdout)
        assert record["partial"] is True and record["until"] == "produce"
    whole = cli("runs", "show", "20260101", cwd=settings.root, columns=160).stdout
    assert "demo — succeeded\n" in whole and "(partial" not in whole


def test_dev_and_resume_are_refused_together(make_project):
    settings = make_project()
    done = cli("run", "--dev", "--resume", "latest", cwd=settings.root)
    assert done.returncode == 2
    assert "--resume repeats an archived run and --dev runs into the development folder" in (
        done.stderr
    )


@pytest.mark.slow
def test_the_command_a_template_by_hand_names_makes_its_upstream(make_project):
    from mlops_nb import Stage, StageInputError

    settings = make_project()
    with pytest.raises(StageInputError) as caught:
        Stage("consume", settings=settings).input("produce", "numbers")
    command = caught.value.command.split()
    assert command[0] == "mlops-nb"
    done = cli(*command[1:], "-p", "value=7", cwd=settings.root)
    assert done.returncode == 0, done.stderr
    assert "development run of pipeline demo until produce" in done.stdout
    assert "succeeded (partial: until produce)" in done.stdout
    assert Stage("consume", settings=settings).input("produce", "numbers")["value"] == 7
    assert not settings.runs_dir.exists()
    assert json.loads((settings.dev_dir / "run.json").read_text())["dev"] is True
