"""Where and how a stage executes: the seam between the runner and the kernels.

The runner (:mod:`mlops_nb.pipeline.runner`) decides *what* runs and keeps the
record: the DAG, the cache, resume, the run folder, observers and tracking. For
each stage that has to execute it builds a :class:`StageTask` and hands it to an
:class:`Executor`, which runs the template and answers with a
:class:`StageResult`. The runner knows nothing of kernels, papermill or clusters::

    Runner ──StageTask──▶ Executor.submit() ──Future[StageResult]──▶ Runner
                           └ local: papermill in fresh kernels on this machine,
                                    forked from a warm server, ``jobs`` at once
                             (a Dask executor: a task per stage on a worker)

What every executor does:

- ``prepare(tasks)`` is called once per run, with every stage of the run, before
  the first ``submit`` and only when some stage has to execute (a fully cached
  run starts no kernel); the executor may start what it needs there;
- ``submit(task)`` returns a future. The executor writes the executed notebook
  (:data:`EXECUTED`) and its HTML export into ``task.stage_dir``. A stage that
  fails is no exception of the future: its result holds the error, already
  translated into an :class:`~mlops_nb.errors.MlopsNbError` naming the stage and
  cell. The future raises only for what is not the stage's fault, or is
  cancelled by :meth:`Executor.interrupt`;
- at most ``slots`` stages run at once; the runner never submits more;
- ``interrupt()`` (Ctrl-C, SIGTERM) ends the running stages: their futures
  finish soon after, and the runner records them as interrupted;
- ``close()`` ends the run's resources; ``prepare`` may open them again.

A task and its result are plain data (paths as text, picklable), so they can
travel to another process or machine.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from mlops_nb.errors import MlopsNbError
from mlops_nb.exports import lazy_getattr
from mlops_nb.pipeline.kernels.specs import NATIVE_KERNEL

EXECUTED = "executed.ipynb"
"""The executed notebook's name in its stage folder."""


@dataclass(frozen=True)
class StageTask:
    """One stage, ready to execute: every input is given, nothing is looked up.

    Attributes:
        run_id: the run's id (``dev`` for a development run).
        stage: the stage's name.
        notebook: the template to execute (never modified).
        run_dir: the run's folder.
        stage_dir: the stage's folder, created and empty; the executor writes there.
        parameters: every value papermill injects, ``stage_dir`` included.
        cwd: the kernel's working directory (the project root).
        kernel_name: the Jupyter kernel to run the template in (the runner gives
            the one the template's metadata names).
        start_timeout: seconds a kernel may take to start.
        execution_timeout: seconds a cell may run (None: no limit).
        environment: variables set for the kernel on top of the executing
            process's (a remote worker's project and store locations).
    """

    run_id: str
    stage: str
    notebook: str
    run_dir: str
    stage_dir: str
    parameters: dict[str, Any] = field(default_factory=dict)
    cwd: str = "."
    kernel_name: str = NATIVE_KERNEL
    start_timeout: float = 120.0
    execution_timeout: float | None = None
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def executed(self) -> str:
        """Where the executed notebook goes."""
        return os.path.join(self.stage_dir, EXECUTED)


@dataclass(frozen=True)
class StageResult:
    """How a stage's execution ended.

    Attributes:
        stage: the stage's name.
        executed: the executed notebook, if one was written.
        report: its HTML export, if one was written.
        kernel_seconds: from asking for a kernel until it answered.
        execute_seconds: from then until the notebook's execution returned.
        kernel: how the kernel started (``forked``, ``ordinary``, ``ordinary
            (retry)``), None if none did.
        error: why the stage failed, translated (None: it succeeded).
        interrupted: the execution was cut short by an interruption (Ctrl-C).
        worker: where it ran (this machine's host name, a Dask worker's address).
        files: the stage folder as published by a remote worker (relative path →
            SHA-256), empty when the folder was written where the runner runs.
    """

    stage: str
    executed: str | None = None
    report: str | None = None
    kernel_seconds: float | None = None
    execute_seconds: float | None = None
    kernel: str | None = None
    error: MlopsNbError | None = None
    interrupted: bool = False
    worker: str = ""
    files: dict[str, str] = field(default_factory=dict)

    def timing(self) -> dict[str, Any]:
        """The entries a run record keeps for the stage's execution."""
        return {
            "kernel_seconds": self.kernel_seconds,
            "execute_seconds": self.execute_seconds,
            "kernel": self.kernel,
        }


class Executor(Protocol):
    """Executes ready stages (see the module's documentation for the contract)."""

    @property
    def slots(self) -> int:
        """How many stages may run at once."""
        ...

    def prepare(self, tasks: Sequence[StageTask]) -> None:
        """Get ready for a run whose stages are ``tasks`` (in run order)."""
        ...

    def submit(self, task: StageTask) -> Future[StageResult]:
        """Start executing ``task``; the future holds its result."""
        ...

    def interrupt(self) -> None:
        """End the running stages now (the run is interrupted)."""
        ...

    def close(self) -> None:
        """Free what the run used; safe to call twice."""
        ...


EXECUTORS = ("local", "dask")


def choose_executor(
    settings: Any,
    kind: str | None = None,
    scheduler: str | None = None,
    *,
    jobs: int = 1,
    fork: bool | None = None,
    preload: Sequence[str] | None = None,
) -> Executor:
    """The executor a run uses: ``kind`` (else the settings', else ``local``).

    ``dask`` needs a scheduler address (``scheduler``, else ``settings.scheduler``
    from ``MLOPS_NB_DASK_SCHEDULER`` or pipeline.yaml) and connects to it now, so
    that an unreachable scheduler is a clear error before any stage runs.

    Raises:
        ParameterError: an unknown executor, or dask without a scheduler.
        RunError: the scheduler cannot be reached, or dask is not installed.
    """
    from mlops_nb.errors import ParameterError

    chosen = (kind or settings.executor or "local").strip().lower()
    if chosen not in EXECUTORS:
        raise ParameterError(
            f"unknown executor {chosen!r}; use one of {', '.join(EXECUTORS)} (--executor, "
            f"MLOPS_NB_EXECUTOR or executor: in pipeline.yaml)",
            param="executor",
        )
    if chosen == "local":
        from mlops_nb.pipeline.executors.local import LocalExecutor

        return LocalExecutor(jobs, fork=fork, preload=preload)
    address = scheduler or settings.scheduler
    if not address:
        raise ParameterError(
            "the dask executor needs a scheduler: --scheduler tcp://HOST:PORT, "
            "MLOPS_NB_DASK_SCHEDULER, or scheduler: in pipeline.yaml (mlops-nb cluster local "
            "starts one on this machine)",
            param="scheduler",
        )
    from mlops_nb.pipeline.executors.dask import DaskExecutor

    return DaskExecutor(address, settings, fork=fork, preload=preload)


_EXPORTS = {
    "DaskExecutor": "mlops_nb.pipeline.executors.dask",
    "LocalExecutor": "mlops_nb.pipeline.executors.local",
}

__all__ = [
    "EXECUTED",
    "EXECUTORS",
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "StageResult",
    "StageTask",
    "choose_executor",
]

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
