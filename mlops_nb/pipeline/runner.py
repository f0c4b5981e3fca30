"""How a pipeline runs: each stage, once what it needs has succeeded, reused or executed.

The runner keeps the DAG, the cache and resume (a stage whose fingerprint matches
an earlier result reuses it), the run folder and its record, the observers and
the tracking store. A stage that has to execute is handed, as a
:class:`~mlops_nb.pipeline.executors.StageTask`, to an executor
(:mod:`mlops_nb.pipeline.executors`; by default papermill in a fresh kernel on
this machine); the runner knows nothing of kernels or papermill.

The runner never edits a template: the executor writes the executed copy, with
the injected parameters, into the stage's folder of a new run (see
:mod:`mlops_nb.pipeline.archive`). Every state change rewrites ``run.json`` and
``index.html`` atomically, so a run folder can be read at any moment.

A *development* run (``Runner(dev=True)``, ``mlops-nb run --dev``) executes the
stages into the development folder instead, ``outputs/dev/<stage>/``, the folders
a template run by hand reads and writes: it is no archived run (its run.json sits
in ``outputs/dev/``, with the id ``dev``), may reuse cached results but never
offers its own to the cache (hand runs rewrite those folders), and records no
stage in the tracking store, just as a template run by hand does not.

The module is one idea at about 500 lines: the state of one run (its record, the
stages ready and running, their futures) and the short methods that move it.
What is not that state lives elsewhere: the DAG (:mod:`mlops_nb.dag`), the cache
(:mod:`~mlops_nb.pipeline.cache`), the archive, the reports and the executors.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, CancelledError, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mlops_nb.artifacts import write_json
from mlops_nb.config import Settings
from mlops_nb.dag import ReadyStages
from mlops_nb.environment import git_state, run_environment
from mlops_nb.errors import MlopsNbError, ParameterError, RunError, StageFailedError
from mlops_nb.faults import crash_point
from mlops_nb.ids import pipeline_run_id
from mlops_nb.pipeline import archive, report
from mlops_nb.pipeline.cache import CacheIndex, Fingerprint, fingerprint, link_tree
from mlops_nb.pipeline.executors import EXECUTED, Executor, StageResult, StageTask
from mlops_nb.pipeline.executors.local import LocalExecutor
from mlops_nb.pipeline.kernels.specs import NATIVE_KERNEL
from mlops_nb.pipeline.notebook import STAGE_DIR_PARAM
from mlops_nb.pipeline.spec import ResolvedParams, RunPlan, StageSpec, plan_run
from mlops_nb.pipeline.stage_report import STAGE_REPORT
from mlops_nb.pipeline.tracked import track_stage
from mlops_nb.stage import MANIFEST, RESERVED_RUN_FIELDS
from mlops_nb.store.runs import RunIndex

DEV_RUN_ID = "dev"
"""The id of a development run (it is the development folder's name, and Stage's run_id)."""


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


@dataclass
class _Attempt:
    """One stage of the run being reused or executed."""

    stage: StageSpec
    index: int
    entry: dict[str, Any]
    stage_dir: Path
    started: float
    fingerprint: Fingerprint | None = None


@dataclass
class _Progress:
    """Where the run is: stages that may start, stages running, the first failure."""

    ready: ReadyStages
    running: dict[Future[StageResult], _Attempt] = field(default_factory=dict)
    failure: BaseException | None = None


class Runner:
    """Executes a :class:`RunPlan` into a new run folder."""

    def __init__(
        self,
        settings: Settings,
        observer: RunObserver | None = None,
        kernel_name: str | None = None,
        start_timeout: float = 120,
        fork: bool | None = None,
        preload: list[str] | None = None,
        cache: bool = True,
        force: Iterable[str] = (),
        jobs: int = 1,
        dev: bool = False,
        executor: Executor | None = None,
    ) -> None:
        """Set up a runner.

        ``kernel_name`` runs every stage in that Jupyter kernel; None (the default)
        runs each stage in the kernel its template's metadata names (the project's
        kernel, see :mod:`~mlops_nb.pipeline.kernels.specs`), or Jupyter's default
        ``python3`` for a template that names none.

        ``fork`` forks each stage's kernel from a fork server that has already
        imported ``preload`` (None: ``MLOPS_NB_FORK``, on by default; see
        :mod:`mlops_nb.pipeline.kernels`); ``preload`` None reads
        ``MLOPS_NB_PRELOAD`` or derives the list from the templates' imports.

        ``cache`` reuses the result of a stage whose fingerprint matches an
        earlier one (see :mod:`mlops_nb.pipeline.cache`); ``force`` names
        stages to execute even so. ``jobs`` runs up to that many stages at once
        where the DAG allows it. ``dev`` runs into the development folder (see
        the module's documentation).

        ``executor`` executes the stages (see :mod:`mlops_nb.pipeline.executors`);
        by default a :class:`~mlops_nb.pipeline.executors.local.LocalExecutor`
        with ``jobs``, ``fork`` and ``preload``. The runner closes it when a run ends.
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
        self.executor: Executor = executor or LocalExecutor(jobs, fork=fork, preload=preload)
        self._plan: RunPlan | None = None
        self._lock = threading.RLock()
        self._interrupted = threading.Event()
        self._resume: dict[str, Any] | None = None
        self._prepared = False
        self._run_id = ""
        self._run_dir = settings.runs_dir
        self._record: dict[str, Any] = {}
        self._index: RunIndex | None = None

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
        self._plan, self._resume, self._prepared = plan, resume, False
        self._index = None if self.dev else RunIndex(self.settings)
        if self._index is not None:
            self._index.check()  # an unreachable store fails here, before any folder or kernel
        record = self._start(plan)
        if resume is not None:
            record["resumed_from"] = resume["id"]
        try:
            self._schedule(plan)
        except StageFailedError as exc:
            self._finish("failed", error=exc)
            raise
        except KeyboardInterrupt:
            self._interrupted.set()
            self._finish("interrupted")
            raise
        except BaseException as exc:
            self._finish("failed", error=exc)
            raise
        finally:
            self.executor.close()  # the fork server and any kernel left
        self._finish("succeeded")
        if self._index is not None:
            self._index.close()
        return record

    def _schedule(self, plan: RunPlan) -> None:
        """Start each stage once what it needs has succeeded, up to the executor's slots at once.

        After a failure no stage starts; those running finish, then the failure
        is raised. An interruption ends the running stages through the executor.
        """
        progress = _Progress(ReadyStages({stage.name: stage.needs for stage in plan.stages}))
        position = {stage.name: index for index, stage in enumerate(plan.stages)}
        try:
            while True:
                while progress.failure is None and len(progress.running) < self.executor.slots:
                    name = progress.ready.pop()
                    if name is None:
                        break
                    self._start_stage(plan, position[name], progress)
                if not progress.running:
                    break
                finished = _finished(progress.running)
                for future in sorted(finished, key=lambda done: progress.running[done].index):
                    attempt = progress.running.pop(future)
                    self._ended(attempt, progress, *_outcome(future))
        except KeyboardInterrupt:
            self._interrupted.set()
            self.executor.interrupt()  # running stages end as their kernels go
            self._drain(progress)
            raise
        if progress.failure is not None:
            raise progress.failure

    def _start_stage(self, plan: RunPlan, index: int, progress: _Progress) -> None:
        """Start one ready stage: reused at once, or submitted to the executor."""
        entry = self._record["stages"][index]
        with self._lock:
            entry.update(status="running", started_at=archive.utc_now())
            self.observer.stage_started(entry, index, len(plan.stages))
        stage_dir = self._run_dir / entry["dir"]
        attempt = _Attempt(plan.stages[index], index, entry, stage_dir, time.perf_counter())
        try:
            future = self._launch(attempt, plan.params)
        except BaseException as exc:  # KeyboardInterrupt too: recorded, then raised
            self._ended(attempt, progress, None, exc)
            return
        if future is None:
            self._ended(attempt, progress, None, None)
        else:
            progress.running[future] = attempt

    def _launch(self, attempt: _Attempt, params: ResolvedParams) -> Future[StageResult] | None:
        """Reuse an earlier result of the stage (None), or submit the stage to the executor."""
        stage, entry, stage_dir = attempt.stage, attempt.entry, attempt.stage_dir
        fprint = attempt.fingerprint = self._fingerprint(stage, params.per_stage[stage.name])
        entry["fingerprint"] = fprint.digest
        if fprint.reason:
            entry["cache_note"] = f"not cacheable: {fprint.reason}"
        source = self._reusable(stage, fprint)
        if source is not None:
            link_tree(source, stage_dir)
            entry.update(status="succeeded", cached=True, cached_from=source.parent.name)
            return None
        self._save()  # run.json says "running" only for stages that execute
        if self.dev and stage_dir.exists():
            shutil.rmtree(stage_dir)  # as a template run by hand starts afresh
        stage_dir.mkdir()
        if not self._prepared:  # the first stage that executes: kernels start only now
            self._prepared = True
            assert self._plan is not None  # every stage, in run order
            self.executor.prepare([self._task(s, params) for s in self._plan.stages])
        return self.executor.submit(self._task(stage, params))

    def _task(self, stage: StageSpec, params: ResolvedParams) -> StageTask:
        """What the executor needs to execute ``stage``; nothing else is looked up."""
        entry = next(e for e in self._record["stages"] if e["name"] == stage.name)
        stage_dir = self._run_dir / entry["dir"]
        return StageTask(
            run_id=self._run_id,
            stage=stage.name,
            notebook=str(stage.notebook),
            run_dir=str(self._run_dir),
            stage_dir=str(stage_dir),
            parameters={**params.per_stage[stage.name], STAGE_DIR_PARAM: str(stage_dir)},
            cwd=str(self.settings.root),
            kernel_name=self.kernel_name or stage.template.kernel or NATIVE_KERNEL,
            start_timeout=self.start_timeout,
        )

    def _ended(
        self,
        attempt: _Attempt,
        progress: _Progress,
        result: StageResult | None,
        error: BaseException | None,
    ) -> None:
        """Record how a stage ended and move the run on; raise KeyboardInterrupt if interrupted."""
        stop = self._end(attempt, result, error)
        if isinstance(stop, KeyboardInterrupt):
            raise stop
        if stop is None:
            progress.ready.done(attempt.stage.name)
        elif progress.failure is None:
            progress.failure = stop

    def _drain(self, progress: _Progress) -> None:
        """Wait for the stages still running after an interruption, and record them."""
        _finished(progress.running, every=True)
        for future in sorted(progress.running, key=lambda done: progress.running[done].index):
            self._end(progress.running[future], *_outcome(future))
        progress.running.clear()

    def _end(
        self, attempt: _Attempt, result: StageResult | None, error: BaseException | None
    ) -> BaseException | None:
        """Record a stage's end in the run; the error that stops the run, if any.

        ``result`` is the executor's answer (None: the stage was reused, or
        ``error`` came before or instead of an answer). A KeyboardInterrupt
        returned means the run is interrupted.
        """
        entry = attempt.entry
        if result is not None:
            entry.update(result.timing())  # waiting for the kernel vs running the cells
            if result.worker:
                entry["worker"] = result.worker
            if result.files:
                self._adopt(attempt, result.files)
            error = result.error or (KeyboardInterrupt() if result.interrupted else None)
            if error is None:
                try:
                    self._offer(attempt)
                except Exception as exc:
                    error = exc
        stop = self._record_error(entry, error)
        self._finalize(attempt)
        return stop

    def _adopt(self, attempt: _Attempt, files: dict[str, str]) -> None:
        """Take in a stage a remote worker executed and published: index it, fetch its report."""
        if self._index is None:
            return
        folder = attempt.entry["dir"]
        with self._lock:
            self._index.save(self._record, self._run_dir, published={folder: files})
        self._index.materialize(self._run_id, folder, report_only=True)

    def _offer(self, attempt: _Attempt) -> None:
        """Offer an executed stage's result to the cache (never from a development run)."""
        digest = attempt.fingerprint.digest if attempt.fingerprint is not None else None
        if digest is not None and not self.dev:
            CacheIndex(self.settings).store(digest, self._run_id, attempt.entry["dir"])
        attempt.entry["status"] = "succeeded"

    def _record_error(
        self, entry: dict[str, Any], error: BaseException | None
    ) -> BaseException | None:
        """Mark the stage failed or interrupted by ``error``; what stops the run."""
        if error is None:
            return None
        if isinstance(error, KeyboardInterrupt):
            entry["status"] = "interrupted"
            return error
        if self._interrupted.is_set() and isinstance(error, StageFailedError | CancelledError):
            entry.update(status="interrupted", error=_error_dict(error))  # its kernel was killed
            return KeyboardInterrupt()
        entry.update(status="failed", error=_error_dict(error))
        return error

    def _finalize(self, attempt: _Attempt) -> None:
        """Time the stage, collect what it logged, save the run, track and report it."""
        entry, stage_dir, record = attempt.entry, attempt.stage_dir, self._record
        with self._lock:
            entry["seconds"] = round(time.perf_counter() - attempt.started, 3)
            _collect_stage(stage_dir, entry, record)
            # a reused stage takes no time: its line in index.html waits for the next
            # stage that executes, or for the end of the run
            self._save([entry["dir"]] if stage_dir.is_dir() else [], page=not entry.get("cached"))
            if stage_dir.is_dir() and not self.dev:
                track_stage(self.settings, record, entry, stage_dir)
            self.observer.stage_finished(entry, attempt.index, len(record["stages"]))

    def _start(self, plan: RunPlan) -> dict[str, Any]:
        """Create the run's folder and record (run.json, index.html); tell the observer."""
        if self.dev:
            run_id, run_dir = DEV_RUN_ID, self.settings.dev_dir
            run_dir.mkdir(parents=True, exist_ok=True)
        else:
            run_id = pipeline_run_id()
            run_dir = self.settings.runs_dir / run_id
            run_dir.mkdir(parents=True)
        root = self.settings.root
        record = archive.new_record(
            run_id, run_dir, plan, root, dev=self.dev, git=git_state(root), env=run_environment()
        )
        self._run_id, self._run_dir, self._record = run_id, run_dir, record
        self._save()
        self.observer.run_started(record)
        return record

    def _fingerprint(self, stage: StageSpec, params: dict[str, Any]) -> Fingerprint:
        """The stage's fingerprint over its code, params, files and every ancestor's outputs."""
        assert self._plan is not None
        pipeline = self._plan.pipeline
        ancestors = pipeline.ancestors(stage.name) - {stage.name}
        dirs = {entry["name"]: entry["dir"] for entry in self._record["stages"]}
        upstream = {}
        for name in sorted(ancestors):
            manifest = self._run_dir / dirs.get(name, "") / MANIFEST
            upstream[name] = json.loads(manifest.read_text()) if manifest.is_file() else {}
        return fingerprint(stage, params, pipeline.param_specs(), upstream, self.settings.root)

    def _reusable(self, stage: StageSpec, fprint: Fingerprint) -> Path | None:
        """An earlier stage folder holding this stage's result, if it may be reused."""
        if fprint.digest is None or stage.name in self.force:
            return None
        if self._resume is not None:
            old = next((s for s in self._resume["stages"] if s["name"] == stage.name), None)
            if old and old["status"] == "succeeded" and old.get("fingerprint") == fprint.digest:
                folder: Path = Path(self._resume["run_dir"]) / old["dir"]
                if (folder / MANIFEST).is_file():
                    return folder
        if not self.cache:
            return None
        return CacheIndex(self.settings).lookup(fprint.digest)

    def _finish(self, status: str, error: BaseException | None = None) -> None:
        """Close the record: stages never started are skipped, the run gets its status."""
        record = self._record
        for entry in record["stages"]:
            if entry["status"] == "pending":
                entry["status"] = "skipped"
            elif entry["status"] == "running":  # a parallel stage cut short
                entry["status"] = "interrupted" if status == "interrupted" else "failed"
        record.update(status=status, finished_at=archive.utc_now())
        record["seconds"] = round(sum(s["seconds"] or 0 for s in record["stages"]), 3)
        if error is not None:
            record["error"] = _error_dict(error)
        self._save()

    def _save(self, finished: list[str] | None = None, *, page: bool = True) -> None:
        """Rewrite run.json and index.html (each atomically), and index the run in the store.

        ``finished`` names stage folders that just ended: with an artifact
        location, their files are published before the record that lists them.
        ``page=False`` leaves index.html as it is (run.json is always rewritten).
        """
        with self._lock:
            write_json(self._run_dir / archive.RUN_FILE, self._record)
            crash_point("run-record")  # run.json rewritten; index.html and the store not yet
            if page:
                report.write_index(self._run_dir, self._record)
            if self._index is not None:
                self._index.save(self._record, self._run_dir, finished or [])


def _collect_stage(stage_dir: Path, entry: dict[str, Any], record: dict[str, Any]) -> None:
    """Copy what the stage logged (metrics, data versions, artifacts) into the record."""
    if (stage_dir / EXECUTED).is_file():
        entry["executed"] = f"{entry['dir']}/{EXECUTED}"
    if (stage_dir / STAGE_REPORT).is_file():
        entry["report"] = f"{entry['dir']}/{STAGE_REPORT}"
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


def _finished(
    futures: Iterable[Future[StageResult]], every: bool = False
) -> set[Future[StageResult]]:
    """Wait until one (``every``: each) of ``futures`` is done; the done ones.

    A future cancelled by the executor that made it counts as done at once
    (``concurrent.futures.wait`` counts it only once an executor's worker notices).
    """
    futures = set(futures)
    cancelled = {future for future in futures if future.cancelled()}
    rest = futures - cancelled
    if rest and (every or not cancelled):
        wait(rest, return_when=ALL_COMPLETED if every else FIRST_COMPLETED)
    return cancelled | {future for future in rest if future.done()}


def _outcome(future: Future[StageResult]) -> tuple[StageResult | None, BaseException | None]:
    """A finished future's result, or the exception it holds (without raising it)."""
    if future.cancelled():
        return None, CancelledError()
    error = future.exception()
    return (None, error) if error is not None else (future.result(), None)


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
