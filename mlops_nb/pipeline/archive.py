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
suffix), so sorting ids sorts runs by start time.

A run of only part of its pipeline (``--until STAGE`` short of the last stage)
has ``"partial": true`` in run.json beside ``"until"``; its ``status`` keeps the
usual values, so a partial run that succeeded is ``succeeded`` and ``partial``.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops_nb.artifacts import write_json
from mlops_nb.errors import RunError, RunNotFoundError

__all__ = ["find_run", "is_partial", "list_runs", "new_run_id", "read_run", "write_json"]

RUN_FILE = "run.json"
INDEX = "index.html"
SCHEMA_VERSION = 1
FINAL = ("succeeded", "failed", "interrupted")


def new_run_id(now: datetime | None = None) -> str:
    """A fresh run id that sorts by start time."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{stamp}-{secrets.token_hex(2)}"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read_run(run_dir: Path) -> dict[str, Any]:
    """Read a run's manifest, marking a run whose process died as interrupted."""
    path = run_dir / RUN_FILE
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise RunNotFoundError(
            f"{run_dir} has no {RUN_FILE}; it is not a run folder", path=run_dir
        ) from None
    except json.JSONDecodeError as exc:
        raise RunError(f"{path} is damaged ({exc}); the run cannot be read", path=path) from None
    if record.get("status") == "running" and not _owner_alive(record):
        record = mark_interrupted(record)
    return record


def _owner_alive(record: dict[str, Any]) -> bool:
    if record.get("host") != socket.gethostname():
        return True  # cannot tell; trust the record
    pid = record.get("pid")
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _same_process(pid, record.get("pid_started"))


def _same_process(pid: int, started: Any) -> bool:
    """Guard against pid reuse by comparing the process start time."""
    return started is None or process_start_time(pid) == started


def process_start_time(pid: int) -> str | None:
    """The kernel's start tick of ``pid`` (Linux), or None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


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
