"""The stage cache index: every entry points at a complete, unchanged stage folder.

An entry whose folder is gone (a deleted run) or whose files were changed would
make a later run reuse nothing, or reuse damage; ``--repair`` drops the entry
(the index only says where a result is: the run folders stay as they are).
"""

from __future__ import annotations

from functools import partial

from mlops_nb.maintenance.doctor.project import Project
from mlops_nb.maintenance.doctor.runs import stage_problems
from mlops_nb.stage import MANIFEST
from mlops_nb.store.runs import RunIndex

__all__ = ["check_cache"]

_DROP = "DELETE FROM cache_entries WHERE fingerprint = ? AND run = ? AND dir = ?"


def check_cache(project: Project) -> None:
    """Check each cache entry's stage folder (here, or published to the artifact location)."""
    if not project.has("cache"):
        return
    entries = project.rows("SELECT fingerprint, run, dir FROM cache_entries ORDER BY run, dir")
    published = _published(project, {str(run) for _, run, _ in entries})
    for digest, run, stage_dir in entries:
        project.report.count("cache", "entries")
        folder = project.settings.runs_dir / str(run) / str(stage_dir)
        if (folder / MANIFEST).is_file():
            problems = stage_problems(project, folder)
            why = f"its folder's files are not as written: {problems[0][1]}" if problems else ""
        elif f"{stage_dir}/{MANIFEST}" in published.get(str(run), {}):
            continue  # another machine's result, fetched when reused
        else:
            why = "its stage folder is gone" if not folder.is_dir() else f"{MANIFEST} is gone"
        if why:
            project.report.add(
                "cache",
                "dangling-entry",
                f"{run}/{stage_dir} (fingerprint {str(digest)[:12]}…)",
                f"a cache entry points at a result that cannot be reused: {why}",
                "--repair drops the entry (the next run executes the stage again)",
                repair=partial(project.write, _DROP, (digest, run, stage_dir)),
            )


def _published(project: Project, runs: set[str]) -> dict[str, dict[str, str]]:
    """Run → its published files, when the project publishes to an artifact location."""
    if not project.location.publishes or not project.has("runs"):
        return {}
    with RunIndex(project.settings) as index:
        return {run: index.files(run) for run in sorted(runs)}
