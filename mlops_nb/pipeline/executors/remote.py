"""What runs on a Dask worker: one stage, executed with papermill in a fresh kernel.

Imported by the workers (mlops-nb and its ``dask`` extra must be installed
there) and by the Dask executor; it never imports the client side. A worker
keeps a :class:`KernelsPlugin`, which holds a kernel pool whose fork server has
already imported what the templates import, so a stage's kernel starts in a
fraction of a second there too.

Two ways for a worker to reach a run's files, chosen by the client:

* **published** (the project has an artifact location that publishes, see
  :mod:`mlops_nb.store.files`): the worker works in its own folder. It fetches
  the project's files (pipeline.yaml, templates, contracts, data files named by
  parameters) and the run's finished stage folders, each file verified, executes
  the stage there, and publishes the stage folder; the result carries its
  manifest. Nothing but the store and the artifact location is shared.
* **shared**: the worker sees the client's project and outputs folders at the
  same paths (a cluster on one machine, or a shared filesystem) and executes the
  stage in place.
"""

from __future__ import annotations

import ctypes
import shutil
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from mlops_nb.config import ARTIFACTS_ENV, OUTPUTS_ENV, PROJECT_ENV, STORE_ENV
from mlops_nb.errors import RunError
from mlops_nb.pipeline.executors import StageResult, StageTask
from mlops_nb.pipeline.executors.execution import execute_task, import_papermill
from mlops_nb.pipeline.kernels.pool import KernelPool
from mlops_nb.store.files import ArtifactLocation

__all__ = ["PLUGIN", "KernelsPlugin", "RemoteStage", "interrupt_run", "run_stage"]

PLUGIN = "mlops-nb-kernels"
SCHEDULER_ENV = "MLOPS_NB_DASK_SCHEDULER"


@dataclass(frozen=True)
class RemoteStage:
    """A stage as a worker receives it.

    Attributes:
        task: The stage as the runner built it (the client's paths).
        published: Whether the worker fetches and publishes (else: shared paths).
        store: The store URL the stage's kernel uses.
        artifacts: The artifact location's URL.
        project: The project's files, relative path → SHA-256 (published mode).
        inputs: The run's finished stage folders' files, relative to the run folder.
        notebook: The template's path relative to the project.
        stage_folder: The stage folder's name in the run (``05_train``).
        scheduler: The scheduler's address, for searches run on the cluster.
    """

    task: StageTask
    published: bool
    store: str | None
    artifacts: str | None
    project: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    notebook: str = ""
    stage_folder: str = ""
    scheduler: str = ""


class KernelsPlugin(WorkerPlugin):
    """A Dask worker plugin holding the worker's kernel pool (opened on the first stage)."""

    name = PLUGIN

    def __init__(self, fork: bool | None = None, preload: list[str] | None = None) -> None:
        super().__init__()
        self.fork = fork
        self.preload = preload
        self.workspace = Path(".")

    def setup(self, worker: Any) -> None:
        """On the worker: the state that is never pickled (a lock, the pool, running stages)."""
        self._pool: KernelPool | None = None
        self._lock = threading.Lock()
        self._running: dict[str, set[int]] = {}
        self.workspace = Path(worker.local_directory) / "mlops-nb"
        self.workspace.mkdir(parents=True, exist_ok=True)

    def teardown(self, worker: Any) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def pool(self, task: StageTask) -> KernelPool:
        """The worker's kernel pool, opened with the first stage's template."""
        with self._lock:
            if self._pool is None:
                self._pool = KernelPool.open(
                    [Path(task.notebook)],
                    cwd=Path(task.cwd),
                    kernel_name=task.kernel_name,
                    start_timeout=task.start_timeout,
                    fork=self.fork,
                    preload=self.preload,
                    log_path=self.workspace / "fork-server.log",
                )
                import_papermill()
            return self._pool

    def started(self, run_id: str) -> None:
        with self._lock:
            self._running.setdefault(run_id, set()).add(threading.get_ident())

    def ended(self, run_id: str) -> None:
        with self._lock:
            self._running.get(run_id, set()).discard(threading.get_ident())

    def interrupt(self, run_id: str) -> int:
        """Raise KeyboardInterrupt in the threads running stages of ``run_id``."""
        with self._lock:
            threads = list(self._running.get(run_id, ()))
        for ident in threads:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(ident), ctypes.py_object(KeyboardInterrupt)
            )
        return len(threads)


