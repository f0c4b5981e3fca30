"""The store: the database's own integrity check, its schema versions, runs left ``running``.

Also the serving inference logs (``outputs/inference/*.db``), SQLite files of their own.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from functools import partial

from mlops_nb.errors import StoreError
from mlops_nb.maintenance.doctor.project import Project
from mlops_nb.maintenance.store import component_steps
from mlops_nb.processes import is_running
from mlops_nb.store import Backend, Migration
from mlops_nb.store.sqlite import SQLiteBackend

__all__ = ["check_inference_logs", "check_store", "check_tracking_runs", "live_tracking_runs"]

_SHOWN = 5  # integrity lines quoted in a message; the rest are counted
_INTERRUPT = (
    "UPDATE tracking_runs SET status = 'interrupted' WHERE run_id = ? AND status = 'running'"
)


def check_store(project: Project) -> None:
    """Integrity, then schema versions; leaves ``project.conn`` open when the store is sound.

    Raises:
        StoreError: the store cannot be reached (the doctor cannot tell anything then).
    """
    backend, report = project.backend, project.report
    if backend.dialect.name == "sqlite" and not backend.exists():
        report.notes.append(f"the store {backend.display_url} does not exist yet: nothing stored")
        project.unread = "missing"
        return
    problems = backend.integrity()
    report.count("store", "databases")
    if problems:
        _damaged(project, backend, problems)
        project.unread = "damaged"
        return
    project.conn = backend.connect()
    with backend.translated("read the schema versions of"):
        for component in component_steps():
            project.versions[component] = backend.schema_version(project.conn, component)
    _check_versions(project)


def _damaged(project: Project, backend: Backend, problems: list[str]) -> None:
    shown = "; ".join(problems[:_SHOWN])
    more = f" (and {len(problems) - _SHOWN} more)" if len(problems) > _SHOWN else ""
    if backend.dialect.name == "sqlite":
        path = backend.display_url
        fix = (
            f"stop every run and keep a copy (cp {path} {path}.damaged); recover its rows "
            f"with `sqlite3 {path}.damaged .recover | sqlite3 {path}.recovered` and put "
            f"{path}.recovered in its place, or restore a backup. Runs under outputs/runs "
            f"stay readable meanwhile; the registry and tracking need the rows"
        )
    else:
        fix = "ask the database's administrator to restore the damaged tables from a backup"
    project.report.add(
        "store", "damaged", backend.display_url, f"the database is damaged: {shown}{more}", fix
    )
    project.report.notes.append("the store is damaged: the checks that read it were skipped")


def _check_versions(project: Project) -> None:
    for component, steps in component_steps().items():
        version, latest = project.versions[component], len(steps)
        if version > latest:
            project.report.add(
                "store",
                "schema-newer",
                f"{project.backend.display_url} ({component})",
                f"the {component} tables are at schema {version}, newer than this mlops-nb "
                f"understands ({latest})",
                "upgrade mlops-nb (pip install -U mlops-nb) on this machine",
            )
        elif 0 < version < latest:
            project.report.add(
                "store",
                "schema-behind",
                f"{project.backend.display_url} ({component})",
                f"the {component} tables are at schema {version}, this mlops-nb's is {latest}",
                "--repair applies the missing migration steps (any command would on first use)",
                repair=partial(_migrate, project, component, steps),
            )


def _migrate(project: Project, component: str, steps: Sequence[Migration]) -> None:
    assert project.conn is not None
    with project.backend.translated(f"migrate the {component} tables of"):
        project.backend.migrate(project.conn, component, steps)
    project.versions[component] = project.backend.schema_version(project.conn, component)


def live_tracking_runs(project: Project) -> list[str]:
    """Tracking runs of this machine still ``running`` whose process is alive."""
    return [f"tracking run {run} (pid {pid})" for run, pid in _running(project, alive=True)]


def _running(project: Project, *, alive: bool) -> list[tuple[str, int]]:
    """Tracking runs of this host marked running whose process is (``alive``) or is not."""
    if not project.has("tracking"):
        return []
    rows = project.rows(
        "SELECT run_id, host, pid, pid_started FROM tracking_runs WHERE status = 'running' "
        "ORDER BY run_id"
    )
    here = socket.gethostname()  # another host's processes cannot be checked from here
    return [
        (str(run), int(pid))
        for run, host, pid, started in rows
        if host == here and pid is not None and is_running(int(pid), started) is alive
    ]


def check_tracking_runs(project: Project) -> None:
    """Tracking runs left ``running`` by a process that is gone: marked interrupted."""
    dead = _running(project, alive=False)
    for run, pid in dead:
        project.report.add(
            "store",
            "stale-tracking-run",
            f"tracking run {run}",
            f"marked running, but its process (pid {pid}) is gone",
            "--repair marks it interrupted (as reading it would)",
            repair=partial(project.write, _INTERRUPT, (run,)),
        )


def check_inference_logs(project: Project) -> None:
    """Each serving inference log (a SQLite file per model) through its integrity check."""
    folder = project.settings.outputs / "inference"
    for path in sorted(folder.glob("*.db")) if folder.is_dir() else []:
        project.report.count("store", "inference logs")
        try:
            problems = SQLiteBackend(path).integrity()
        except StoreError as exc:
            problems = [exc.message]
        if problems:
            project.report.add(
                "store",
                "damaged",
                path,
                f"the inference log is damaged: {'; '.join(problems[:_SHOWN])}",
                f"keep a copy (cp {path} {path}.damaged) and recover it with "
                f"`sqlite3 {path}.damaged .recover | sqlite3 {path}.recovered`; serving "
                f"starts a new log if the file is moved aside",
            )
