"""Which Jupyter kernel a template runs in, whether it is installed, and which Python it runs.

A template names its kernel in its metadata (``kernelspec.name``). The templates of
this project name its own kernel, :data:`PROJECT_KERNEL` (a project made by
``mlops-nb new`` names one after itself, :func:`project_kernel`), which ``make``
installs into the virtualenv::

    python -m ipykernel install --sys-prefix --name mlops-nb --display-name "mlops-nb (project)"

Its ``kernel.json`` runs that virtualenv's interpreter, so a JupyterLab, a
JupyterHub or plain ``papermill`` started from another environment still runs
the templates with this project's packages; a generic ``python3`` would be
whichever Python that Jupyter found first.

The runner starts each stage in the kernel its template names. One that is not
installed is stood in for by Jupyter's default ``python3`` kernel (this
interpreter, unless a ``python3`` of another Python is installed), with a warning
and a line in the stage's ``kernel.log`` naming the install command
(:func:`choose_kernel`): the runner's own interpreter is the one that has
mlops-nb, so the run goes on as it did before the project had a kernel of its
own; JupyterLab, nbmake and plain papermill do need the kernel installed, and
``mlops-nb doctor`` says so.

Stage kernels are forked from the fork server only when the kernel runs this very
interpreter (:func:`interpreter_problem`): the server has imported this
environment's packages, so a kernel of another Python cannot be its child.

Nothing here imports jupyter_client until a kernel is looked up.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import RunError

if TYPE_CHECKING:
    from jupyter_client.kernelspec import KernelSpec

PROJECT_KERNEL = "mlops-nb"
"""The kernel this project's templates and notebooks name (the one ``make`` installs)."""
PROJECT_KERNEL_DISPLAY = "mlops-nb (project)"
"""How JupyterLab's launcher and kernel picker show :data:`PROJECT_KERNEL`."""
NATIVE_KERNEL = "python3"
"""Jupyter's default Python kernel (this interpreter when none of that name is installed):
what a template naming no kernel runs in."""
LAUNCHERS = frozenset({"ipykernel_launcher", "ipykernel"})
"""The modules ``python -m`` starts an IPython kernel with."""

