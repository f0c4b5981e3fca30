"""``mlops-nb doctor``: is everything a project stored still whole, and what fixes what is not.

:func:`doctor` checks, in order:

* **store**: the database's own integrity check (SQLite ``PRAGMA integrity_check``
  and ``foreign_key_check``; on PostgreSQL every table read through), each
  component's schema version against this mlops-nb's, tracking runs left
  ``running`` by a process that is gone, and the inference logs;
* **registry**: every version's package against the SHA-256 recorded when it was
  registered (the model, each attachment, the published copies), each alias
  against its audit history, package folders that never got their row;
* **runs**: every run folder: each succeeded stage's files against the SHA-256
  in its ``stage.json``, runs left ``running`` by a process that is gone, the
  store's run index against run.json, temporary files of cut-short writes;
* **cache**: every cache index entry points at a complete, unchanged stage folder;
* **snapshots**: each snapshot's content against the version in its name;
* **kernels**: each Jupyter kernel the templates name is installed and runs this
  environment's Python (the fix is the ``ipykernel install`` command).

Each problem is a :class:`Finding` (what, where, the fix). With ``repair=True``
what can be fixed without losing anything is fixed: a dead ``running`` run is
marked interrupted, cache entries pointing at nothing are dropped, temporary
files are removed, a package folder without a row is set aside, schema steps
are applied. Evidence is never deleted: a registered version's files, a run
folder's files, audit rows stay as they are, and what only a person can fix is
said so. While a run of the project is live, nothing it could still be writing
is touched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mlops_nb.config import Settings
from mlops_nb.maintenance.doctor.cache import check_cache
from mlops_nb.maintenance.doctor.findings import CHECKS, Finding, Report
from mlops_nb.maintenance.doctor.kernels import check_kernels
from mlops_nb.maintenance.doctor.project import Project
from mlops_nb.maintenance.doctor.registry import check_registry
from mlops_nb.maintenance.doctor.runs import check_runs, live_runs
from mlops_nb.maintenance.doctor.snapshots import check_snapshots
from mlops_nb.maintenance.doctor.store import (
    check_inference_logs,
    check_store,
    check_tracking_runs,
    live_tracking_runs,
)
from mlops_nb.store import artifact_location, open_backend

__all__ = ["CHECKS", "Finding", "Report", "doctor"]


def doctor(settings: Settings, *, repair: bool = False) -> Report:
    """Check the project's store, registry, runs, cache and snapshots (see the module).

    Args:
        settings: The project.
        repair: Fix what can be fixed safely (each finding then says if it was).

    Raises:
        StoreError: the store cannot be reached (a damaged one is a finding instead).
    """
    backend = open_backend(settings)
    report = Report(backend.display_url, repair)
    project = Project(settings, backend, artifact_location(settings), report)
    try:
        with _guarded(project, "store", "the store's integrity and schema were"):
            check_store(project)
        project.live = live_runs(settings.runs_dir) + live_tracking_runs(project)
        if project.live:
            report.notes.append(f"live now: {', '.join(project.live)}")
        with _guarded(project, "store", "its tracking runs were"):
            check_tracking_runs(project)
        with _guarded(project, "store", "the inference logs were"):
            check_inference_logs(project)
        with _guarded(project, "registry", "the rest of the registry was"):
            check_registry(project)
        with _guarded(project, "runs", "the rest of the runs were"):
            check_runs(project)
        with _guarded(project, "cache", "the rest of the cache was"):
            check_cache(project)
        with _guarded(project, "snapshots", "the rest of the snapshots were"):
            check_snapshots(project)
        with _guarded(project, "kernels", "the templates' kernels were"):
            check_kernels(project)
    finally:
        if project.conn is not None:
            project.conn.close()
    return report


@contextmanager
def _guarded(project: Project, check: str, skipped: str) -> Iterator[None]:
    """A file or folder a check cannot read (permissions...) is a finding, not a traceback."""
    try:
        yield
    except OSError as exc:
        if check == "store" and project.conn is None and not project.unread:
            project.unread = "unreadable"
        project.report.unreadable(check, exc, f"({check})", skipped)
