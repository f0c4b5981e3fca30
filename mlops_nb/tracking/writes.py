"""The SQL that writes runs: their row, a batch of buffered records, their end.

Each function runs inside a write transaction opened by the caller
(``Backend.transaction`` of :mod:`mlops_nb.store`), so a batch lands whole or
not at all. The SQL is the same on every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlops_nb.store import Connection
from mlops_nb.tracking.owner import Owner
from mlops_nb.tracking.values import typed_value

_UPSERT_PARAM = (
    "INSERT INTO tracking_params (run_id, key, value_num, value_text, json) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET "
    "value_num = excluded.value_num, value_text = excluded.value_text, json = excluded.json"
)
_INSERT_METRIC = (
    "INSERT INTO tracking_metrics (run_id, key, value, step, timestamp) VALUES (?, ?, ?, ?, ?)"
)
_UPSERT_LATEST = (
    "INSERT INTO tracking_latest_metrics (run_id, key, value, step, timestamp) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, "
    "step = excluded.step, timestamp = excluded.timestamp "
    "WHERE excluded.step >= tracking_latest_metrics.step"
)
_UPSERT_TAG = (
    "INSERT INTO tracking_tags (run_id, key, value) VALUES (?, ?, ?) "
    "ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value"
)
_UPSERT_ARTIFACT = (
    "INSERT INTO tracking_artifacts (run_id, path, sha256, bytes, logged_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id, path) DO UPDATE SET "
    "sha256 = excluded.sha256, bytes = excluded.bytes, logged_at = excluded.logged_at"
)


@dataclass
class Batch:
    """Records of one run waiting to be written.

    Attributes:
        params: key -> (comparable scalar, JSON text).
        metrics: (key, value, step, timestamp) in the order they were logged.
        tags: key -> text.
        artifacts: path -> (sha256, bytes, logged at).
    """

    params: dict[str, tuple[Any, str]] = field(default_factory=dict)
    metrics: list[tuple[str, float | None, int, float]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, tuple[str, int, float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.params) + len(self.metrics) + len(self.tags) + len(self.artifacts)

    def take(self) -> Batch:
        """Move every record into a new batch, leaving this one empty."""
        taken = Batch(self.params, self.metrics, self.tags, self.artifacts)
        self.params, self.metrics, self.tags, self.artifacts = {}, [], {}, {}
        return taken


def insert_run(
    conn: Connection,
    run_id: str,
    name: str,
    started: float,
    context: tuple[str | None, str | None, str | None],
    owner: Owner,
) -> None:
    """Insert a ``running`` run; ``context`` is (pipeline run, stage, parent)."""
    pipeline_run, stage, parent = context
    conn.execute(
        "INSERT INTO tracking_runs (run_id, name, status, start_time, pipeline_run, stage, "
        "parent, host, pid, pid_started) VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?)",
        (run_id, name, started, pipeline_run, stage, parent, *owner),
    )


def write_batch(conn: Connection, run_id: str, batch: Batch) -> None:
    """Write a batch: params, tags and artifacts replace, metrics append."""
    if batch.params:
        conn.executemany(
            _UPSERT_PARAM,
            [
                (run_id, key, *typed_value(scalar), text)
                for key, (scalar, text) in batch.params.items()
            ],
        )
    if batch.metrics:
        conn.executemany(_INSERT_METRIC, [(run_id, *row) for row in batch.metrics])
        conn.executemany(_UPSERT_LATEST, [(run_id, *row) for row in _latest(batch.metrics)])
    if batch.tags:
        conn.executemany(_UPSERT_TAG, [(run_id, *pair) for pair in batch.tags.items()])
    if batch.artifacts:
        conn.executemany(
            _UPSERT_ARTIFACT, [(run_id, path, *rest) for path, rest in batch.artifacts.items()]
        )


def _latest(
    metrics: list[tuple[str, float | None, int, float]],
) -> list[tuple[str, float | None, int, float]]:
    """Per key, the row with the highest step, the last logged among equal steps."""
    latest: dict[str, tuple[str, float | None, int, float]] = {}
    for row in metrics:
        seen = latest.get(row[0])
        if seen is None or row[2] >= seen[2]:
            latest[row[0]] = row
    return list(latest.values())


def end_run(conn: Connection, run_id: str, status: str, ended: float) -> None:
    """Mark a run as ended with ``status``."""
    conn.execute(
        "UPDATE tracking_runs SET status = ?, end_time = ? WHERE run_id = ?",
        (status, ended, run_id),
    )


def run_exists(conn: Connection, run_id: str) -> bool:
    """Whether ``run_id`` is a run in this database."""
    found = conn.execute("SELECT 1 FROM tracking_runs WHERE run_id = ?", (run_id,)).fetchone()
    return found is not None
