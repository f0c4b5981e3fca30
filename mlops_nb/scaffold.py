"""``mlops-nb new PATH``: start a project of your own from the demo project.

The new project holds everything ``mlops-nb run`` needs and nothing it makes:

====================================  ==============================================
``pipeline.yaml``                     the ``train`` and ``monitor`` pipelines
``templates/*.ipynb``                 the stage templates (outputs stripped)
``contracts/churn.yaml``              the sample's data contract
``notebooks/dashboard.ipynb``         run, registry and drift browsers (if shipped)
``outputs/.gitkeep``                  where runs go; ``.gitignore`` keeps them out of git
``.gitattributes``                    notebooks go through the nbstripout filter: git
                                      stores them without outputs or execution counts
``requirements.txt``                  mlops-nb pinned to the version that made it
``README.md``                         the first commands (the project's Jupyter kernel
                                      among them), and how to use your data
``.github/workflows/mlops-nb.yml``    CI: nbmake over the templates, then the train
                                      pipeline as a gate, its run report kept
====================================  ==============================================

The files come from the project this package was built from: the source tree
of an editable install, or the copy a wheel installs under
``<prefix>/share/mlops-nb``. Nothing is overwritten: a non-empty target folder
is refused. Notebooks are written as JupyterLab saves them, without outputs
(:func:`normalize_notebook`), so opening one does not mark it modified. They name
the project's own Jupyter kernel, called after the project
(:func:`~mlops_nb.pipeline.kernels.specs.project_kernel`), which the README says
how to install into the project's virtualenv.

Unless told not to, the new project becomes a git repository (or, inside one
already, uses it) with the nbstripout filter configured in its ``.git/config``,
so outputs saved from JupyterLab never reach a commit. A clone has to configure
it again (``python -m nbstripout --install``), as the project's README says.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from mlops_nb import __version__
from mlops_nb.errors import ScaffoldError
from mlops_nb.pipeline.kernels.specs import (
    PROJECT_KERNEL,
    PROJECT_KERNEL_DISPLAY,
    install_command,
    project_kernel,
)

__all__ = ["KERNELSPEC", "ScaffoldError", "new_project", "normalize_notebook", "project_source"]

KERNELSPEC = {"display_name": PROJECT_KERNEL_DISPLAY, "language": "python", "name": PROJECT_KERNEL}
"""The kernel this project's notebooks name: the one ``make`` installs (``ipykernel install``)."""
_NOTEBOOK_METADATA_DROPPED = ("signature", "widgets")
_CELL_METADATA_DROPPED = (
    "collapsed",
    "ExecuteTime",
    "execution",
    "heading_collapsed",
    "hidden",
    "scrolled",
)
"""What nbstripout removes by default besides outputs and counts."""

SHARE = Path("share") / "mlops-nb"
_PROJECT_FILES = ("pipeline.yaml",)
_FOLDERS = {"templates": "*.ipynb", "contracts": "*.yaml", "notebooks": "dashboard.ipynb"}


@dataclass(frozen=True)
class NewProject:
    """What :func:`new_project` created; ``git`` says how the notebook filter was set up."""

    path: Path
    files: list[Path]
    git: str = ""


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


