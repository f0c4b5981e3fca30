"""The project's Jupyter kernel: named by the templates, found, forked only for this Python."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import pytest

from mlops_nb.errors import RunError
from mlops_nb.pipeline.kernels.pool import KernelPool
from mlops_nb.pipeline.kernels.specs import (
    NATIVE_KERNEL,
    choose_kernel,
    find_kernel,
    install_command,
    interpreter_problem,
    project_kernel,
)
from mlops_nb.pipeline.notebook import inspect_template
from mlops_nb.scaffold import KERNELSPEC
from tests.conftest import REPO

OTHER_PYTHON = "/opt/other-env/bin/python"


def launcher(python: str) -> list[str]:
    return [python, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"]


@pytest.fixture
def kernels(tmp_path, monkeypatch):
    """A kernelspec folder on JUPYTER_PATH: ``here`` runs this Python, ``elsewhere`` another."""
    root = tmp_path / "jupyter"
    for name, python in (("here", sys.executable), ("elsewhere", OTHER_PYTHON)):
        folder = root / "kernels" / name
        folder.mkdir(parents=True)
        spec = {"argv": launcher(python), "display_name": name, "language": "python"}
        (folder / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(root))
    return root


def test_the_templates_name_the_project_kernel():
    kernels = {inspect_template(path).kernel for path in sorted(REPO.glob("templates/*.ipynb"))}
    assert kernels == {KERNELSPEC["name"]} and KERNELSPEC["name"] != NATIVE_KERNEL


def test_a_new_projects_kernel_is_named_after_it():
    assert project_kernel("churn")["name"] == "churn"
    mine = project_kernel("My Project (2026)!")
    assert (
        mine["name"] == "my-project-2026"
        and mine["display_name"] == "My Project (2026)! (mlops-nb)"
    )
    assert project_kernel("  ~~ ")["name"] == KERNELSPEC["name"]


def test_the_install_command_installs_into_this_environment():
    command = shlex.split(install_command("churn", "churn (mlops-nb)"))
    assert command[:5] == [sys.executable, "-m", "ipykernel", "install", "--sys-prefix"]
    assert command[5:] == ["--name", "churn", "--display-name", "churn (mlops-nb)"]


def test_a_kernel_of_this_python_is_forked_whatever_its_path_says(tmp_path, monkeypatch):
    assert interpreter_problem(launcher(sys.executable)) is None
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))
    assert interpreter_problem(launcher(os.path.basename(sys.executable))) is None


def test_a_bare_python_is_this_interpreter_as_jupyter_client_launches_it(monkeypatch):
    # ipykernel's own python3 kernelspec says "python": jupyter_client runs sys.executable,
    # whatever PATH holds (make runs .venv/bin/python without activating the venv)
    monkeypatch.setenv("PATH", "/nonexistent")
    for bare in ("python", f"python{sys.version_info[0]}"):
        assert interpreter_problem(launcher(bare)) is None, bare
    assert "not found on PATH" in interpreter_problem(launcher("python2.7"))


def test_another_environment_is_another_python_even_on_the_same_binary(tmp_path):
    # a virtualenv links bin/python to its base interpreter: same file, other packages
    other_venv = tmp_path / "other-venv"
    (other_venv / "bin").mkdir(parents=True)
    (other_venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (other_venv / "bin" / "python").symlink_to(os.path.realpath(sys.executable))
    reason = interpreter_problem(launcher(str(other_venv / "bin" / "python")))
    assert reason is not None and "another Python" in reason and str(other_venv) in reason
    assert "another Python" in interpreter_problem(launcher(OTHER_PYTHON))
    assert "not `python -m ipykernel_launcher`" in interpreter_problem(["/usr/bin/R", "--slave"])


def test_a_kernel_of_another_python_is_not_forked(kernels):
    pool = KernelPool.open([], cwd=kernels, kernel_name="elsewhere", fork=True)
    try:
        assert pool.server is None
        assert "kernel 'elsewhere' is not forked" in pool.fork_off_reason
        assert OTHER_PYTHON in pool.fork_off_reason
    finally:
        pool.close()


def test_kernels_are_found_on_jupyter_path(kernels):
    assert find_kernel("here").argv[0] == sys.executable
    assert find_kernel("elsewhere").argv[0] == OTHER_PYTHON


def test_a_missing_kernel_is_stood_in_for_with_the_command_that_installs_it(kernels, tmp_path):
    template = tmp_path / "t.ipynb"
    spec = {"name": "absent", "display_name": "Absent (mlops-nb)", "language": "python"}
    template.write_text(json.dumps({"metadata": {"kernelspec": spec}, "cells": []}))
    chosen, why = choose_kernel("absent", template)
    assert chosen == NATIVE_KERNEL
    assert f"'absent' named by {template} is not installed" in why
    assert install_command("absent", "Absent (mlops-nb)") in why
    assert choose_kernel("here", template) == ("here", None)
    stage = KernelPool().kernel(tmp_path, kernel_name="absent", template=template)
    assert stage.kernel_name == NATIVE_KERNEL and stage.stand_in == why


def test_looking_up_a_missing_kernel_names_the_fix(kernels):
    with pytest.raises(RunError, match=r"'absent' \(named in the metadata of t.ipynb\)") as caught:
        find_kernel("absent", "t.ipynb")
    assert "ipykernel install --sys-prefix --name absent" in str(caught.value)
    assert caught.value.kernel == "absent"


def test_the_project_kernel_is_installed_and_runs_this_python():
    """What `make` installs; nbmake, JupyterLab and plain papermill start this kernel."""
    spec = find_kernel(KERNELSPEC["name"])
    assert interpreter_problem(spec.argv) is None, (
        f"reinstall it: {install_command(KERNELSPEC['name'], KERNELSPEC['display_name'])}"
    )
    assert spec.display_name == KERNELSPEC["display_name"]
    assert Path(spec.resource_dir).is_relative_to(Path(sys.prefix))
