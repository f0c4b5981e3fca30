"""`mlops-nb doctor` on kernels: each one a template names is installed and runs this Python."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mlops_nb.maintenance.doctor import doctor

OTHER_PYTHON = "/opt/other-env/bin/python"


def name_kernel(notebook: Path, name: str) -> None:
    data = json.loads(notebook.read_text())
    data["metadata"]["kernelspec"] = {"name": name, "display_name": f"{name} (shown)"}
    notebook.write_text(json.dumps(data))


def install(root: Path, name: str, python: str) -> None:
    folder = root / "kernels" / name
    folder.mkdir(parents=True)
    argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (folder / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": name}))


def test_a_missing_kernel_and_one_of_another_python_are_findings_with_the_install_command(
    make_project, tmp_path, monkeypatch
):
    settings = make_project()
    name_kernel(settings.root / "notebooks" / "produce.ipynb", "absent-kernel")
    name_kernel(settings.root / "notebooks" / "consume.ipynb", "elsewhere-kernel")
    jupyter = tmp_path / "jupyter"
    install(jupyter, "elsewhere-kernel", OTHER_PYTHON)
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))

    report = doctor(settings, repair=True)

    found = {f.kind: f for f in report.findings if f.check == "kernels"}
    assert set(found) == {"kernel-missing", "kernel-python"}, report.findings
    missing = found["kernel-missing"]
    assert "'absent-kernel' that produce.ipynb names is not installed" in missing.message
    assert "ipykernel install --sys-prefix --name absent-kernel" in missing.fix
    assert "'absent-kernel (shown)'" in missing.fix  # the template's display name
    other = found["kernel-python"]
    assert OTHER_PYTHON in other.message and other.where == str(
        jupyter / "kernels" / "elsewhere-kernel"
    )
    assert other.fix.startswith("reinstall it") and not other.repaired  # a person installs kernels
    assert report.checked["kernels"]["kernels"] == 2 and report.exit_code == 1


def test_a_kernel_of_this_python_is_fine_whatever_its_name(make_project, tmp_path, monkeypatch):
    settings = make_project()
    for notebook in ("produce", "consume"):
        name_kernel(settings.root / "notebooks" / f"{notebook}.ipynb", "project-kernel")
    install(tmp_path / "jupyter", "project-kernel", sys.executable)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))

    report = doctor(settings)

    assert [f for f in report.findings if f.check == "kernels"] == []
    assert report.checked["kernels"]["kernels"] == 1
