"""One stage executed: papermill runs its template in a fresh kernel from a :class:`KernelPool`.

:func:`execute_task` is what any executor running papermill on a machine calls
(the local executor, for one, from its threads): it runs a :class:`StageTask`,
writes the executed notebook and its HTML export into the stage folder, and
translates whatever went wrong into a :class:`~mlops_nb.errors.StageFailedError`
that names the stage, the cell and the fix.

papermill takes over a second to import, so it is imported when a run first has
to execute a stage (:func:`import_papermill`), after the kernels' fork server has
started: both then proceed at once.
"""

from __future__ import annotations

import functools
import logging
import socket
import sys
from pathlib import Path
from typing import Any

from mlops_nb.errors import MlopsNbError, StageFailedError
from mlops_nb.pipeline.executors import StageResult, StageTask
from mlops_nb.pipeline.kernels.logs import KERNEL_LOG
from mlops_nb.pipeline.kernels.pool import KernelPool, StageKernel
from mlops_nb.pipeline.kernels.provisioner import StageKernelManager
from mlops_nb.pipeline.kernels.specs import missing_kernel
from mlops_nb.pipeline.stage_report import STAGE_REPORT, export_html

# papermill only warns about unknown parameters and comments it cannot parse; the spec
# has already refused unknown names, so its warnings would only be noise.
logging.getLogger("papermill").setLevel(logging.ERROR)

_HINTS = {
    "DeadKernelError": "the kernel died (out of memory or killed); reduce the data or "
    "free memory and run again",
    "CellTimeoutError": "a cell ran past its time limit",
}


def skip_iri_grammars() -> None:
    """Keep jsonschema from loading its optional ``rfc3987_syntax`` format checker.

    papermill imports nbformat, whose validator imports jsonschema, which builds
    38 parser grammars for IRI formats (about a second) if that package is
    installed; notebook schemas use no IRI format. Marking the module missing
    before jsonschema is imported makes jsonschema skip it; it changes nothing
    if jsonschema is already loaded.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def import_papermill() -> None:
    """Import papermill now (see the module's documentation for when)."""
    import papermill  # noqa: F401  (a second and a half: only when a stage executes)


def execute_task(task: StageTask, pool: KernelPool) -> StageResult:
    """Execute ``task`` in a new kernel of ``pool``; the result says how it ended.

    A failure of the stage is returned, translated, never raised; an interruption
    (Ctrl-C in this thread) kills the kernel and is returned as ``interrupted``.
    Anything else (a missing papermill, a full disk) is raised.
    """
    from papermill.exceptions import PapermillExecutionError  # loaded by import_papermill

    output = Path(task.executed)
    kernel = pool.kernel(Path(task.stage_dir), task.environment, task.kernel_name, task.notebook)
    error: MlopsNbError | None = None
    interrupted = False
    try:
        try:
            kernel.run(functools.partial(_papermill, task))
        except PapermillExecutionError as exc:
            raise _stage_failure(task.stage, exc, output) from exc
        except (KeyboardInterrupt, MlopsNbError):
            raise
        except Exception as exc:  # kernel death, missing kernel, timeouts
            raise _kernel_failure(task.stage, exc, output, kernel, task.notebook) from exc
    except MlopsNbError as exc:
        error = exc
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if output.is_file():
            export_html(output, output.parent / STAGE_REPORT)
    return _result(task, kernel, error, interrupted)


def _papermill(
    task: StageTask, km: StageKernelManager, start_timeout: float, hooks: dict[str, Any]
) -> None:
    """Run papermill on the task's template with the kernel manager ``km``."""
    import papermill

    papermill.execute_notebook(
        task.notebook,
        task.executed,
        parameters=dict(task.parameters),
        kernel_name=km.kernel_name,  # the task's, or the kernel standing in for it
        progress_bar=False,
        log_output=False,
        km=km,
        cwd=task.cwd,
        start_timeout=start_timeout,
        execution_timeout=task.execution_timeout,
        **hooks,
    )


def _result(
    task: StageTask, kernel: StageKernel, error: MlopsNbError | None, interrupted: bool
) -> StageResult:
    output = Path(task.executed)
    html = output.parent / STAGE_REPORT
    return StageResult(
        stage=task.stage,
        executed=str(output) if output.is_file() else None,
        report=str(html) if html.is_file() else None,
        error=error,
        interrupted=interrupted,
        worker=socket.gethostname(),
        **kernel.timing(),
    )


def _stage_failure(stage: str, exc: Any, notebook: Path) -> StageFailedError:
    """The error for a cell that raised: the stage, the cell, the error and the notebook."""
    cell = exc.exec_count
    first_line = next((ln for ln in exc.source.splitlines() if ln.strip()), "").strip()
    message = (
        f"stage '{stage}' failed in cell In [{cell}] ({first_line[:70]}):\n"
        f"{exc.ename}: {exc.evalue}\n"
        f"executed notebook (the failing cell is marked): {notebook}"
    )
    return StageFailedError(
        message, stage=stage, cell=cell, ename=exc.ename, evalue=exc.evalue, notebook=notebook
    )


def _kernel_failure(
    stage: str,
    exc: Exception,
    notebook: Path,
    kernel: StageKernel | None = None,
    template: str | None = None,
) -> StageFailedError:
    """The error for a stage whose kernel died, did not start, timed out or is not installed."""
    name = type(exc).__name__
    death = kernel.describe_death() if kernel is not None else None
    cell = kernel.cell["count"] if kernel is not None and kernel.cell else None
    if name == "NoSuchKernel":  # jupyter_client's: the kernel's name is its `name`
        hint = missing_kernel(str(getattr(exc, "name", exc)), template).message
    else:
        hint = _HINTS.get(name, "see the executed notebook")
    message = (
        f"stage '{stage}' could not be executed: {name}: {exc}\n"
        + (f"{death}\n" if death else "")
        + f"{hint}\nexecuted notebook: {notebook}\n"
        f"kernel log: {notebook.parent / KERNEL_LOG}"
    )
    return StageFailedError(
        message, stage=stage, cell=cell, ename=name, evalue=str(exc), notebook=notebook
    )


__all__ = ["execute_task", "import_papermill", "skip_iri_grammars"]
