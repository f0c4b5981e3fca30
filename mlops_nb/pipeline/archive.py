"""The run archive: one immutable folder per run under ``outputs/runs/``.

Layout::

    outputs/runs/<run_id>/
        run.json            the manifest (written atomically, never half-written)
        index.html          the run report
        01_ingest/          one folder per stage:
            executed.ipynb  the executed notebook
            report.html     its HTML export
            stage.json      what the stage saved and logged
            ...             the stage's artifacts

Run ids are ``YYYYmmddTHHMMSS.ffffffZ-xxxx`` (UTC start time plus a random
suffix, :func:`mlops_nb.ids.pipeline_run_id`), so sorting ids sorts runs by start time.

:func:`new_record` is what run.json holds when a run starts (every stage
pending); the runner fills it in as stages end.

A run of only part of its pipeline (``--until STAGE`` short of the last stage)
has ``"partial": true`` in run.json beside ``"until"``; its ``status`` keeps the
usual values, so a partial run that succeeded is ``succeeded`` and ``partial``.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.artifacts import write_json
from mlops_nb.errors import RunError, RunNotFoundError
from mlops_nb.processes import is_running, start_tick

if TYPE_CHECKING:
    from mlops_nb.pipeline.spec import RunPlan, StageSpec

__all__ = [
    "find_run",
    "is_partial",
    "list_runs",
    "new_record",
    "read_run",
    "stage_dirs",
    "write_json",
]

RUN_FILE = "run.json"
INDEX = "index.html"
SCHEMA_VERSION = 1
FINAL = ("succeeded", "failed", "interrupted")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stage_dirs(stages: Sequence[StageSpec], *, dev: bool = False) -> list[str]:
    """The folder of each stage in a run: ``01_ingest``, ``02_validate`` ...

    In the development folder a stage's folder is its bare name (``ingest``), as
    a template run by hand names it.
    """
    if dev:
        return [stage.name for stage in stages]
    width = max(2, len(str(len(stages))))
    return [f"{index:0{width}d}_{stage.name}" for index, stage in enumerate(stages, start=1)]


def new_record(
    run_id: str,
    run_dir: Path,
    plan: RunPlan,
    root: Path,
    *,
    dev: bool = False,
    git: dict[str, Any] | None = None,
    env: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The record of a run that starts now: every stage pending, this process its owner.

    ``git`` and ``env`` are the project's git state and the environment (see
    :mod:`mlops_nb.environment`), recorded as they are.
    """
    folders = stage_dirs(plan.stages, dev=dev)
    stages = [
        _stage_entry(stage, os.path.relpath(stage.notebook, root), folder, plan)
        for stage, folder in zip(plan.stages, folders, strict=True)
    ]
    return {
        "schema": SCHEMA_VERSION,
        "id": run_id,
        "pipeline": plan.pipeline.name,
        "status": "running",
        "started_at": utc_now(),
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
        "git": git,
        "environment": env,
        "run_dir": str(run_dir),
        "project": str(root),
        "error": None,
        "pid": os.getpid(),
        "pid_started": start_tick(os.getpid()),
        "host": socket.gethostname(),
    }


def _stage_entry(stage: StageSpec, notebook: str, folder: str, plan: RunPlan) -> dict[str, Any]:
    """A stage's entry in run.json before it starts."""
    return {
        "name": stage.name,
        "notebook": notebook,
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


def read_run(run_dir: Path) -> dict[str, Any]:
    """Read a run's manifest, marking a run whose process died as interrupted."""
    path = run_dir / RUN_FILE
    try:
        record: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise RunNotFoundError(
            f"{run_dir} has no {RUN_FILE}; it is not a run folder", path=run_dir
        ) from exc
    except json.JSONDecodeError as exc:
        raise RunError(f"{path} is damaged ({exc}); the run cannot be read", path=path) from exc
    if record.get("status") == "running" and not _owner_alive(record):
        record = mark_interrupted(record)
    return record


def checked(record: dict[str, Any]) -> dict[str, Any]:
    """``record``, marked interrupted if it says running but its process is gone."""
    if record.get("status") == "running" and not _owner_alive(record):
        return mark_interrupted(record)
    return record


def _owner_alive(record: dict[str, Any]) -> bool:
    """Whether the process that wrote a ``running`` record may still be running it.

    Another host's process cannot be checked (trusted); a record without an
    integer pid is dead; a reused pid is told apart by ``pid_started``.
    """
    if record.get("host") != socket.gethostname():
        return True
    pid = record.get("pid")
    if not isinstance(pid, int):
        return False
    return is_running(pid, record.get("pid_started"))


def mark_interrupted(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``record`` with the run and its unfinished stages interrupted."""
    record = dict(record, status="interrupted")
    record["stages"] = [
        dict(stage, status="interrupted") if stage.get("status") == "running" else stage
        for stage in record.get("stages", [])
    ]
    return record


def is_partial(record: dict[str, Any]) -> bool:
    """Whether the run executed only part of its pipeline (``--until``).

    Runs recorded before the ``partial`` field existed count as partial when
    they were given ``--until``.
    """
    if "partial" in record:
        return bool(record["partial"])
    return record.get("until") is not None


def list_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """All runs under ``runs_dir``, oldest first; damaged folders are skipped."""
    if not runs_dir.is_dir():
        return []
    records = []
    for folder in sorted(p for p in runs_dir.iterdir() if (p / RUN_FILE).is_file()):
        try:
            records.append(read_run(folder))
        except RunError:
            continue
    return records


def find_run(runs_dir: Path, run_id: str) -> Path:
    """The folder of ``run_id``: an exact id, a unique prefix, or ``latest``."""
    ids = (
        sorted(p.name for p in runs_dir.glob("*") if (p / RUN_FILE).is_file())
        if runs_dir.is_dir()
        else []
    )
    if not ids:
        raise RunNotFoundError(
            f"no runs yet in {runs_dir}; start one with `mlops-nb run`", run_id=run_id
        )
    if run_id == "latest":
        return runs_dir / ids[-1]
    matches = [i for i in ids if i.startswith(run_id)]
    if len(matches) != 1:
        problem = "matches no run" if not matches else f"matches {len(matches)} runs"
        raise RunNotFoundError(
            f"run id '{run_id}' {problem}; see `mlops-nb runs list` (or use 'latest')",
            run_id=run_id,
        )
    return runs_dir / matches[0]
