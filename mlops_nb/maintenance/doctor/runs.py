"""Run folders: each succeeded stage complete, no run left ``running`` by a dead process.

A run folder is evidence and is never changed beyond what a reader would
conclude anyway: a run whose process is gone is marked ``interrupted`` (as
``mlops-nb runs list`` already shows it), its report and its row in the store's
run index rewritten to say so. Temporary files a killed writer left (see
:mod:`~mlops_nb.maintenance.doctor.leftovers`) are removed; a succeeded stage
whose files are missing or changed is reported, never touched.
"""

from __future__ import annotations

import json
import os
import time
from functools import partial
from pathlib import Path
from typing import Any

from mlops_nb.artifacts import write_json
from mlops_nb.maintenance.doctor import leftovers
from mlops_nb.maintenance.doctor.checksums import UNREADABLE, Problem, file_problems
from mlops_nb.maintenance.doctor.findings import permissions_fix
from mlops_nb.maintenance.doctor.project import Project
from mlops_nb.pipeline import archive, report
from mlops_nb.stage import MANIFEST
from mlops_nb.store.runs import RunIndex

__all__ = ["EMPTY_RUN_AGE", "check_runs", "live_runs", "stage_problems"]


EMPTY_RUN_AGE = 600.0
"""Seconds an empty run folder must have been left alone before ``--repair`` removes it.

A run creates its folder, then writes run.json: until then it is invisible to
:func:`live_runs`, so a fresh empty folder may be a run starting now.
"""


def live_runs(runs_dir: Path) -> list[str]:
    """The runs under ``runs_dir`` whose run.json says running and whose process is alive.

    A runs folder that cannot be listed may hold live runs: it is named as one.
    """
    found = []
    try:
        folders = _run_folders(runs_dir)
    except OSError as exc:
        return [f"the runs of {runs_dir} (it cannot be listed: {exc.strerror or exc})"]
    for folder in folders:
        record = _read(folder)
        if record is not None and _alive(record):
            found.append(f"run {folder.name} (pid {record.get('pid')})")
    return found


def _alive(record: dict[str, Any]) -> bool:
    """Whether the run says running and its process (on this host) still runs."""
    return record.get("status") == "running" and archive.checked(record)["status"] == "running"


def check_runs(project: Project) -> None:
    """Check every run folder and its row in the store's run index."""
    indexed = _indexed_status(project)
    for folder in _run_folders(project.settings.runs_dir):
        project.report.count("runs", "runs")
        try:
            _check_run(project, folder, indexed)
        except OSError as exc:
            project.report.unreadable("runs", exc, folder, f"the rest of run {folder.name} was")


def _check_run(project: Project, folder: Path, indexed: dict[str, str]) -> None:
    record = _read(folder, strict=True)
    if record is None:
        _unreadable(project, folder)
        return
    if _alive(record):
        project.report.notes.append(f"run {folder.name} is running: not checked")
        return
    if record.get("status") == "running":
        _stale(project, folder, record)
    else:
        _check_index_row(project, folder, record, indexed.get(folder.name))
    _check_stages(project, folder, record)
    _check_leftovers(project, folder, record)


def _run_folders(runs_dir: Path) -> list[Path]:
    if not runs_dir.is_dir():
        return []
    return sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def _read(folder: Path, *, strict: bool = False) -> dict[str, Any] | None:
    """run.json's record; None when it is missing or not JSON.

    Raises:
        OSError: with ``strict``, run.json is there but cannot be read (permissions...).
    """
    try:
        record: dict[str, Any] = json.loads((folder / archive.RUN_FILE).read_text())
    except FileNotFoundError:
        return None
    except OSError:
        if strict:
            raise
        return None
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _unreadable(project: Project, folder: Path) -> None:
    path = folder / archive.RUN_FILE
    if not path.exists() and not any(folder.iterdir()):
        _empty(project, folder)
        return
    what = "has no run.json" if not path.exists() else "has a run.json that cannot be read"
    project.report.add(
        "runs",
        "unreadable-run",
        path,
        f"the run folder {what}; `mlops-nb runs` cannot show it",
        "restore run.json from a backup, or move the folder out of outputs/runs if it is no run",
    )


def _empty(project: Project, folder: Path) -> None:
    """An empty run folder: removed only when it is old and no run of the project is live."""
    age = time.time() - folder.stat().st_mtime
    old = age >= EMPTY_RUN_AGE
    if not old:
        fix = (
            f"kept: it was created {max(age, 0):.0f} s ago and may be a run starting now; "
            f"--repair removes it once it is {EMPTY_RUN_AGE / 60:.0f} minutes old"
        )
    elif not project.quiet:
        fix = f"--repair removes the empty folder; {project.busy_note()}"
    else:
        fix = "--repair removes the empty folder"
    project.report.add(
        "runs",
        "empty-run-folder",
        folder,
        "an empty run folder (its run was killed before it wrote run.json, or is starting)",
        fix,
        repair=partial(os.rmdir, folder) if old and project.quiet else None,
    )


