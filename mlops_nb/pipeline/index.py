"""Finding runs: archived on this machine, or indexed in the store by any machine.

The index itself (records and published files) is :class:`mlops_nb.store.runs.RunIndex`;
runs archived before the index existed are still found from their folders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops_nb.config import Settings
from mlops_nb.errors import RunNotFoundError
from mlops_nb.pipeline import archive
from mlops_nb.store import artifact_location, open_backend
from mlops_nb.store.runs import RunIndex

__all__ = ["RunIndex", "all_runs", "find_record", "run_folder"]


def all_runs(settings: Settings, pipeline: str | None = None) -> list[dict[str, Any]]:
    """Every run of the project, oldest first: archived here, or indexed by any machine.

    A local run.json is the freshest record of a run of this machine; runs of
    other machines come from the store's index. Runs whose process died read
    as interrupted.
    """
    local = {str(record["id"]): record for record in archive.list_runs(settings.runs_dir)}
    indexed: list[dict[str, Any]] = []
    if open_backend(settings).exists():  # reading never creates a store
        with RunIndex(settings) as index:
            indexed = index.records(pipeline)
    merged = {str(r["id"]): archive.checked(r) for r in indexed}
    merged.update(local)
    records = [merged[run_id] for run_id in sorted(merged)]
    return [r for r in records if pipeline is None or r.get("pipeline") == pipeline]


def find_record(settings: Settings, ref: str) -> dict[str, Any]:
    """The record of run ``ref``: an exact id, a unique prefix, or ``latest``.

    Raises:
        RunNotFoundError: no run, or a prefix matching several.
    """
    records = all_runs(settings)
    if not records:
        raise RunNotFoundError(
            f"no runs yet in {settings.runs_dir} or the store; start one with `mlops-nb run`",
            run_id=ref,
        )
    if ref == "latest":
        return records[-1]
    matches = [r for r in records if str(r["id"]).startswith(ref)]
    if len(matches) != 1:
        problem = "matches no run" if not matches else f"matches {len(matches)} runs"
        raise RunNotFoundError(
            f"run id '{ref}' {problem}; see `mlops-nb runs list` (or use 'latest')", run_id=ref
        )
    return matches[0]


def run_folder(settings: Settings, run_id: str, *, report_only: bool = True) -> Path:
    """The local folder of ``run_id``, fetched from the artifact location if needed."""
    local = settings.runs_dir / run_id
    if (local / archive.RUN_FILE).is_file() and not artifact_location(settings).publishes:
        return local
    with RunIndex(settings) as index:
        return index.materialize(run_id, report_only=report_only)
