"""How a pipeline runs: papermill executes each stage's template in a fresh kernel.

The runner never edits a template: papermill writes the executed copy, with the
injected parameters, into the stage's folder of a new run (see
:mod:`mlops_nb.pipeline.archive`). Every state change rewrites ``run.json`` and
``index.html`` atomically, so a run folder can be read at any moment.

A *development* run (``Runner(dev=True)``, ``mlops-nb run --dev``) executes the
stages into the development folder instead, ``outputs/dev/<stage>/``, the folders
a template run by hand reads and writes: it is no archived run (its run.json sits
in ``outputs/dev/``, with the id ``dev``), may reuse cached results but never
offers its own to the cache (hand runs rewrite those folders), and records no
stage in the tracking store, just as a template run by hand does not.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlops_nb.artifacts import write_json
from mlops_nb.config import Settings
from mlops_nb.errors import MlopsNbError, ParameterError, RunError, StageFailedError
from mlops_nb.pipeline import archive, report
from mlops_nb.pipeline.cache import CacheIndex, Fingerprint, fingerprint, link_tree
from mlops_nb.pipeline.environment import environment, git_state
from mlops_nb.pipeline.kernels import FORK_SERVER_LOG, KERNEL_LOG, KernelPool, StageKernel
from mlops_nb.pipeline.notebook import STAGE_DIR_PARAM
from mlops_nb.pipeline.spec import PipelineSpec, ResolvedParams, StageSpec, load_project
from mlops_nb.pipeline.tracked import track_stage
from mlops_nb.stage import MANIFEST, RESERVED_RUN_FIELDS

log = logging.getLogger(__name__)
EXECUTED = "executed.ipynb"
DEV_RUN_ID = "dev"
"""The id of a development run (it is the development folder's name, and Stage's run_id)."""
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
        cache: bool = True,
        force: Iterable[str] = (),
        jobs: int = 1,
        dev: bool = False,
    ) -> None:
        """Set up a runner.

        ``fork`` forks each stage's kernel from a fork server that has already
        imported ``preload`` (None: ``MLOPS_NB_FORK``, on by default; see
        :mod:`mlops_nb.pipeline.kernels`); ``preload`` None reads
        ``MLOPS_NB_PRELOAD`` or derives the list from the templates' imports.

        ``cache`` reuses the result of a stage whose fingerprint matches an
        earlier one (see :mod:`mlops_nb.pipeline.cache`); ``force`` names
        stages to execute even so. ``jobs`` runs up to that many stages at once
        where the DAG allows it. ``dev`` runs into the development folder (see
        the module's documentation).
        """
        if jobs < 1:
            raise ParameterError(f"--jobs must be at least 1, got {jobs}", param="jobs")
        self.settings = settings
        self.observer = observer or _Silent()
        self.kernel_name = kernel_name
        self.start_timeout = start_timeout
        self.fork = fork
        self.preload = preload
        self.cache = cache
        self.force = frozenset(force)
        self.jobs = jobs
        self.dev = dev
        self._kernels: KernelPool | None = None
        self._plan: RunPlan | None = None
        self._lock = threading.RLock()
        self._interrupted = threading.Event()
        self._resume: dict[str, Any] | None = None

    def run(self, plan: RunPlan, resume: dict[str, Any] | None = None) -> dict[str, Any]:
        """Execute every stage of ``plan``; return the final run record.

        With ``resume`` (the record of an earlier run of the same plan), its
        succeeded stages whose fingerprint still matches are reused, even with
        the cache off, and the new run records ``resumed_from``.

        Raises :class:`StageFailedError` (after recording the failure) when a
        stage fails; ``KeyboardInterrupt`` marks the run interrupted.
        """
        if self.dev and resume is not None:
            raise ParameterError(
                "a development run cannot resume an archived run: use --resume or --dev, not both",
                param="dev",
            )
        unknown = sorted(self.force - {stage.name for stage in plan.stages})
        if unknown:
            raise ParameterError(
                f"--force {', '.join(unknown)}: no such stage in this run; its stages are: "
                f"{', '.join(stage.name for stage in plan.stages)}",
                param="force",
            )
        self._plan, self._resume = plan, resume
        run_dir, record = self._start(plan)
        if resume is not None:
            record["resumed_from"] = resume["id"]
        try:
            self._schedule(run_dir, record, plan)
        except StageFailedError as exc:
            self._finish(run_dir, record, "failed", error=exc)
            raise
        except KeyboardInterrupt:
            self._interrupted.set()
            self._finish(run_dir, record, "interrupted")
            raise
        except BaseException as exc:
            self._finish(run_dir, record, "failed", error=exc)
            raise
        finally:
            self._close_kernels()
        self._finish(run_dir, record, "succeeded")
        return record

    def _schedule(self, run_dir: Path, record: dict[str, Any], plan: RunPlan) -> None:
        """Run the stages in order, or up to ``jobs`` at once where the DAG allows."""
        total = len(plan.stages)
        if self.jobs == 1:
            for index, stage in enumerate(plan.stages):
                self._run_stage(run_dir, record, stage, plan.params, index, total)
            return
        index_of = {stage.name: i for i, stage in enumerate(plan.stages)}
        waiting = list(plan.stages)
        done: set[str] = set()
        failure: BaseException | None = None
        with ThreadPoolExecutor(self.jobs, thread_name_prefix="stage") as pool:
            running: dict[Future[None], StageSpec] = {}
            try:
                while waiting or running:
                    ready = [s for s in waiting if set(s.needs) <= done]
                    while failure is None and ready and len(running) < self.jobs:
                        stage = ready.pop(0)
                        waiting.remove(stage)
                        args = (run_dir, record, stage, plan.params, index_of[stage.name], total)
                        running[pool.submit(self._run_stage, *args)] = stage
                    if not running:
                        break
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        stage = running.pop(future)
                        error = future.exception()
                        if error is None:
                            done.add(stage.name)
                        elif failure is None:
                            failure = error
            except KeyboardInterrupt:
                self._interrupted.set()
                self._close_kernels()  # running stages end as their kernels go
                raise
        if failure is not None:
            raise failure

    def _kernel_pool(self) -> KernelPool:
        """The run's kernel pool, opened when the first stage has to execute."""
        with self._lock:
            if self._kernels is None:
                assert self._plan is not None
                stages = self._plan.stages
                run_dir = self._run_dir
                _skip_iri_grammars()
                report.warm_up()  # nbconvert's import overlaps the first stage
                self._kernels = KernelPool.open(
                    [stage.notebook for stage in stages],
                    cwd=self.settings.root,
                    kernel_name=self.kernel_name,
                    start_timeout=self.start_timeout,
                    fork=self.fork,
                    preload=self.preload,
                    log_path=run_dir / FORK_SERVER_LOG,
                )
            return self._kernels

    def _close_kernels(self) -> None:
        with self._lock:
            kernels, self._kernels = self._kernels, None
        if kernels is not None:
            kernels.close()  # the fork server and any kernel left

    def _start(self, plan: RunPlan) -> tuple[Path, dict[str, Any]]:
        if self.dev:
            run_id, run_dir = DEV_RUN_ID, self.settings.dev_dir
            run_dir.mkdir(parents=True, exist_ok=True)
        else:
            run_id = archive.new_run_id()
            run_dir = self.settings.runs_dir / run_id
            run_dir.mkdir(parents=True)
        self._run_id, self._run_dir = run_id, run_dir
        record = _new_record(run_id, run_dir, plan, self.settings, dev=self.dev)
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
        with self._lock:
            entry.update(status="running", started_at=archive.utc_now())
            self.observer.stage_started(entry, index, total)
        started = time.perf_counter()
        timing: dict[str, Any] = {"kernel_seconds": None, "execute_seconds": None}
        try:
            fprint = self._fingerprint(run_dir, record, stage, params.per_stage[stage.name])
            entry["fingerprint"] = fprint.digest
            if fprint.reason:
                entry["cache_note"] = f"not cacheable: {fprint.reason}"
            source = self._reusable(stage, fprint)
            if source is not None:
                link_tree(source, stage_dir)
                entry.update(status="succeeded", cached=True, cached_from=source.parent.name)
            else:
                self._save(run_dir, record)  # run.json says "running" only for stages that execute
                if self.dev and stage_dir.exists():
                    shutil.rmtree(stage_dir)  # as a template run by hand starts afresh
                stage_dir.mkdir()
                self._execute(stage, stage_dir, params.per_stage[stage.name], timing)
                entry["status"] = "succeeded"
                if fprint.digest is not None and not self.dev:
                    CacheIndex(self.settings).store(fprint.digest, self._run_id, entry["dir"])
        except StageFailedError as exc:
            interrupted = self._interrupted.is_set()
            entry.update(status="interrupted" if interrupted else "failed", error=_error_dict(exc))
            raise KeyboardInterrupt if interrupted else exc from None
        except KeyboardInterrupt:
            entry["status"] = "interrupted"
            raise
        except BaseException as exc:
            entry.update(status="failed", error=_error_dict(exc))
            raise
        finally:
            with self._lock:
                entry["seconds"] = round(time.perf_counter() - started, 3)
                if not entry["cached"]:
                    entry.update(timing)  # waiting for the kernel vs running the cells
                _collect_stage(stage_dir, entry, record)
                self._save(run_dir, record)
                if stage_dir.is_dir() and not self.dev:
                    track_stage(self.settings, record, entry, stage_dir)
                self.observer.stage_finished(entry, index, total)

    def _fingerprint(
        self, run_dir: Path, record: dict[str, Any], stage: StageSpec, params: dict[str, Any]
    ) -> Fingerprint:
        """The stage's fingerprint over its code, params, files and every ancestor's outputs."""
        assert self._plan is not None
        pipeline = self._plan.pipeline
        ancestors = pipeline.ancestors(stage.name) - {stage.name}
        dirs = {entry["name"]: entry["dir"] for entry in record["stages"]}
        upstream = {}
        for name in sorted(ancestors):
            manifest = run_dir / dirs.get(name, "") / MANIFEST
            upstream[name] = json.loads(manifest.read_text()) if manifest.is_file() else {}
        return fingerprint(stage, params, pipeline.param_specs(), upstream, self.settings.root)

    def _reusable(self, stage: StageSpec, fprint: Fingerprint) -> Path | None:
        """An earlier stage folder holding this stage's result, if it may be reused."""
        if fprint.digest is None or stage.name in self.force:
            return None
        if self._resume is not None:
            old = next((s for s in self._resume["stages"] if s["name"] == stage.name), None)
            if old and old["status"] == "succeeded" and old.get("fingerprint") == fprint.digest:
                folder = Path(self._resume["run_dir"]) / old["dir"]
                if (folder / MANIFEST).is_file():
                    return folder
        if not self.cache:
            return None
        return CacheIndex(self.settings).lookup(fprint.digest)

    def _execute(
        self,
        stage: StageSpec,
        stage_dir: Path,
        params: dict[str, Any],
        timing: dict[str, Any] | None = None,
    ) -> None:
        pool = self._kernel_pool()  # first: the fork server preloads while papermill imports
        import papermill
        from papermill.exceptions import PapermillExecutionError

        output = stage_dir / EXECUTED
        kernel = pool.kernel(stage_dir)

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
            elif entry["status"] == "running":  # a parallel stage cut short
                entry["status"] = "interrupted" if status == "interrupted" else "failed"
        record.update(status=status, finished_at=archive.utc_now())
        record["seconds"] = round(sum(s["seconds"] or 0 for s in record["stages"]), 3)
        if error is not None:
            record["error"] = _error_dict(error)
        self._save(run_dir, record)

    def _save(self, run_dir: Path, record: dict[str, Any]) -> None:
        with self._lock:
            write_json(run_dir / archive.RUN_FILE, record)
            report.write_index(run_dir, record)


def _skip_iri_grammars() -> None:
    """Keep jsonschema from loading its optional ``rfc3987_syntax`` format checker.

    papermill imports nbformat, whose validator imports jsonschema, which builds
    38 parser grammars for IRI formats (about a second) if that package is
    installed; notebook schemas use no IRI format. Marking the module missing
    before jsonschema is imported makes jsonschema skip it; it changes nothing
    if jsonschema is already loaded.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def stage_dirs(stages: list[StageSpec], *, dev: bool = False) -> list[str]:
    """The folder of each stage in a run: ``01_ingest``, ``02_validate`` ...

    In the development folder a stage's folder is its bare name (``ingest``), as
    a template run by hand names it.
    """
    if dev:
        return [stage.name for stage in stages]
    width = max(2, len(str(len(stages))))
    return [f"{index:0{width}d}_{stage.name}" for index, stage in enumerate(stages, start=1)]


def _new_record(
    run_id: str, run_dir: Path, plan: RunPlan, settings: Settings, *, dev: bool = False
) -> dict[str, Any]:
    stages = [
        {
            "name": stage.name,
            "notebook": os.path.relpath(stage.notebook, settings.root),
            "dir": folder,
            "status": "pending",
            "seconds": None,
            "cached": False,
            "cached_from": None,
            "fingerprint": None,
            "kernel_seconds": None,
            "execute_seconds": None,
            "started_at": None,
            "params": plan.params.per_stage[stage.name],
            "metrics": {},
            "artifacts": {},
            "executed": None,
            "report": None,
            "error": None,
        }
        for stage, folder in zip(plan.stages, stage_dirs(plan.stages, dev=dev), strict=True)
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
        "partial": len(plan.stages) < len(plan.pipeline.stages),
        "dev": dev,
        "overrides": plan.overrides,
        "trigger": plan.trigger,
        "resumed_from": None,
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
