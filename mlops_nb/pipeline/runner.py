"""How a pipeline runs: papermill executes each stage's template in a fresh kernel.

The runner never edits a template: papermill writes the executed copy, with the
injected parameters, into the stage's folder of a new run (see
:mod:`mlops_nb.pipeline.archive`). Every state change rewrites ``run.json`` and
``index.html`` atomically, so a run folder can be read at any moment.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlops_nb.artifacts import write_json
from mlops_nb.config import Settings
from mlops_nb.errors import MlopsNbError, ParameterError, RunError, StageFailedError
from mlops_nb.pipeline import archive, report
from mlops_nb.pipeline.environment import environment, git_state
from mlops_nb.pipeline.kernels import FORK_SERVER_LOG, KERNEL_LOG, KernelPool, StageKernel
from mlops_nb.pipeline.notebook import STAGE_DIR_PARAM
from mlops_nb.pipeline.spec import PipelineSpec, ResolvedParams, StageSpec, load_project
from mlops_nb.pipeline.tracked import track_stage
from mlops_nb.stage import MANIFEST, RESERVED_RUN_FIELDS

log = logging.getLogger(__name__)
EXECUTED = "executed.ipynb"
# papermill only warns about unknown parameters and comments it cannot parse; the spec
# has already refused unknown names, so its warnings would only be noise.
logging.getLogger("papermill").setLevel(logging.ERROR)


class RunObserver(Protocol):
    """Told of progress; the CLI draws it, tests may record it."""

    def run_started(self, record: dict[str, Any]) -> None: ...
    def stage_started(self, stage: dict[str, Any], index: int, total: int) -> None: ...
    def stage_finished(self, stage: dict[str, Any], index: int, total: int) -> None: ...


class _Silent:
    def run_started(self, record: dict[str, Any]) -> None:
        pass

    def stage_started(self, stage: dict[str, Any], index: int, total: int) -> None:
        pass

    def stage_finished(self, stage: dict[str, Any], index: int, total: int) -> None:
        pass


@dataclass(frozen=True)
class RunPlan:
    """A checked run, ready to execute: nothing has been created yet."""

    pipeline: PipelineSpec
    stages: list[StageSpec]
    params: ResolvedParams
    until: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    trigger: dict[str, Any] | None = None


def plan_run(
    settings: Settings,
    pipeline: str | None = None,
    overrides: dict[str, str] | None = None,
    until: str | None = None,
    trigger: dict[str, Any] | None = None,
) -> RunPlan:
    """Load pipeline.yaml and check the request completely, before any kernel starts.

    ``trigger`` records why the run was started when another run started it
    (e.g. ``{"run": MONITOR_RUN, "stage": "retrain", "decision": "drift"}``);
    it is kept as ``trigger`` in run.json.
    """
    project = load_project(settings.pipeline_file)
    spec = project.pipeline(pipeline)
    stages = spec.select(until)
    resolved = spec.resolve(overrides)
    _preflight(settings, spec, resolved)
    return RunPlan(spec, stages, resolved, until, dict(overrides or {}), trigger)


def _preflight(settings: Settings, spec: PipelineSpec, resolved: ResolvedParams) -> None:
    """Check values that name files or data sources, so typos fail fast."""
    for name, param in spec.param_specs().items():
        value = resolved.values.get(name)
        if value is None:
            continue
        if param.type == "source":
            from mlops_nb.data import check_source

            try:
                check_source(value, base_dir=settings.root)
            except MlopsNbError as exc:
                raise ParameterError(f"parameter '{name}': {exc.message}", param=name) from None
        elif param.type == "path" and not (settings.root / value).exists():
            raise ParameterError(
                f"parameter '{name}': {value} does not exist (looked in {settings.root / value})",
                param=name,
            )


class Runner:
    """Executes a :class:`RunPlan` into a new run folder."""

    def __init__(
        self,
        settings: Settings,
        observer: RunObserver | None = None,
        kernel_name: str = "python3",
        start_timeout: float = 120,
        fork: bool | None = None,
        preload: list[str] | None = None,
    ) -> None:
        """Set up a runner.

        ``fork`` forks each stage's kernel from a fork server that has already
        imported ``preload`` (None: ``MLOPS_NB_FORK``, on by default; see
        :mod:`mlops_nb.pipeline.kernels`); ``preload`` None reads
        ``MLOPS_NB_PRELOAD`` or derives the list from the templates' imports.
        """
        self.settings = settings
        self.observer = observer or _Silent()
        self.kernel_name = kernel_name
        self.start_timeout = start_timeout
        self.fork = fork
        self.preload = preload
        self._kernels: KernelPool | None = None

    def run(self, plan: RunPlan) -> dict[str, Any]:
        """Execute every stage of ``plan``; return the final run record.

        Raises :class:`StageFailedError` (after recording the failure) when a
        stage fails; ``KeyboardInterrupt`` marks the run interrupted.
        """
        run_dir, record = self._start(plan)
        total = len(plan.stages)
        try:
            self._kernels = self._open_kernels(plan, run_dir)
            for index, stage in enumerate(plan.stages):
                self._run_stage(run_dir, record, stage, plan.params, index, total)
        except StageFailedError as exc:
            self._finish(run_dir, record, "failed", error=exc)
            raise
        except KeyboardInterrupt:
            self._finish(run_dir, record, "interrupted")
            raise
        except BaseException as exc:
            self._finish(run_dir, record, "failed", error=exc)
            raise
        finally:
            if self._kernels is not None:
                self._kernels.close()  # the fork server and any kernel left
                self._kernels = None
        self._finish(run_dir, record, "succeeded")
        return record

    def _open_kernels(self, plan: RunPlan, run_dir: Path) -> KernelPool:
        return KernelPool.open(
            [stage.notebook for stage in plan.stages],
            cwd=self.settings.root,
            kernel_name=self.kernel_name,
            start_timeout=self.start_timeout,
            fork=self.fork,
            preload=self.preload,
            log_path=run_dir / FORK_SERVER_LOG,
        )

    def _start(self, plan: RunPlan) -> tuple[Path, dict[str, Any]]:
        run_id = archive.new_run_id()
        run_dir = self.settings.runs_dir / run_id
        run_dir.mkdir(parents=True)
        record = _new_record(run_id, run_dir, plan, self.settings)
        self._save(run_dir, record)
        self.observer.run_started(record)
        return run_dir, record

    def _run_stage(
        self,
        run_dir: Path,
        record: dict[str, Any],
        stage: StageSpec,
        params: ResolvedParams,
        index: int,
        total: int,
    ) -> None:
        entry = record["stages"][index]
        stage_dir = run_dir / entry["dir"]
        stage_dir.mkdir()
        entry.update(status="running", started_at=archive.utc_now())
        self._save(run_dir, record)
        self.observer.stage_started(entry, index, total)
        started = time.perf_counter()
        timing: dict[str, Any] = {"kernel_seconds": None, "execute_seconds": None}
        try:
            self._execute(stage, stage_dir, params.per_stage[stage.name], timing)
            entry["status"] = "succeeded"
        except StageFailedError as exc:
            entry.update(status="failed", error=_error_dict(exc))
            raise
        except KeyboardInterrupt:
            entry["status"] = "interrupted"
            raise
        finally:
            entry["seconds"] = round(time.perf_counter() - started, 3)
            entry.update(timing)  # waiting for the kernel vs running the cells
            _collect_stage(stage_dir, entry, record)
            self._save(run_dir, record)
            track_stage(self.settings, record, entry, stage_dir)
            self.observer.stage_finished(entry, index, total)

    def _execute(
        self,
        stage: StageSpec,
        stage_dir: Path,
        params: dict[str, Any],
        timing: dict[str, Any] | None = None,
    ) -> None:
        import papermill
        from papermill.exceptions import PapermillExecutionError

        output = stage_dir / EXECUTED
        kernels = self._kernels or KernelPool(self.kernel_name, self.start_timeout)
        kernel = kernels.kernel(stage_dir)

        def execute(km: Any, start_timeout: float, hooks: dict[str, Any]) -> None:
            papermill.execute_notebook(
                str(stage.notebook),
                str(output),
                parameters={**params, STAGE_DIR_PARAM: str(stage_dir)},
                kernel_name=self.kernel_name,
                progress_bar=False,
                log_output=False,
                km=km,
                cwd=str(self.settings.root),
                start_timeout=start_timeout,
                **hooks,
            )

        try:
            kernel.run(execute)
        except PapermillExecutionError as exc:
            raise _stage_failure(stage.name, exc, output) from None
        except (KeyboardInterrupt, MlopsNbError):
            raise
        except Exception as exc:  # kernel death, missing kernel, timeouts
            raise _kernel_failure(stage.name, exc, output, kernel) from exc
        finally:
            if timing is not None:
                timing.update(kernel.timing())
            if output.is_file():
                report.export_html(output, stage_dir / report.STAGE_REPORT)

    def _finish(
        self,
        run_dir: Path,
        record: dict[str, Any],
        status: str,
        error: BaseException | None = None,
    ) -> None:
        for entry in record["stages"]:
            if entry["status"] == "pending":
                entry["status"] = "skipped"
        record.update(status=status, finished_at=archive.utc_now())
        record["seconds"] = round(sum(s["seconds"] or 0 for s in record["stages"]), 3)
        if error is not None:
            record["error"] = _error_dict(error)
        self._save(run_dir, record)

    def _save(self, run_dir: Path, record: dict[str, Any]) -> None:
        write_json(run_dir / archive.RUN_FILE, record)
        report.write_index(run_dir, record)


def _new_record(run_id: str, run_dir: Path, plan: RunPlan, settings: Settings) -> dict[str, Any]:
    width = max(2, len(str(len(plan.stages))))
    stages = [
        {
            "name": stage.name,
            "notebook": os.path.relpath(stage.notebook, settings.root),
            "dir": f"{index:0{width}d}_{stage.name}",
            "status": "pending",
            "seconds": None,
            "cached": False,
            "started_at": None,
            "params": plan.params.per_stage[stage.name],
            "metrics": {},
            "artifacts": {},
            "executed": None,
            "report": None,
            "error": None,
        }
        for index, stage in enumerate(plan.stages, start=1)
    ]
    return {
        "schema": archive.SCHEMA_VERSION,
        "id": run_id,
        "pipeline": plan.pipeline.name,
        "status": "running",
        "started_at": archive.utc_now(),
        "finished_at": None,
        "seconds": None,
        "until": plan.until,
        "overrides": plan.overrides,
        "trigger": plan.trigger,
        "params": plan.params.values,
        "stages": stages,
        "metrics": {},
        "data_versions": {},
        "git": git_state(settings.root),
        "environment": environment(),
        "run_dir": str(run_dir),
        "project": str(settings.root),
        "error": None,
        "pid": os.getpid(),
        "pid_started": archive.process_start_time(os.getpid()),
        "host": socket.gethostname(),
    }


def _collect_stage(stage_dir: Path, entry: dict[str, Any], record: dict[str, Any]) -> None:
    """Copy what the stage logged (metrics, data versions, artifacts) into the record."""
    if (stage_dir / EXECUTED).is_file():
        entry["executed"] = f"{entry['dir']}/{EXECUTED}"
    if (stage_dir / report.STAGE_REPORT).is_file():
        entry["report"] = f"{entry['dir']}/{report.STAGE_REPORT}"
    try:
        manifest = json.loads((stage_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return
    entry["metrics"] = manifest.get("metrics", {})
    entry["artifacts"] = manifest.get("artifacts", {})
    entry["notes"] = manifest.get("notes", {})
    for key, value in manifest.get("outcome", {}).items():
        if key not in RESERVED_RUN_FIELDS:
            record[key] = value
    for key, value in entry["metrics"].items():
        record["metrics"][f"{entry['name']}.{key}"] = value
    for key, value in manifest.get("data_versions", {}).items():
        record["data_versions"][key] = value


def _stage_failure(stage: str, exc: Any, notebook: Path) -> StageFailedError:
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
    stage: str, exc: Exception, notebook: Path, kernel: StageKernel | None = None
) -> StageFailedError:
    name = type(exc).__name__
    death = kernel.describe_death() if kernel is not None else None
    cell = kernel.cell["count"] if kernel is not None and kernel.cell else None
    hints = {
        "NoSuchKernel": "install a Jupyter kernel into this environment: "
        "python -m ipykernel install --sys-prefix",
        "DeadKernelError": "the kernel died (out of memory or killed); reduce the data or "
        "free memory and run again",
        "CellTimeoutError": "a cell ran past its time limit",
    }
    hint = hints.get(name, "see the executed notebook")
    message = (
        f"stage '{stage}' could not be executed: {name}: {exc}\n"
        + (f"{death}\n" if death else "")
        + f"{hint}\nexecuted notebook: {notebook}\n"
        f"kernel log: {notebook.parent / KERNEL_LOG}"
    )
    return StageFailedError(
        message, stage=stage, cell=cell, ename=name, evalue=str(exc), notebook=notebook
    )


def _error_dict(error: BaseException) -> dict[str, Any]:
    if isinstance(error, MlopsNbError):
        where = {k: str(v) if isinstance(v, Path) else v for k, v in error.where.items()}
        return {"type": type(error).__name__, "message": error.message, **where}
    return {"type": type(error).__name__, "message": str(error)}


def run_pipeline(
    settings: Settings,
    pipeline: str | None = None,
    overrides: dict[str, str] | None = None,
    until: str | None = None,
    observer: RunObserver | None = None,
    trigger: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Plan and execute a pipeline run; the convenience entry point for Python callers."""
    plan = plan_run(settings, pipeline, overrides, until, trigger)
    return Runner(settings, observer).run(plan)


__all__ = ["RunError", "RunObserver", "RunPlan", "Runner", "plan_run", "run_pipeline"]