def _stale(project: Project, folder: Path, record: dict[str, Any]) -> None:
    running = [s["name"] for s in record.get("stages", []) if s.get("status") == "running"]
    during = f" during {', '.join(running)}" if running else ""
    project.report.add(
        "runs",
        "stale-run",
        folder,
        f"marked running, but its process (pid {record.get('pid')}) is gone: it was killed{during}",
        f"--repair marks it interrupted; then `mlops-nb run --resume {folder.name}` finishes it",
        repair=partial(_mark_interrupted, project, folder, record),
    )


def _mark_interrupted(project: Project, folder: Path, record: dict[str, Any]) -> None:
    marked = archive.mark_interrupted(record)
    if marked.get("error") is None:
        marked["error"] = {
            "type": "Interrupted",
            "message": f"the run's process (pid {record.get('pid')}) was gone; marked "
            f"interrupted by mlops-nb doctor",
        }
    write_json(folder / archive.RUN_FILE, marked)
    report.write_index(folder, marked)
    _save_index(project, folder, marked)


def _save_index(project: Project, folder: Path, record: dict[str, Any]) -> None:
    if project.conn is None:
        return  # no store (or a damaged one): run.json is the record
    with RunIndex(project.settings) as index:
        index.save(record, folder)


def _indexed_status(project: Project) -> dict[str, str]:
    if not project.has("runs"):
        return {}
    return {
        str(run): str(status)
        for run, status in project.rows("SELECT run_id, status FROM pipeline_runs")
    }


def _check_index_row(
    project: Project, folder: Path, record: dict[str, Any], indexed: str | None
) -> None:
    """The store's run index says what run.json says (a crash between the two writes may not)."""
    if project.conn is None or indexed == record.get("status"):
        return
    project.report.add(
        "runs",
        "index-behind",
        f"{folder.name} (the store's run index)",
        f"run.json says {record.get('status')}, the store's run index "
        f"{'has no row' if indexed is None else f'says {indexed}'}",
        "--repair saves run.json's record in the run index again",
        repair=partial(_save_index, project, folder, record),
    )


def _check_stages(project: Project, folder: Path, record: dict[str, Any]) -> None:
    for entry in record.get("stages", []):
        if entry.get("status") != "succeeded" or not entry.get("dir"):
            continue
        project.report.count("runs", "succeeded stages")
        for kind, problem, where in stage_problems(project, folder / str(entry["dir"])):
            fix = (
                permissions_fix(where)
                if kind == UNREADABLE
                else "a run folder is evidence: restore the file from a backup, or start a new "
                f"run (mlops-nb run {record.get('pipeline')}); --repair drops any cache entry "
                f"pointing here"
            )
            project.report.add(
                "runs",
                kind,
                where,
                f"run {folder.name}, stage {entry.get('name')} (succeeded): {problem}",
                fix,
            )


def stage_problems(project: Project, folder: Path) -> list[Problem]:
    """What is missing or changed in a finished stage folder (checked once per doctor run)."""
    if folder in project.stages:
        return project.stages[folder]
    problems: list[Problem] = []
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        problems.append(("incomplete-stage", f"{MANIFEST} is gone", folder / MANIFEST))
    except OSError as exc:
        problems.append((UNREADABLE, f"{MANIFEST} cannot be read ({exc})", folder / MANIFEST))
    except ValueError as exc:
        problems.append(
            ("incomplete-stage", f"{MANIFEST} cannot be read ({exc})", folder / MANIFEST)
        )
    else:
        for artifact in (manifest.get("artifacts") or {}).values():
            if isinstance(artifact, dict) and artifact.get("file"):
                path = folder / str(artifact["file"])
                problems.extend(file_problems(path, artifact.get("sha256")))
    project.stages[folder] = problems
    return problems


def _check_leftovers(project: Project, folder: Path, record: dict[str, Any]) -> None:
    for path in leftovers.run_leftovers(folder, record):
        project.report.add(
            "runs",
            "leftover",
            path,
            "a temporary file left by a write that was cut short (the real file is intact)",
            "--repair removes it" + (f"; {project.busy_note()}" if not project.quiet else ""),
            repair=partial(leftovers.remove, path) if project.quiet else None,
        )
