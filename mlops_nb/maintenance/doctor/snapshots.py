"""Data snapshots: each ``data-<version>.parquet`` still holds the data its name says.

A snapshot is named by the hash of its content (:func:`mlops_nb.data.content_hash`),
so reading it back and hashing it again tells whether it was changed or cut
short. A changed snapshot is reported, never rewritten: :func:`mlops_nb.snapshot`
keeps an existing file, so the fix is to move it aside and let the next run
that reads the same data write it again. Also: the temporary file of a
snapshot whose write was cut short (removed by ``--repair``), and the training
snapshot of a registered version that is gone (retraining from it would fail).
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

from mlops_nb.maintenance.doctor import leftovers
from mlops_nb.maintenance.doctor.project import Project

__all__ = ["check_snapshots"]

_NAME = re.compile(r"^data-([0-9a-f]{16})\.parquet$")


def check_snapshots(project: Project) -> None:
    """Check each snapshot's content against its name, leftovers, and the registry's snapshots."""
    folder = project.settings.snapshots_dir
    for path in sorted(folder.glob("data-*.parquet")) if folder.is_dir() else []:
        match = _NAME.match(path.name)
        if match is None:
            continue
        project.report.count("snapshots", "snapshots")
        try:
            path.open("rb").close()
        except OSError as exc:
            project.report.unreadable("snapshots", exc, path, "its content was")
            continue
        problem = _content_problem(path, match.group(1))
        if problem:
            project.report.add(
                "snapshots",
                "changed-snapshot",
                path,
                problem,
                f"move it aside (mv {path} {path}.damaged): the next run reading the same "
                f"data writes it again; a run that used it keeps its own link to the file",
            )
    for path in leftovers.snapshot_leftovers(folder):
        project.report.add(
            "snapshots",
            "leftover",
            path,
            "the temporary file of a snapshot whose write was cut short",
            "--repair removes it" + (f"; {project.busy_note()}" if not project.quiet else ""),
            repair=partial(leftovers.remove, path) if project.quiet else None,
        )
    _check_training_snapshots(project, folder)


def _content_problem(path: Path, version: str) -> str:
    """Why the snapshot at ``path`` does not hold version ``version`` ("" when it does)."""
    import pandas as pd

    from mlops_nb.data.snapshot import content_hash

    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a file that is not Parquet
        return f"the snapshot cannot be read as Parquet ({type(exc).__name__}: {exc})"
    found = content_hash(frame)
    if found != version:
        return f"its content hashes to {found}, not to the version its name says ({version})"
    return ""


def _check_training_snapshots(project: Project, folder: Path) -> None:
    """The snapshot each active registered version was trained on, still there."""
    if not project.has("registry") or project.location.publishes:
        return  # a published project's snapshots are in the artifact location
    rows = project.rows(
        "SELECT name, version, data_version FROM registry_versions "
        "WHERE status = 'active' AND data_version IS NOT NULL ORDER BY name, version"
    )
    for name, version, data_version in rows:
        path = folder / f"data-{data_version}.parquet"
        if not path.is_file():
            project.report.add(
                "snapshots",
                "missing-snapshot",
                path,
                f"{name}:{version} was trained on snapshot {data_version}, which is gone: "
                f"retraining from it will fail",
                f"restore {path.name} from a backup (or from a run folder's "
                f"01_ingest/data.parquet, which is the same file)",
            )