_INVALID = re.compile(r"[^a-z0-9._-]+")
_BARE_PYTHONS = frozenset(
    {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
)
"""Kernel commands jupyter_client starts as ``sys.executable`` (ipykernel's own says ``python``)."""


def project_kernel(project: str) -> dict[str, str]:
    """The kernelspec metadata of a project called ``project``: a kernel named after it.

    A kernel's name may hold only letters, digits, ``.``, ``_`` and ``-`` (and Jupyter
    looks names up in lower case): anything else becomes ``-``. A name with nothing
    left falls back to :data:`PROJECT_KERNEL`.
    """
    name = _INVALID.sub("-", project.strip().lower()).strip("-._") or PROJECT_KERNEL
    display = f"{project.strip() or name} (mlops-nb)"
    return {"display_name": display, "language": "python", "name": name}


def install_command(name: str, display_name: str | None = None, python: str | None = None) -> str:
    """The shell command installing kernel ``name`` for ``python`` (default: this interpreter).

    ``--sys-prefix`` puts the kernel in that interpreter's environment
    (``<venv>/share/jupyter/kernels/<name>``), where a Jupyter of that environment
    finds it; another Jupyter finds it with ``JUPYTER_PATH=<venv>/share/jupyter``,
    or when installed with ``--user`` instead.
    """
    command = [python or sys.executable, "-m", "ipykernel", "install", "--sys-prefix"]
    command += ["--name", name, "--display-name", display_name or name]
    return shlex.join(command)


def find_kernel(name: str, template: str | Path | None = None) -> KernelSpec:
    """The installed kernelspec ``name``; a :class:`RunError` naming the fix when there is none.

    ``template`` (the notebook naming the kernel) only improves the message: its
    display name goes into the install command.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        return KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel as exc:
        raise missing_kernel(name, template) from exc


def installed_kernel(name: str) -> KernelSpec | None:
    """The kernelspec ``name`` Jupyter finds from here (``JUPYTER_PATH`` first), None if none."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        return KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        return None


def choose_kernel(name: str, template: str | Path | None = None) -> tuple[str, str | None]:
    """The kernel to start for a stage whose template names ``name``, and why if not that one.

    ``name`` itself when it is installed; else :data:`NATIVE_KERNEL`, with a
    sentence saying so and how to install ``name`` (see the module's documentation).
    """
    if name == NATIVE_KERNEL or installed_kernel(name) is not None:
        return name, None
    named_by = f" named by {template}" if template is not None else ""
    display = template_display_name(template) if template is not None else None
    return NATIVE_KERNEL, (
        f"the Jupyter kernel {name!r}{named_by} is not installed: the stage runs in "
        f"Jupyter's default kernel {NATIVE_KERNEL!r} instead; install the project's kernel "
        f"(make does) with: {install_command(name, display)}"
    )


def missing_kernel(name: str, template: str | Path | None = None) -> RunError:
    """The error for kernel ``name`` (named by ``template``) not being installed."""
    display = template_display_name(template) if template is not None else None
    named_by = f" (named in the metadata of {template})" if template is not None else ""
    return RunError(
        f"the Jupyter kernel {name!r}{named_by} is not installed in this environment; "
        f"install it (make does) with: {install_command(name, display)}  "
        f"— or choose another kernel for the notebook in JupyterLab (Kernel → Change Kernel)",
        kernel=name,
        path=str(template) if template is not None else None,
    )


def interpreter_problem(argv: Sequence[str]) -> str | None:
    """Why the kernel command ``argv`` is not this interpreter's IPython kernel (None: it is).

    It does when ``argv`` is ``PYTHON [-X...] -m ipykernel_launcher ...`` and PYTHON
    is this interpreter: the same file once symbolic links are followed, in the
    same environment (a virtualenv's ``bin/python`` links to its base interpreter,
    which runs without the virtualenv's packages). A bare ``python``, ``python3``
    or ``python3.X`` (ipykernel's own ``python3`` kernelspec says ``python``) is
    this interpreter, as jupyter_client launches it with ``sys.executable``;
    another bare name is looked up on ``PATH``.
    """
    options = _launcher_at(argv)
    launcher = list(argv[options : options + 2])
    if len(launcher) < 2 or launcher[0] != "-m" or launcher[1] not in LAUNCHERS:
        return f"the kernel command is not `python -m ipykernel_launcher`: {list(argv)[:4]}"
    executable = argv[0]
    if executable in _BARE_PYTHONS:  # jupyter_client launches these as its own interpreter
        return None
    found = shutil.which(executable) if os.sep not in executable else executable
    if found is None:
        return f"the kernel's Python ({executable}) is not found on PATH"
    here = sys.executable
    if not (_same_file(found, here) and _environment(found) == _environment(here)):
        return f"the kernel runs another Python ({executable}) than the runner ({sys.executable})"
    return None


def kernel_args(argv: Sequence[str]) -> list[str]:
    """The kernel app's own arguments in ``PYTHON [-X...] -m ipykernel_launcher ARGS``: ARGS."""
    return list(argv[_launcher_at(argv) + 2 :])


def _launcher_at(argv: Sequence[str]) -> int:
    """Where ``-m ipykernel_launcher`` starts in ``argv``, after any ``-X`` options.

    Recent ipykernel installs ``python -Xfrozen_modules=off -m ipykernel_launcher``;
    ``-X`` options only tune the interpreter (here, for the debugger).
    """
    at = 1
    while at < len(argv) and argv[at].startswith("-X"):
        at += 1
    return at


def _same_file(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _environment(executable: str) -> Path:
    """The environment ``executable`` runs in: its virtualenv, else its installation prefix.

    A virtualenv is the folder above ``bin/`` (``Scripts/`` on Windows) holding
    ``pyvenv.cfg``, found without following the link to the base interpreter.
    """
    above = Path(os.path.abspath(executable)).parent.parent
    if (above / "pyvenv.cfg").is_file():
        return above.resolve()
    return Path(os.path.realpath(executable)).parent.parent


def template_display_name(template: str | Path) -> str | None:
    """The kernel's display name in ``template``'s metadata, if it can be read."""
    import json

    try:
        metadata: Any = json.loads(Path(template).read_text(encoding="utf-8")).get("metadata")
    except (OSError, ValueError, AttributeError):
        return None
    spec = metadata.get("kernelspec") if isinstance(metadata, dict) else None
    display = spec.get("display_name") if isinstance(spec, dict) else None
    return display if isinstance(display, str) and display else None


__all__ = [
    "LAUNCHERS",
    "NATIVE_KERNEL",
    "PROJECT_KERNEL",
    "PROJECT_KERNEL_DISPLAY",
    "choose_kernel",
    "find_kernel",
    "install_command",
    "installed_kernel",
    "interpreter_problem",
    "kernel_args",
    "missing_kernel",
    "project_kernel",
    "template_display_name",
]