def run_stage(remote: RemoteStage) -> StageResult:
    """Execute one stage on this worker (the Dask task of a stage)."""
    from distributed import get_worker, rejoin, secede

    worker = get_worker()
    plugin = worker.plugins.get(PLUGIN)
    if not isinstance(plugin, KernelsPlugin):
        raise RunError(
            f"the Dask worker {worker.address} has no {PLUGIN} plugin: stages run on workers "
            f"of a DaskExecutor, which registers it"
        )
    task = _localize(remote, plugin) if remote.published else _in_place(remote)
    plugin.started(task.run_id)
    # the stage mostly waits for its kernel: its thread may serve other tasks
    secede()
    try:
        result = execute_task(task, plugin.pool(task))
    finally:
        plugin.ended(task.run_id)
        rejoin()
    files: dict[str, str] = {}
    if remote.published:
        location = ArtifactLocation(str(remote.artifacts), plugin.workspace / "outputs")
        files = location.put_folder(Path(task.stage_dir))
    return replace(result, worker=str(worker.address), files=files)


def interrupt_run(run_id: str, dask_worker: Any = None) -> int:
    """Interrupt this worker's stages of ``run_id`` (called on every worker by the client)."""
    plugin = (dask_worker.plugins if dask_worker is not None else {}).get(PLUGIN)
    return plugin.interrupt(run_id) if plugin is not None else 0


def _environment(remote: RemoteStage, project: Path, outputs: Path) -> dict[str, str]:
    """The kernel's variables: the task's own, then where this worker finds the project."""
    environment = {**remote.task.environment, PROJECT_ENV: str(project), OUTPUTS_ENV: str(outputs)}
    if remote.store:
        environment[STORE_ENV] = remote.store
    if remote.artifacts:
        environment[ARTIFACTS_ENV] = remote.artifacts
    if remote.scheduler:
        environment[SCHEDULER_ENV] = remote.scheduler
    return environment


def _in_place(remote: RemoteStage) -> StageTask:
    task = remote.task
    outputs = Path(task.run_dir).parent.parent
    return replace(task, environment=_environment(remote, Path(task.cwd), outputs))


def _localize(remote: RemoteStage, plugin: KernelsPlugin) -> StageTask:
    """The task with this worker's paths: project and run inputs fetched, verified."""
    task = remote.task
    outputs = plugin.workspace / "outputs"
    location = ArtifactLocation(str(remote.artifacts), outputs)
    project = plugin.workspace / "projects" / _digest(remote.project)
    location.fetch_folder(remote.project, project)
    run_dir = outputs / "runs" / task.run_id
    location.fetch_folder(remote.inputs, run_dir)
    stage_dir = run_dir / remote.stage_folder
    if stage_dir.exists():
        shutil.rmtree(stage_dir)  # a stage tried before on this worker starts afresh
    stage_dir.mkdir(parents=True)
    parameters = {
        key: _local_value(value, remote, project) for key, value in task.parameters.items()
    }
    parameters["stage_dir"] = str(stage_dir)
    return replace(
        task,
        notebook=str(project / remote.notebook),
        run_dir=str(run_dir),
        stage_dir=str(stage_dir),
        cwd=str(project),
        parameters=parameters,
        environment=_environment(remote, project, outputs),
    )


def _local_value(value: Any, remote: RemoteStage, project: Path) -> Any:
    """A parameter naming a shipped file, as its path in this worker's project copy."""
    if isinstance(value, str) and value.startswith(EXTERNAL_MARK):
        return str(project / value[len(EXTERNAL_MARK) :])
    return value


EXTERNAL_MARK = "mlops-nb-project:"
"""Prefix of a parameter that names a shipped file by its path inside the project copy."""


def _digest(files: dict[str, str]) -> str:
    import hashlib

    text = "\n".join(f"{name} {sha}" for name, sha in sorted(files.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
