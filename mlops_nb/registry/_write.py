"""Writing a new version: its metadata, the move into place and its row."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_nb.environment import model_environment
from mlops_nb.errors import RegistryError
from mlops_nb.registry import _db, package
from mlops_nb.store import Connection

__all__ = ["describe", "insert_version", "place", "refuse_case_clash"]


def describe(
    *,
    task: str,
    target: str,
    metrics: dict[str, float],
    params: dict[str, Any] | None,
    slices: pd.DataFrame | None,
    training_rows: int | None,
    report_url: str | None,
    lineage: dict[str, str | None],
    texts: dict[str, str],
) -> dict[str, Any]:
    """The metadata of a version, less what is known only when it is numbered."""
    for label, value in (("task", task), ("target", target)):
        if not isinstance(value, str) or not value.strip():
            raise RegistryError(f"{label} must be non-empty text, got {value!r}.")
    for label, value in texts.items():
        if not isinstance(value, str):
            raise RegistryError(f"{label} must be text, got {type(value).__name__}.")
    if params is not None and not isinstance(params, dict):
        raise RegistryError(f"params must be a dict, got {type(params).__name__}.")
    return {
        "format": 1,
        "task": task,
        "target": target,
        **texts,
        "metrics": package.metric_values(metrics),
        "params": params or {},
        "slices": package.slice_records(slices),
        "data": {"rows": training_rows},
        "lineage": lineage,
        "report_url": report_url,
        "environment": model_environment(),
    }


def refuse_case_clash(conn: Connection, name: str) -> None:
    row = conn.execute(
        "SELECT name FROM registry_versions WHERE lower(name) = lower(?) AND name <> ? LIMIT 1",
        (name, name),
    ).fetchone()
    if row is not None:
        raise RegistryError(
            f"model name {name!r} differs only in case from the registered model "
            f"{row[0]!r}; their folders would collide on case-insensitive file systems. "
            f"Use {row[0]!r} or another name.",
            model=name,
        )


def place(staging: Path, target: Path) -> Path:
    """Move the finished package to ``target``; a stray folder there is set aside.

    A folder without a row can only be left by a process killed between the
    move and the commit; it is renamed ``.orphan-...`` rather than deleted.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        aside = target.parent / f".orphan-{target.name}-{_db.now().replace(':', '')}"
        os.replace(target, aside)
    os.chmod(staging, 0o755)
    os.replace(staging, target)
    return target


def insert_version(
    conn: Connection, meta: dict[str, Any], path: str, files: dict[str, str] | None = None
) -> None:
    lineage = meta["lineage"]
    conn.execute(
        "INSERT INTO registry_versions (name, version, created_at, status, task, target, metrics, "
        "data_version, pipeline_run, training_run, path, sha256, files, registered_by) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            meta["name"],
            meta["version"],
            meta["created_at"],
            "active",
            meta["task"],
            meta["target"],
            json.dumps(meta["metrics"]),
            lineage["data_version"],
            lineage["pipeline_run"],
            lineage["training_run"],
            path,
            meta["model"]["sha256"],
            None if files is None else json.dumps(files, sort_keys=True),
            meta.get("registered_by"),
        ),
    )
