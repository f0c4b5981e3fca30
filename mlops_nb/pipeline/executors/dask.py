"""The Dask executor: each ready stage is a Dask task on a worker of a cluster.

``mlops-nb run --executor dask --scheduler tcp://HOST:8786`` (or ``executor:``
and ``scheduler:`` in pipeline.yaml, or ``MLOPS_NB_DASK_SCHEDULER``). The client
keeps the DAG, the cache and the run record; the workers execute templates with
papermill, in fresh kernels forked from a server each worker keeps (see
:mod:`mlops_nb.pipeline.executors.remote`). Independent stages run on different
workers at once: the executor offers as many slots as the cluster has workers.

Where the files are: with an artifact location that publishes (a team store,
``MLOPS_NB_ARTIFACTS``), the workers need nothing but the store and that
location: the client publishes the project's files, the workers fetch what a
stage reads and publish what it writes. Without one, the workers must see the
client's project and outputs folders at the same paths (a cluster on this
machine, ``mlops-nb cluster local``); the executor checks that before any
stage runs.

A stage's kernel knows it runs under Dask: its environment has
``MLOPS_NB_PARALLEL=dask`` and ``MLOPS_NB_DASK_SCHEDULER`` (the scheduler's
address), so the train template's ``parallel="auto"`` runs its search's fits on
the same cluster (:func:`mlops_nb.modeling.resolve_parallel`).

A worker lost while running a stage: the scheduler runs the stage again on
another worker (``distributed.scheduler.allowed-failures``; ``mlops-nb cluster
local`` sets it to 1, so a stage is retried once), then the run fails naming the
stage and the worker. Ctrl-C cancels the run's tasks and interrupts the kernels
they run.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlops_nb.clusters import INSTALL_HINT, distributed_module
from mlops_nb.clusters import connect as connect_to
from mlops_nb.config import SCHEDULER_ENV, Settings
from mlops_nb.errors import RunError, StageFailedError
from mlops_nb.pipeline.executors import StageResult, StageTask
from mlops_nb.store import artifact_location
from mlops_nb.store.runs import RunIndex

__all__ = ["INSTALL_HINT", "DaskExecutor", "connect"]

CONNECT_TIMEOUT_S = 15.0
"""A run waits longer than a notebook call for a busy scheduler: nothing runs until it answers."""
PARALLEL_ENV = "MLOPS_NB_PARALLEL"
"""Tells a stage's kernel it runs under the Dask executor (``mlops_nb.modeling.PARALLEL_ENV``)."""


def _distributed() -> Any:
    return distributed_module(RunError, "the Dask executor")


_distributed()  # the extra is named before anything else fails to import
from mlops_nb.pipeline.executors.remote import (  # noqa: E402
    EXTERNAL_MARK,
    PLUGIN,
    KernelsPlugin,
    RemoteStage,
    interrupt_run,
    run_stage,
)


def connect(scheduler: str) -> Any:
    """A client of the scheduler at ``scheduler``, or a clear error before any stage runs."""
    return connect_to(
        scheduler,
        RunError,
        "the Dask executor",
        "--scheduler / MLOPS_NB_DASK_SCHEDULER",
        timeout=CONNECT_TIMEOUT_S,
    )


