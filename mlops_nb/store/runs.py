"""The run index: every pipeline run's record in the store, and its published files.

The runner saves each run's record (what ``run.json`` holds) here at every
state change, so ``runs list``/``runs show`` on any machine sharing the store
see every run, running ones included. When the project publishes to an
artifact location (:mod:`mlops_nb.store.files`), each finished stage's folder,
``run.json`` and ``index.html`` are published first and their manifest
(relative path → SHA-256) is committed with the record: a reader sees a stage's
files only once all of them are published, and :meth:`RunIndex.materialize`
brings a run (or one stage of it) into the local outputs folder, each file
verified.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlops_nb.config import Settings
from mlops_nb.errors import RunNotFoundError
from mlops_nb.store import Connection, artifact_location, open_backend

__all__ = ["COMPONENT", "REPORT_SUFFIXES", "STEPS", "TOP_FILES", "RunIndex"]

COMPONENT = "runs"
STEPS: tuple[str, ...] = (
    """
    CREATE TABLE pipeline_runs (
        run_id     TEXT PRIMARY KEY,
        pipeline   TEXT NOT NULL,
        status     TEXT NOT NULL,
        started_at TEXT,
        host       TEXT,
        record     TEXT NOT NULL,
        files      TEXT NOT NULL,
        updated    {real} NOT NULL
    ) {without_rowid};
    CREATE INDEX pipeline_runs_pipeline ON pipeline_runs (pipeline, run_id)
    """,
)
TOP_FILES = ("run.json", "index.html")
REPORT_SUFFIXES = frozenset({".html", ".json", ".ipynb", ".png", ".svg", ".md", ".yaml", ".log"})
"""What a run report links to; data files (Parquet, models) are fetched only when asked."""


class RunIndex:
    """The runs of a project's store (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.backend = open_backend(settings)
        self.location = artifact_location(settings)
        self._conn: Connection | None = None
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> RunIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def publishes(self) -> bool:
        return self.location.publishes

    def check(self) -> None:
        """Open the store now, so that an unreachable one is a clear error before a run starts."""
        with self._connection():
            pass

    def save(
        self,
        record: dict[str, Any],
        run_dir: Path,
        folders: Iterable[str] = (),
        published: dict[str, dict[str, str]] | None = None,
    ) -> None:
        """Store ``record``; first publish the files of ``folders`` and the top files.

        ``folders`` are stage folders (relative to ``run_dir``) that just
        finished; files already in the manifest with the same digest are kept.
        ``published`` gives the manifests of stage folders a remote worker has
        already published (folder → relative path → SHA-256).
        """
        files = self._files(record["id"])
        for folder, manifest in (published or {}).items():
            files.update({f"{folder}/{name}": sha for name, sha in manifest.items()})
        if self.publishes:
            for folder in folders:
                local = run_dir / folder
                if local.is_dir():
                    put = self.location.put_folder(local)
                    files.update({f"{folder}/{name}": sha for name, sha in put.items()})
            for name in TOP_FILES:
                if (run_dir / name).is_file():
                    files[name] = self.location.put(run_dir / name)
        with self._connection() as conn, self.backend.transaction(conn):
            conn.execute(
                "INSERT INTO pipeline_runs (run_id, pipeline, status, started_at, host, record, "
                "files, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE "
                "SET status = excluded.status, record = excluded.record, "
                "files = excluded.files, updated = excluded.updated",
                (
                    record["id"],
                    str(record.get("pipeline")),
                    str(record.get("status")),
                    record.get("started_at"),
                    record.get("host"),
                    json.dumps(record, default=str),
                    json.dumps(files, sort_keys=True),
                    time.time(),
                ),
            )

    def records(self, pipeline: str | None = None) -> list[dict[str, Any]]:
        """Every indexed run's record, oldest first (ids sort by start time)."""
        sql, args = "SELECT record FROM pipeline_runs", []
        if pipeline is not None:
            sql, args = sql + " WHERE pipeline = ?", [pipeline]
        with self._connection() as conn:
            rows = conn.rows(sql + " ORDER BY run_id", args)
        return [json.loads(text) for (text,) in rows]

    def record(self, run_id: str) -> dict[str, Any] | None:
        with self._connection() as conn:
            rows = conn.rows("SELECT record FROM pipeline_runs WHERE run_id = ?", (run_id,))
        return json.loads(rows[0][0]) if rows else None

    def materialize(
        self, run_id: str, folder: str | None = None, *, report_only: bool = False
    ) -> Path:
        """The run's local folder, its published files fetched (and verified) as needed.

        ``folder`` limits it to one stage folder (``02_validate``) plus the top
        files; ``report_only`` to what the run report shows (HTML, notebooks,
        manifests, figures: not the data). Without an artifact location, the
        folder is returned as it is.

        Raises:
            RunNotFoundError: the run is neither indexed nor archived here.
            StoreError: a published file is missing or was changed.
        """
        local = self.settings.runs_dir / run_id
        files = self._files(run_id)
        if not files:
            if local.is_dir():
                return local
            raise RunNotFoundError(
                f"no run {run_id} in {self.settings.runs_dir} and none published in the "
                f"store: `mlops-nb runs list` shows the runs there.",
                run_id=run_id,
            )
        wanted = {
            name: sha
            for name, sha in files.items()
            if (folder is None or name in TOP_FILES or name.startswith(f"{folder}/"))
            and (not report_only or Path(name).suffix in REPORT_SUFFIXES)
        }
        return self.location.fetch_folder(wanted, local)

    def materialize_stage(self, run_id: str, stage: str) -> Path | None:
        """The local folder of ``stage`` (by name) of run ``run_id``, fetched if published.

        Returns None when the run has no such stage folder here or in the store.
        """
        local = self.settings.runs_dir / run_id
        pattern = re.compile(rf"^\d+_{re.escape(stage)}$")
        found = [p for p in local.iterdir() if pattern.match(p.name)] if local.is_dir() else []
        if found and not self.publishes:
            return found[0]
        names = {name.split("/", 1)[0] for name in self._files(run_id) if "/" in name}
        folders = sorted(name for name in names if pattern.match(name))
        if not folders:
            return found[0] if found else None
        self.materialize(run_id, folders[0])
        return local / folders[0]

    def files(self, run_id: str) -> dict[str, str]:
        """The run's published files: relative path → SHA-256 (empty: none published)."""
        return self._files(run_id)

    def forget(self, run_id: str) -> bool:
        """Remove run ``run_id`` from the index (``runs gc``); whether it was there.

        Its files on the artifact location are content-addressed and may be
        shared with other runs, so they stay.
        """
        with self._connection() as conn, self.backend.transaction(conn):
            known = conn.rows("SELECT run_id FROM pipeline_runs WHERE run_id = ?", (run_id,))
            conn.execute("DELETE FROM pipeline_runs WHERE run_id = ?", (run_id,))
        return bool(known)

    def _files(self, run_id: str) -> dict[str, str]:
        with self._connection() as conn:
            rows = conn.rows("SELECT files FROM pipeline_runs WHERE run_id = ?", (run_id,))
        return dict(json.loads(rows[0][0])) if rows else {}

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """The index's connection (opened, and the table migrated, on first use)."""
        with self._lock, self.backend.translated("use the run index of"):
            if self._conn is None:
                conn = self.backend.connect()
                self.backend.migrate(conn, COMPONENT, STEPS)
                self._conn = conn
            yield self._conn
