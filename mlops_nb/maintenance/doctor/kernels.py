"""The Jupyter kernels the templates name: installed, and running this environment's Python.

The runner stands Jupyter's default kernel in for one that is not installed, so
a run still works; JupyterLab, nbmake and plain papermill do not, and a kernel
of another interpreter runs the templates without this project's packages. Each
kernel named by a template of ``pipeline.yaml`` is looked up the way Jupyter
does (``JUPYTER_PATH`` first); the fix is the ``ipykernel install`` command. A
person (or ``make``) installs kernels: ``--repair`` never does.
"""

from __future__ import annotations

from pathlib import Path

from mlops_nb.errors import MlopsNbError
from mlops_nb.maintenance.doctor.project import Project
from mlops_nb.pipeline.kernels.specs import (
    install_command,
    installed_kernel,
    interpreter_problem,
    template_display_name,
)
from mlops_nb.pipeline.spec import load_project

__all__ = ["check_kernels"]


def check_kernels(project: Project) -> None:
    """Check each kernel the templates of every pipeline name."""
    path = project.settings.pipeline_file
    if not path.is_file():
        return
    try:
        spec = load_project(path)
    except MlopsNbError as exc:
        project.report.notes.append(f"kernels not checked: {path} does not load ({exc})")
        return
    named: dict[str, Path] = {}
    for pipeline in spec.pipelines.values():
        for stage in pipeline.stages:
            if stage.template.kernel is not None:
                named.setdefault(stage.template.kernel, stage.template.path)
    for name, template in sorted(named.items()):
        project.report.count("kernels", "kernels")
        kernel = installed_kernel(name)
        command = install_command(name, template_display_name(template))
        fix = f"install it (make does): {command}"
        if kernel is None:
            project.report.add(
                "kernels",
                "kernel-missing",
                template,
                f"the Jupyter kernel {name!r} that {template.name} names is not installed: "
                "runs stand Jupyter's default kernel in for it; JupyterLab and nbmake cannot "
                "start it",
                fix,
            )
            continue
        problem = interpreter_problem(kernel.argv)
        if problem is not None:
            project.report.add(
                "kernels",
                "kernel-python",
                kernel.resource_dir,
                f"the Jupyter kernel {name!r} that {template.name} names is not this "
                f"environment's: {problem}",
                f"re{fix}",
            )
