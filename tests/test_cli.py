"""The `mlops-nb` command as a user runs it: a subprocess, exit codes, messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pipeline.test_runner import WITH_BROKEN


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_nb", *args],
        cwd=cwd,
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