def new_project(path: str | Path, *, name: str | None = None, git: bool = True) -> NewProject:
    """Create a project at ``path`` (a new or empty folder) that runs straight away.

    Args:
        path: The project folder.
        name: The project's name in its README (default: the folder name).
        git: Make it a git repository (unless it is inside one) and configure
            the nbstripout filter there.

    Raises:
        ScaffoldError: ``path`` is a file or a folder that is not empty, or a
            folder cannot be created there (a file in the way, no permission).
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
    try:
        staging.mkdir(parents=True)
        _fill(staging, source, name or target.name)
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise _cannot_create(target, exc) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = sorted(p.relative_to(target) for p in target.rglob("*") if p.is_file())
    return NewProject(target, files, _set_up_git(target) if git else "")


def _cannot_create(target: Path, exc: OSError) -> ScaffoldError:
    """The error for a project folder the file system will not let us make."""
    blocker = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        why = f"{blocker} is a file, not a folder"
    else:
        why = exc.strerror or type(exc).__name__
    return ScaffoldError(
        f"cannot create the project folder {target}: {why}; choose a folder you can write "
        f"to, e.g. mlops-nb new ./myproject.",
        path=target,
    )


def _set_up_git(folder: Path) -> str:
    """Make ``folder`` a git repository if it is in none, and configure the notebook filter.

    Returns what was done, for the user; a problem here leaves the project as
    it is and says how to do it by hand.
    """
    by_hand = "run `python -m nbstripout --install` in it once git is there"
    if shutil.which("git") is None:
        return f"git is not installed: {by_hand}"
    top = _git(folder, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        init = _git(folder, "init", "--quiet")
        if init.returncode != 0:
            return f"git init failed ({init.stderr.strip()}): {by_hand}"
        where = f"a new git repository in {folder}"
    else:
        where = f"the git repository {top.stdout.strip()}"
    attributes = str(folder / ".gitattributes")
    command = [sys.executable, "-m", "nbstripout", "--install", "--attributes", attributes]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"{where}, but the nbstripout filter could not be set up: {by_hand}"
    return f"{where}, with the nbstripout filter: notebooks are committed without outputs"


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=False)


def _fill(folder: Path, source: Path, name: str) -> None:
    kernel = project_kernel(name)
    for filename in _PROJECT_FILES:
        shutil.copyfile(source / filename, folder / filename)
    for sub, pattern in _FOLDERS.items():
        for item in sorted((source / sub).glob(pattern)):
            (folder / sub).mkdir(exist_ok=True)
            if item.suffix == ".ipynb":
                _copy_clean_notebook(item, folder / sub / item.name, kernel)
            else:
                shutil.copyfile(item, folder / sub / item.name)
    (folder / "outputs").mkdir()
    (folder / "outputs" / ".gitkeep").write_text("")
    (folder / ".gitignore").write_text(GITIGNORE)
    (folder / ".gitattributes").write_text(GITATTRIBUTES)
    (folder / "requirements.txt").write_text(f"mlops-nb=={__version__}\n")
    # `python`, not this interpreter's path: the commands run in the project's own virtualenv
    install = install_command(kernel["name"], kernel["display_name"], python="python")
    readme = README.format(name=name, version=__version__, kernel=kernel["name"], install=install)
    (folder / "README.md").write_text(readme)
    workflow = folder / ".github" / "workflows"
    workflow.mkdir(parents=True)
    (workflow / "mlops-nb.yml").write_text(WORKFLOW.replace("{install}", install))


def _copy_clean_notebook(source: Path, target: Path, kernel: Mapping[str, str]) -> None:
    """Copy a notebook normalized (no outputs, as JupyterLab saves it), naming ``kernel``."""
    text = normalize_notebook(source.read_text(encoding="utf-8"), kernelspec=kernel)
    target.write_text(text, encoding="utf-8")


def normalize_notebook(
    text: str, *, python_version: str | None = None, kernelspec: Mapping[str, str] | None = None
) -> str:
    """A notebook's text as JupyterLab would save it, with nothing a run leaves behind.

    Outputs, execution counts and what nbstripout strips are removed; cells get
    the ids nbstripout gives them (their position), so the git filter leaves a
    normalized notebook unchanged; the format is nbformat 4.5, one-space indent,
    sorted keys and a final newline, as Jupyter writes notebooks; ``kernelspec``
    and ``language_info`` are those JupyterLab sets when the kernel starts, so
    opening the notebook changes nothing. ``python_version`` overrides the
    Python version in ``language_info`` (default: this interpreter's, the
    kernel's); ``kernelspec`` the kernel named (default: :data:`KERNELSPEC`).
    """
    notebook = nbformat.reads(text, as_version=4)
    notebook.nbformat_minor = max(notebook.nbformat_minor, nbformat.v4.nbformat_minor)
    for key in _NOTEBOOK_METADATA_DROPPED:
        notebook.metadata.pop(key, None)
    notebook.metadata["kernelspec"] = dict(kernelspec or KERNELSPEC)
    notebook.metadata["language_info"] = _language_info(python_version)
    for index, cell in enumerate(notebook.cells):
        cell["id"] = str(index)
        for key in _CELL_METADATA_DROPPED:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    written = str(nbformat.writes(notebook))
    return written if written.endswith("\n") else written + "\n"


def notebook_python_version(text: str) -> str | None:
    """The Python version a notebook's ``language_info`` names, if any."""
    info = json.loads(text).get("metadata", {}).get("language_info", {})
    return info.get("version") if isinstance(info, dict) else None


def _language_info(python_version: str | None) -> dict[str, Any]:
    from ipykernel.ipkernel import IPythonKernel  # what the kernel reports on connection

    info = copy.deepcopy(dict(IPythonKernel.language_info))
    if python_version is not None:
        info["version"] = python_version
    return info


GITATTRIBUTES = """\
# Notebooks go through the nbstripout filter: git stores them without outputs or
# execution counts. `mlops-nb new` configured it; in a clone: python -m nbstripout --install
*.ipynb filter=nbstripout
*.ipynb diff=ipynb
"""

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
{install}
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

The notebooks name this project's Jupyter kernel, `{kernel}`: the command above installed it
into `.venv`, running `.venv/bin/python` whichever JupyterLab opens them. A JupyterLab or
JupyterHub of another environment finds it with `JUPYTER_PATH=$PWD/.venv/share/jupyter`, or
install it for your user instead (`--user` in place of `--sys-prefix`). `mlops-nb doctor`
checks it is installed and runs this environment's Python.

`jupyter lab`, then run the templates of a pipeline in order (train: 01 → 08) with Run All:
each works in `outputs/dev/<stage>/`. To work on one template without running those before
it by hand, make its upstream stages there first, e.g. for `06_evaluate`:

```bash
mlops-nb run train --until train --dev   # ingest … train into outputs/dev/, then Run All on 06
```

(a template whose upstream has not run prints this command). `notebooks/dashboard.ipynb` browses
runs, the registry (promote with a reason) and drift.

## Git

`mlops-nb new` made this folder a git repository (or used the one it is in) and configured the
[nbstripout](https://pypi.org/project/nbstripout/) filter that `.gitattributes` names: notebooks
are committed without outputs or execution counts, whatever JupyterLab saved. The filter lives in
`.git/config`, which a clone does not copy: after cloning, run `python -m nbstripout --install`
once.

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
          {install}
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
