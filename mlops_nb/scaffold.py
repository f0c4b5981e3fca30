"""``mlops-nb new PATH``: start a project of your own from the demo project.

The new project holds everything ``mlops-nb run`` needs and nothing it makes:

====================================  ==============================================
``pipeline.yaml``                     the ``train`` and ``monitor`` pipelines
``templates/*.ipynb``                 the stage templates (outputs stripped)
``contracts/churn.yaml``              the sample's data contract
``notebooks/dashboard.ipynb``         run, registry and drift browsers (if shipped)
``outputs/.gitkeep``                  where runs go; ``.gitignore`` keeps them out of git
``requirements.txt``                  mlops-nb pinned to the version that made it
``README.md``                         the first commands, and how to use your data
``.github/workflows/mlops-nb.yml``    CI: nbmake over the templates, then the train
                                      pipeline as a gate, its run report kept
====================================  ==============================================

The files come from the project this package was built from: the source tree
of an editable install, or the copy a wheel installs under
``<prefix>/share/mlops-nb``. Nothing is overwritten: a non-empty target folder
is refused.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

from mlops_nb import __version__
from mlops_nb.errors import MlopsNbError

__all__ = ["ScaffoldError", "new_project", "project_source"]

SHARE = Path("share") / "mlops-nb"
_PROJECT_FILES = ("pipeline.yaml",)
_FOLDERS = {"templates": "*.ipynb", "contracts": "*.yaml", "notebooks": "dashboard.ipynb"}


class ScaffoldError(MlopsNbError):
    """A project cannot be created where asked."""


@dataclass(frozen=True)
class NewProject:
    """What :func:`new_project` created."""

    path: Path
    files: list[Path]


def project_source() -> Path:
    """The folder holding the demo project's pipeline.yaml and templates."""
    candidates = [Path(__file__).resolve().parents[1], Path(sys.prefix) / SHARE]
    for folder in candidates:
        if (folder / "pipeline.yaml").is_file() and (folder / "templates").is_dir():
            return folder
    raise ScaffoldError(
        "cannot find the project files mlops-nb ships (pipeline.yaml, templates/) in "
        + " or ".join(str(c) for c in candidates)
        + "; reinstall mlops-nb (pip install --force-reinstall mlops-nb)."
    )


def new_project(path: str | Path, *, name: str | None = None) -> NewProject:
    """Create a project at ``path`` (a new or empty folder) that runs straight away.

    Args:
        path: The project folder.
        name: The project's name in its README (default: the folder name).

    Raises:
        ScaffoldError: ``path`` is a file or a folder that is not empty.
    """
    target = Path(path).expanduser().resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(
            f"{target} already exists and is not empty; choose a new folder "
            f"(mlops-nb new never overwrites files).",
            path=target,
        )
    source = project_source()
    staging = target.with_name(f".{target.name}.creating")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _fill(staging, source, name or target.name)
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = sorted(p.relative_to(target) for p in target.rglob("*") if p.is_file())
    return NewProject(target, files)


def _fill(folder: Path, source: Path, name: str) -> None:
    for filename in _PROJECT_FILES:
        shutil.copyfile(source / filename, folder / filename)
    for sub, pattern in _FOLDERS.items():
        for item in sorted((source / sub).glob(pattern)):
            (folder / sub).mkdir(exist_ok=True)
            if item.suffix == ".ipynb":
                _copy_clean_notebook(item, folder / sub / item.name)
            else:
                shutil.copyfile(item, folder / sub / item.name)
    (folder / "outputs").mkdir()
    (folder / "outputs" / ".gitkeep").write_text("")
    (folder / ".gitignore").write_text(GITIGNORE)
    (folder / "requirements.txt").write_text(f"mlops-nb=={__version__}\n")
    (folder / "README.md").write_text(README.format(name=name, version=__version__))
    workflow = folder / ".github" / "workflows"
    workflow.mkdir(parents=True)
    (workflow / "mlops-nb.yml").write_text(WORKFLOW)


def _copy_clean_notebook(source: Path, target: Path) -> None:
    """Copy a notebook with outputs and execution counts removed."""
    notebook = nbformat.read(source, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(notebook, target)


GITIGNORE = """\
# runs, the registry, snapshots and logs are made by mlops-nb, not versioned
/outputs/*
!/outputs/.gitkeep
.venv/
__pycache__/
.ipynb_checkpoints/
"""

README = """\
# {name}

An [mlops-nb](https://pypi.org/project/mlops-nb/) project: every stage of the model's life is a
template notebook in `templates/`, chained by `pipeline.yaml` into archived, reviewable runs under
`outputs/`.

## First run

```bash
python -m venv .venv && . .venv/bin/activate
pip install -r requirements.txt     # mlops-nb {version}
python -m ipykernel install --sys-prefix --name python3
mlops-nb run train                  # ingest → validate → … → register → deploy, on the sample
mlops-nb runs show latest           # stages, metrics, and the run report (index.html)
mlops-nb run monitor -p current_data='sample:churn?drift=3' -p retrain=true
```

## Your data

Point the pipeline at your data and its label column; nothing else has to change:

```bash
mlops-nb run train -p data_source=data/customers.csv -p target=churned
```

or set `data_source` and `target` under `pipelines.train.params` in `pipeline.yaml`. Data without
a contract is validated against one inferred from it; the run keeps it in
`02_validate/contract.yaml`: review it, copy it to `contracts/`, and map your source to it under
`contracts:` in `pipeline.yaml`.

## Working in JupyterLab

`jupyter lab`, then run the templates in order (01 → 10) with Run All: each works in
`outputs/dev/<stage>/`. `notebooks/dashboard.ipynb` browses runs, the registry (promote with a
reason) and drift.

## CI

`.github/workflows/mlops-nb.yml` runs every template with nbmake, then the train pipeline as a
gate (a broken contract or a failing stage fails the build), and keeps the run report as a build
artifact.
"""

WORKFLOW = """\
name: mlops-nb

on:
  push:
  pull_request:

jobs:
  pipeline:
    runs-on: ubuntu-latest
    env:
      MLOPS_NB_OUTPUTS: ${{ github.workspace }}/outputs
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
          cache: pip
      - name: Install
        run: |
          pip install -r requirements.txt pytest nbmake
          python -m ipykernel install --user --name python3
      - name: Test the templates (nbmake, in order, on the sample)
        run: pytest --nbmake templates/*.ipynb
      - name: Train pipeline as a gate
        run: mlops-nb run train
      - name: Keep the run report
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: run-report
          path: outputs/runs/
          if-no-files-found: ignore
"""
