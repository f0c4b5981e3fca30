"""The committed notebooks: defaults agreeing with pipeline.yaml, saved as JupyterLab saves them."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ipykernel.ipkernel import IPythonKernel

from mlops_nb.pipeline.spec import ProjectSpec, load_project
from mlops_nb.scaffold import KERNELSPEC, normalize_notebook, notebook_python_version
from tests.conftest import REPO, TWO_STAGES

NOTEBOOKS = sorted([*REPO.glob("templates/*.ipynb"), *REPO.glob("notebooks/*.ipynb")])
TOOL = REPO / "tools" / "normalize_notebooks.py"


def default_mismatches(project: ProjectSpec) -> list[str]:
    """Every parameter whose default differs between pipeline.yaml and the template declaring it."""
    problems = []
    for pipeline in project.pipelines.values():
        for stage in pipeline.stages:
            declared = stage.template.params
            for name in sorted({*pipeline.params, *stage.params} & set(declared)):
                scope = "stage" if name in stage.params else "pipeline"
                spec = stage.params.get(name) or pipeline.params[name]
                if declared[name].default != spec.default:
                    problems.append(
                        f"{stage.notebook.name}: {name} = {declared[name].default!r} in its "
                        f"parameters cell, {spec.default!r} in {project.path.name} "
                        f"(pipeline '{pipeline.name}', {scope} parameter)"
                    )
    return problems


def test_template_defaults_agree_with_pipeline_yaml():
    problems = default_mismatches(load_project(REPO / "pipeline.yaml"))
    assert not problems, "\n".join(problems)


def test_a_disagreeing_default_is_named_with_both_values(make_project):
    settings = make_project(TWO_STAGES.replace("default: 1,", "default: 5,"))
    assert default_mismatches(load_project(settings.pipeline_file)) == [
        "produce.ipynb: value = 1 in its parameters cell, 5 in pipeline.yaml "
        "(pipeline 'demo', pipeline parameter)"
    ]


def _not_normalized(paths: list[Path]) -> list[str]:
    differing = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        if normalize_notebook(text, python_version=notebook_python_version(text)) != text:
            differing.append(str(path.relative_to(REPO)))
    return differing


def test_every_committed_notebook_is_normalized():
    differing = _not_normalized(NOTEBOOKS)
    assert not differing, (
        f"run: .venv/bin/python tools/normalize_notebooks.py {' '.join(differing)}"
    )


def executed_notebook() -> dict:
    """What a run (or Run All and Ctrl+S in an old Jupyter) leaves: outputs, counts, no ids."""
    return {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# Title"]},
            {
                "cell_type": "code",
                "execution_count": 3,
                "metadata": {"tags": ["parameters"], "scrolled": True, "ExecuteTime": {}},
                "outputs": [{"name": "stdout", "output_type": "stream", "text": ["7\n"]}],
                "source": ["value = 7\n", "print(value)"],
            },
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 4,
    }


def test_normalizing_leaves_what_jupyterlab_would_save_and_nothing_a_run_left():
    text = normalize_notebook(json.dumps(executed_notebook(), indent=2))
    notebook = json.loads(text)
    assert notebook["nbformat_minor"] == 5
    assert [cell["id"] for cell in notebook["cells"]] == ["0", "1"]
    code = notebook["cells"][1]
    assert code["outputs"] == [] and code["execution_count"] is None
    assert code["metadata"] == {"tags": ["parameters"]}
    assert code["source"] == ["value = 7\n", "print(value)"]
    assert notebook["metadata"]["kernelspec"] == KERNELSPEC
    assert notebook["metadata"]["language_info"] == IPythonKernel.language_info
    assert text.startswith('{\n "cells": [\n  {\n') and text.endswith("}\n")
    assert normalize_notebook(text) == text


def test_a_normalized_notebook_passes_the_git_filter_unchanged(tmp_path):
    path = tmp_path / "n.ipynb"
    path.write_text(normalize_notebook(json.dumps(executed_notebook())))
    stripped = subprocess.run(
        [sys.executable, "-m", "nbstripout", "-t", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert stripped == path.read_text()


def test_the_tool_rewrites_notebooks_and_checks_them(tmp_path):
    (tmp_path / "a.ipynb").write_text(json.dumps(executed_notebook()))
    (tmp_path / "b.ipynb").write_text(normalize_notebook(json.dumps(executed_notebook())))

    def tool(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True)

    checked = tool("--check", str(tmp_path))
    assert checked.returncode == 1 and "a.ipynb" in checked.stderr
    assert "b.ipynb" not in checked.stderr
    done = tool(str(tmp_path / "a.ipynb"), str(tmp_path / "b.ipynb"))
    assert done.returncode == 0 and done.stdout == f"normalized {tmp_path / 'a.ipynb'}\n"
    assert tool("--check", str(tmp_path)).returncode == 0
    cells = json.loads((tmp_path / "a.ipynb").read_text())["cells"]
    assert not any(cell.get("outputs") for cell in cells)


def test_the_check_ignores_only_the_python_version(tmp_path):
    text = normalize_notebook(json.dumps(executed_notebook()), python_version="3.99.1")
    assert json.loads(text)["metadata"]["language_info"]["version"] == "3.99.1"
    path = tmp_path / "n.ipynb"
    path.write_text(text)
    check = [sys.executable, str(TOOL), "--check", str(path)]
    assert subprocess.run(check, capture_output=True).returncode == 0
    kernel = f'"name": "{KERNELSPEC["name"]}"'
    assert kernel in text
    path.write_text(text.replace(kernel, '"name": "other"'))
    assert subprocess.run(check, capture_output=True).returncode == 1


@pytest.mark.slow
def test_a_template_runs_with_plain_papermill_in_the_project_kernel(tmp_path):
    """No mlops-nb runner: the papermill command line, the kernel the template names."""
    stage_dir = tmp_path / "01_ingest"
    executed = tmp_path / "executed.ipynb"
    papermill = Path(sys.executable).with_name("papermill")
    env = {**os.environ, "MLOPS_NB_OUTPUTS": str(tmp_path / "outputs")}
    env.pop("MLOPS_NB_PROJECT", None)
    source = "sample:churn?rows=300"
    template = REPO / "templates" / "01_ingest.ipynb"
    parameters = ["-p", "stage_dir", str(stage_dir), "-p", "data_source", source]
    done = subprocess.run(
        [str(papermill), str(template), str(executed), *parameters],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Executing notebook with kernel: {KERNELSPEC['name']}" in done.stderr
    notebook = json.loads(executed.read_text())
    assert notebook["metadata"]["papermill"]["parameters"]["data_source"] == source
    errors = [
        o for c in notebook["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"
    ]
    assert errors == []
    record = json.loads((stage_dir / "stage.json").read_text())
    assert record["stage"] == "ingest" and record["notes"]["data_source"] == source
    assert record["metrics"]["rows"] == 300  # the injected parameter took effect
    data = record["artifacts"]["data"]
    assert hashlib.sha256((stage_dir / data["file"]).read_bytes()).hexdigest() == data["sha256"]