class DaskExecutor:
    """Executes stages as Dask tasks (see the module's documentation).

    Args:
        scheduler: The scheduler's address (``tcp://host:port``).
        settings: The project (its store and artifact location go to the workers).
        fork: Fork kernels on the workers (None: ``MLOPS_NB_FORK``, on by default).
        preload: What the workers' fork servers import first.
    """

    def __init__(
        self,
        scheduler: str,
        settings: Settings,
        *,
        fork: bool | None = None,
        preload: Sequence[str] | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.settings = settings
        self.location = artifact_location(settings)
        self.client = connect(scheduler)
        self._plugin = KernelsPlugin(fork, list(preload) if preload is not None else None)
        self._project: dict[str, str] = {}
        self._futures: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._run_id = ""
        self._prepared = False

    @property
    def slots(self) -> int:
        """One stage per worker at a time: a stage is a whole notebook run."""
        return max(1, len(self.client.scheduler_info(n_workers=-1).get("workers", {})))

    def prepare(self, tasks: Sequence[StageTask]) -> None:
        """Install the kernel plugin on the workers; publish the project or check they see it."""
        if not tasks:
            return
        self.client.register_plugin(self._plugin, name=PLUGIN)
        if self.location.publishes:
            self._project = _publish_project(self.settings, self.location, tasks)
        else:
            self._check_shared(tasks[0])
        self._prepared = True

    def submit(self, task: StageTask) -> Future[StageResult]:
        if not self._prepared:
            self.prepare([task])
        self._run_id = task.run_id
        remote = self._remote(task)
        future = self.client.submit(
            run_stage, remote, key=f"mlops-nb-{task.run_id}-{task.stage}", pure=False
        )
        with self._lock:
            self._futures[task.stage] = future
        answer: Future[StageResult] = Future()
        future.add_done_callback(lambda done: _settle(done, answer, task.stage))
        return answer

    def interrupt(self) -> None:
        """Cancel the run's tasks and interrupt the kernels they are running."""
        with self._lock:
            futures = list(self._futures.values())
        if futures:
            self.client.cancel(futures, force=True)
        if self._run_id:
            with contextlib.suppress(Exception):  # a worker gone: nothing to interrupt there
                self.client.run(interrupt_run, self._run_id)

    def close(self) -> None:
        with self._lock:
            self._futures.clear()
        self.client.close()

    def _remote(self, task: StageTask) -> RemoteStage:
        root = Path(self.settings.root)
        published = self.location.publishes
        environment = {**task.environment, PARALLEL_ENV: "dask", SCHEDULER_ENV: self.scheduler}
        task = replace(task, environment=environment)
        inputs: dict[str, str] = {}
        if published:
            with RunIndex(self.settings) as index:
                inputs = {
                    name: sha
                    for name, sha in index.files(task.run_id).items()
                    if not name.startswith(f"{Path(task.stage_dir).name}/")
                }
        return RemoteStage(
            task=_shipped_parameters(task, root) if published else task,
            published=published,
            store=self.settings.store or (None if published else str(self.settings.database)),
            artifacts=self.settings.artifacts,
            project=self._project,
            inputs=inputs,
            notebook=_relative(Path(task.notebook), root),
            stage_folder=Path(task.stage_dir).name,
            scheduler=self.scheduler,
        )

    def _check_shared(self, task: StageTask) -> None:
        """Without an artifact location, every worker must see the project at the same path."""
        root, outputs = str(self.settings.root), str(self.settings.outputs)
        seen = self.client.run(_sees, root, outputs)
        blind = sorted(address for address, ok in seen.items() if not ok)
        if blind:
            raise RunError(
                f"the Dask worker(s) {', '.join(blind)} cannot see this project at {root} (and "
                f"its outputs at {outputs}): run them on this machine (mlops-nb cluster local), "
                f"or set MLOPS_NB_STORE and MLOPS_NB_ARTIFACTS so workers fetch and publish files",
                scheduler=self.scheduler,
            )


def _sees(root: str, outputs: str) -> bool:
    return Path(root, "pipeline.yaml").is_file() and Path(outputs).is_dir()


def _settle(done: Any, answer: Future[StageResult], stage: str) -> None:
    """Pass a Dask future's outcome to the runner's future, a lost worker translated."""
    if done.cancelled():
        answer.set_result(StageResult(stage, interrupted=True))
        return
    error = done.exception()
    if error is None:
        answer.set_result(done.result())
        return
    name = type(error).__name__
    if name == "KilledWorker":
        message = (
            f"stage '{stage}' was lost with its worker(s) ({error}); it was retried on another "
            f"worker and lost again: check the workers' memory and logs, then --resume the run"
        )
        answer.set_result(
            StageResult(stage, error=StageFailedError(message, stage=stage, ename=name))
        )
        return
    answer.set_exception(error)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return f"external/{path.name}"


def _shipped_parameters(task: StageTask, root: Path) -> StageTask:
    """The task whose parameters naming project files name them inside the project copy."""
    parameters = {}
    for key, value in task.parameters.items():
        path = _existing_file(value, root)
        parameters[key] = f"{EXTERNAL_MARK}{_relative(path, root)}" if path else value
    return replace(task, parameters=parameters)


def _existing_file(value: Any, root: Path) -> Path | None:
    """The file a parameter names (a path, absolute or relative to the project), if any."""
    if not isinstance(value, str) or not value or "://" in value:
        return None
    if ":" in value and not Path(value).is_absolute():  # a source such as sample:churn
        return None
    candidate = Path(value) if Path(value).is_absolute() else root / value
    try:
        return candidate if candidate.is_file() else None
    except OSError:
        return None


def _publish_project(
    settings: Settings, location: Any, tasks: Sequence[StageTask]
) -> dict[str, str]:
    """Publish what the stages read from the project: relative path → SHA-256."""
    root = Path(settings.root)
    files = {root / "pipeline.yaml"}
    files |= {Path(task.notebook) for task in tasks}
    contracts = root / "contracts"
    if contracts.is_dir():
        files |= {path for path in contracts.rglob("*") if path.is_file()}
    for task in tasks:
        for value in task.parameters.values():
            path = _existing_file(value, root)
            if path is not None:
                files.add(path)
    return {_relative(path, root): location.put(path) for path in sorted(files) if path.is_file()}
