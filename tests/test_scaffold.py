"""`mlops-nb new`: a project of one's own that runs straight away, on the sample and on own data."""

from __future__ import annotations

import json
import os
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
    } <= names
    assert "contracts/churn.yaml" in names and "templates/01_ingest.ipynb" in names
    workflow = yaml.safe_load((project.path / ".github/workflows/mlops-nb.yml").read_text())
    steps = " ".join(str(step.get("run", "")) for step in workflow["jobs"]["pipeline"]["steps"])
    assert "--nbmake templates" in steps and "mlops-nb run train" in steps
    assert any(
        step.get("uses", "").startswith("actions/upload-artifact")
        for step in workflow["jobs"]["pipeline"]["steps"]
    )
    assert "/outputs/*" in (project.path / ".gitignore").read_text()
    for notebook in (project.path / "templates").glob("*.ipynb"):
        cells = nbformat.read(notebook, as_version=4).cells
        assert all(not c.get("outputs") for c in cells if c.cell_type == "code"), notebook
    assert set(yaml.safe_load((project.path / "pipeline.yaml").read_text())["pipelines"]) >= {
        "train",
        "monitor",
    }


def test_an_existing_folder_is_never_overwritten(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(ScaffoldError, match="not empty"):
        new_project(tmp_path / "taken")
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"], "no staging folder left"
    done = mlops(tmp_path, "new", "taken")
    assert done.returncode == 2 and "not empty" in done.stderr and "Traceback" not in done.stderr


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
    assert record["metrics"]["prepare.task"] == "regression"
    assert record["metrics"]["register.model"] == "houses"
