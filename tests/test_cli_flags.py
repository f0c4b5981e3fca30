"""The CLI's conventions as a user meets them: --version, -f, --json, -q, --fail-on, completion.

Real subprocesses of ``python -m mlops_nb`` on a one-stage project whose
notebook publishes the run's ``decision`` outcome the way the monitor template
does (``Stage.set_outcome``), so ``--fail-on`` is checked on real archived runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from mlops_nb.cli.run import DECISION_EXIT, decision_exit, parse_fail_on
from tests.test_cli import cli

GATE = """
pipelines:
  gate:
    params:
      decision: {type: str, default: ok, help: what the stage decides}
      rows: {type: int, default: 1, help: a number}
    stages:
      decide:
        notebook: notebooks/decide.ipynb
"""


@pytest.fixture
def gate(isolated: Path) -> Path:
    """A project whose one stage publishes ``decision`` as the run's outcome."""
    root = isolated / "project"
    (root / "notebooks").mkdir(parents=True)
    parameters = new_code_cell('decision = "ok"\nrows = 1\nstage_dir = None')
    parameters.metadata["tags"] = ["parameters"]
    body = new_code_cell(
        "from mlops_nb import Stage\n"
        'stage = Stage("decide", stage_dir=stage_dir)\n'
        'stage.log_metrics({"rows": rows})\n'
        'stage.set_outcome("decision", decision)'
    )
    notebook = new_notebook(cells=[parameters, body])
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(notebook, root / "notebooks" / "decide.ipynb")
    (root / "pipeline.yaml").write_text(GATE)
    return root


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    return lines[0]


def test_version_is_the_installed_package_version(gate):
    done = cli("--version", cwd=gate)
    assert done.returncode == 0 and metadata.version("mlops-nb") in done.stdout


def test_fail_on_names_only_known_decisions():
    assert parse_fail_on("drift, degraded") == frozenset({"drift", "degraded"})
    assert parse_fail_on(None) == frozenset()
    fail = frozenset({"drift"})
    assert decision_exit({"decision": "drift"}, fail) == DECISION_EXIT == 3
    assert decision_exit({"decision": "ok"}, fail) == 0
    assert decision_exit({}, fail) == 0


def test_an_unknown_fail_on_decision_is_a_usage_error_before_anything_runs(gate):
    done = cli("run", "--fail-on", "drift,bogus", cwd=gate)
    assert done.returncode == 2
    assert "unknown decision 'bogus'" in done.stderr and "ok, drift, degraded" in done.stderr
    assert not (gate / "outputs" / "runs").exists() or not any(
        (gate / "outputs" / "runs").iterdir()
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "no such file"),
        ("decision: [drift\n", "not yaml at line 2"),
        ("- drift\n- ok\n", "mapping"),
    ],
    ids=["missing", "not-yaml", "a-list"],
)
def test_a_bad_params_file_is_one_line_naming_it(gate, text, expected):
    path = gate / "params.yaml"
    if text is not None:
        path.write_text(text)
    done = cli("run", "-f", "params.yaml", cwd=gate)
    assert done.returncode == 2
    line = one_error_line(done)
    assert "params.yaml" in line and expected in line.lower(), line


def test_params_json_lists_every_parameter_typed(gate):
    done = cli("params", "--json", cwd=gate)
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    text = json.dumps(listed)
    assert "decision" in text and "rows" in text and '"int"' in text


def test_completion_scripts_and_live_completion(gate):
    for shell in ("bash", "zsh", "fish", "powershell"):
        done = cli("completion", shell, cwd=gate)
        assert done.returncode == 0 and "_MLOPS_NB_COMPLETE" in done.stdout, shell
    script = Path(sys.executable).with_name("mlops-nb")
    env = {**os.environ, "_MLOPS_NB_COMPLETE": "complete_bash", "COMP_CWORD": "1"}
    words = subprocess.run(
        [str(script)],
        env={**env, "COMP_WORDS": "mlops-nb ru"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert words.stdout.split() == ["run", "runs"], words.stderr
    bad = cli("completion", "tcsh", cwd=gate)
    assert bad.returncode == 2


@pytest.mark.slow
def test_fail_on_exits_3_on_a_real_decision_and_the_run_is_archived(gate):
    drift = cli("run", "-p", "decision=drift", "--fail-on", "drift,degraded", cwd=gate)
    assert drift.returncode == 3, drift.stdout + drift.stderr
    assert "decided drift" in drift.stderr and "archived" in drift.stderr
    shown = json.loads(cli("runs", "show", "latest", "--json", cwd=gate).stdout)
    assert shown["status"] == "succeeded" and shown["decision"] == "drift"

    ok = cli("run", "-p", "decision=ok", "--fail-on", "drift", "--json", cwd=gate)
    assert ok.returncode == 0, ok.stderr
    record = json.loads(ok.stdout)  # the record alone on stdout
    assert record["decision"] == "ok" and record["status"] == "succeeded"


@pytest.mark.slow
def test_a_params_file_keeps_yaml_types_and_p_wins(gate):
    (gate / "params.yaml").write_text("decision: degraded\nrows: 7\n")
    filed = cli("-q", "run", "-f", "params.yaml", "--fail-on", "degraded", cwd=gate)
    assert filed.returncode == 3, filed.stdout + filed.stderr
    assert "decide" not in filed.stdout  # -q: no stage lines
    shown = json.loads(cli("runs", "show", "latest", "--json", cwd=gate).stdout)
    assert shown["params"]["rows"] == 7 and shown["params"]["decision"] == "degraded"

    won = cli("run", "-f", "params.yaml", "-p", "decision=ok", "--json", cwd=gate)
    assert won.returncode == 0, won.stderr
    record = json.loads(won.stdout)
    assert record["params"]["decision"] == "ok" and record["params"]["rows"] == 7
