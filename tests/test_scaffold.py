"""`mlops-nb new`: a project of one's own that runs straight away, on the sample and on own data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml

from mlops_nb.scaffold import ScaffoldError, new_project


def mlops(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_NB_")}
    return subprocess.run(
        [sys.executable, "-m", "mlops_nb", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_scaffold_has_everything_and_clean_notebooks(tmp_path):
    project = new_project(tmp_path / "mine")
    names = {str(p) for p in project.files}
    assert {
        "pipeline.yaml",
        "README.md",
        ".gitignore",
        "requirements.txt",
        "outputs/.gitkeep",
        ".gitattributes",
    } <= names
    assert not any(name.startswith(".git/") for name in names)
    assert "contracts/churn.yaml" in names and "templates/01_ingest.ipynb" in names
    workflow = yaml.safe_load((project.path / ".github/workflows/mlops-nb.yml").read_text())
    steps = " ".join(str(step.get("run", "")) for step in workflow["jobs"]["pipeline"]["steps"])
    assert "--nbmake templates" in steps and "mlops-nb run train" in steps
    assert any(
        step.get("uses", "").startswith("actions/upload-artifact")
        for step in workflow["jobs"]["pipeline"]["steps"]
    )
    assert "/outputs/*" in (project.path / ".gitignore").read_text()
    install = (
        "python -m ipykernel install --sys-prefix --name mine --display-name 'mine (mlops-nb)'"
    )
    assert install in steps and install in (project.path / "README.md").read_text()
    for notebook in (project.path / "templates").glob("*.ipynb"):
        read = nbformat.read(notebook, as_version=4)
        assert all(not c.get("outputs") for c in read.cells if c.cell_type == "code"), notebook
        assert read.metadata.kernelspec.name == "mine", notebook  # the project's own kernel
    assert set(yaml.safe_load((project.path / "pipeline.yaml").read_text())["pipelines"]) >= {
        "train",
        "monitor",
    }


def executed(path: Path) -> None:
    """Write a notebook as a run (or Run All and Ctrl+S) leaves it: outputs and counts."""
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(7)", execution_count=4)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="7\n")]
    notebook.cells = [cell]
    nbformat.write(notebook, path)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def stored_outputs(repo: Path, path: str) -> list:
    stored = json.loads(git(repo, "show", f":{path}"))
    return [(c.get("outputs"), c.get("execution_count")) for c in stored["cells"]]


requires_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@requires_git
def test_a_new_project_is_a_git_repository_that_stores_notebooks_without_outputs(tmp_path):
    project = new_project(tmp_path / "mine")
    assert "a new git repository" in project.git and "nbstripout" in project.git
    assert (project.path / ".git").is_dir()
    assert "*.ipynb filter=nbstripout" in (project.path / ".gitattributes").read_text()
    executed(project.path / "templates" / "11_extra.ipynb")
    template = "templates/01_ingest.ipynb"
    # two files, not the folder: the filter is one Python process per notebook (seconds each)
    git(project.path, "add", "templates/11_extra.ipynb", template)
    assert stored_outputs(project.path, "templates/11_extra.ipynb") == [([], None)]
    assert git(project.path, "show", f":{template}") == (project.path / template).read_text()


@requires_git
def test_inside_a_repository_the_filter_is_set_up_there(tmp_path):
    git(tmp_path, "init", "--quiet")
    project = new_project(tmp_path / "sub")
    assert f"the git repository {tmp_path}" in project.git
    assert not (project.path / ".git").exists()
    executed(project.path / "n.ipynb")
    git(tmp_path, "add", "sub/n.ipynb")
    assert stored_outputs(tmp_path, "sub/n.ipynb") == [([], None)]


def test_without_git_nothing_is_initialized(tmp_path):
    done = mlops(tmp_path, "new", "plain", "--no-git")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "plain" / ".git").exists() and "git:" not in done.stdout
    assert (tmp_path / "plain" / ".gitattributes").is_file()


@requires_git
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_configures_the_same_filter_in_a_clone(tmp_path):
    repo = Path(__file__).parent.parent
    shutil.copy(repo / ".gitattributes", tmp_path)
    make = [
        "make",
        "-s",
        "-f",
        str(repo / "Makefile"),
        "git-filter",
        "STAMP=",
        f"BIN={Path(sys.executable).parent}",
    ]
    assert subprocess.run(make, cwd=tmp_path, capture_output=True).returncode == 0, "outside git"
    git(tmp_path, "init", "--quiet")
    done = subprocess.run(make, cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    executed(tmp_path / "n.ipynb")
    git(tmp_path, "add", "n.ipynb")
    assert stored_outputs(tmp_path, "n.ipynb") == [([], None)]


def test_an_existing_folder_is_never_overwritten(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(ScaffoldError, match="not empty"):
        new_project(tmp_path / "taken")
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"], "no staging folder left"
    done = mlops(tmp_path, "new", "taken")
    assert done.returncode == 2 and "not empty" in done.stderr and "Traceback" not in done.stderr


def note(record: dict, key: str) -> object:
    """A stage's note in run.json, as ``note(record, "register.model")``."""
    stage, _, name = key.partition(".")
    return next(s for s in record["stages"] if s["name"] == stage)["notes"][name]


@pytest.mark.slow
def test_a_new_project_runs_on_the_sample_then_on_own_data(tmp_path):
    done = mlops(tmp_path, "new", "myproject")
    assert done.returncode == 0, done.stderr
    root = tmp_path / "myproject"
    done = mlops(root, "run", "train", "-p", "data_source=sample:churn?rows=800")
    assert done.returncode == 0, done.stderr
    runs = sorted((root / "outputs" / "runs").iterdir())
    record = json.loads((runs[-1] / "run.json").read_text())
    assert record["status"] == "succeeded" and record["metrics"]["register.version"] == 1

    rng = np.random.default_rng(0)
    size = rng.uniform(40, 200, 500)
    rooms = rng.integers(1, 7, 500)
    price = 1500 * size + 8000 * rooms + rng.normal(0, 9000, 500)
    (root / "data").mkdir()
    pd.DataFrame(
        {"size_m2": size, "rooms": rooms, "town": rng.choice(["a", "b", "c"], 500), "price": price}
    ).to_csv(root / "data" / "houses.csv", index=False)
    done = mlops(
        root,
        "run",
        "train",
        "--until",
        "register",
        "-p",
        "data_source=data/houses.csv",
        "-p",
        "target=price",
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(
        (sorted((root / "outputs" / "runs").iterdir())[-1] / "run.json").read_text()
    )
    assert note(record, "prepare.task") == "regression"
    assert note(record, "register.model") == "houses"
