"""The inference log: every served prediction, for the monitoring stage to read back.

A table of a store backend (:mod:`mlops_nb.store`, component ``inference``):
by default one SQLite file per model, ``outputs/inference/<model>.db`` (WAL
mode, so several servers and readers can use it at once); one row per request:
its time, model version, request id, and the inputs and outputs as columnar
JSON (``{"age": [31, 52], ...}``), which keeps each append to one small insert.

Writes happen on a background thread: a request only puts its arrays on a
queue (microseconds), and the writer inserts whatever has queued up in one
transaction. **Durability trade-off**: a prediction is answered before it is
on disk. A clean stop (``ServerHandle.stop()``, Ctrl+C, SIGTERM) writes
everything queued; a crash or ``kill -9`` loses what was still queued (usually
the last few milliseconds; at most :data:`MAX_QUEUED` requests, beyond which
new entries are dropped and counted rather than letting memory grow).
Committed rows survive a crash of the process; with ``synchronous=NORMAL``
the last commits may be lost on power failure.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_nb.config import Settings
from mlops_nb.errors import ServingError
from mlops_nb.jsonvalues import finite_list
from mlops_nb.registry.names import validate_name
from mlops_nb.store import Backend, Connection, SQLiteBackend, open_backend

__all__ = [
    "InferenceLog",
    "LogEntry",
    "inference_backend",
    "inference_log_path",
    "read_inference_log",
]

logger = logging.getLogger(__name__)

MAX_QUEUED = 100_000
MAX_BATCH = 500
COMPONENT = "inference"
STEPS: tuple[str, ...] = (
    # IF NOT EXISTS: logs written before the schema was versioned already hold the table
    """
    CREATE TABLE IF NOT EXISTS inference_log (
        id {id},
        at {real} NOT NULL,
        model TEXT NOT NULL,
        version INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        rows INTEGER NOT NULL,
        inputs TEXT NOT NULL,
        outputs TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS inference_log_at ON inference_log (at)
    """,
)
META_COLUMNS = ["prediction", "model", "version", "request_id", "timestamp"]
STOP = None


def inference_log_path(settings: Settings, model: str) -> Path:
    """``<outputs>/inference/<model>.db``.

    Raises:
        RegistryError: ``model`` is not a model name (``../x`` would leave the folder).
    """
    return settings.outputs / "inference" / f"{validate_name(model)}.db"


def inference_backend(settings: Settings, model: str) -> Backend:
    """The store holding ``model``'s inference log.

    By default its own SQLite file (``outputs/inference/<model>.db``: a busy
    server never waits for the project database); with a team store, the
    store's ``inference_log`` table, so monitoring on any machine reads it.
    """
    if settings.store:
        return open_backend(settings)
    return SQLiteBackend(inference_log_path(settings, model))


@dataclass(frozen=True)
class LogEntry:
    """One served request: checked input columns and model outputs (numpy arrays)."""

    at: float
    model: str
    version: int
    request_id: str
    inputs: Mapping[str, list[Any]]
    predictions: np.ndarray
    probabilities: np.ndarray | None
    classes: tuple[str, ...]


def _row(entry: LogEntry) -> tuple[Any, ...]:
    inputs = entry.inputs
    outputs: dict[str, Any] = {"prediction": finite_list(entry.predictions)}
    if entry.probabilities is not None:
        outputs["probabilities"] = {
            label: finite_list(entry.probabilities[:, i]) for i, label in enumerate(entry.classes)
        }
    return (
        entry.at,
        entry.model,
        entry.version,
        entry.request_id,
        len(entry.predictions),
        json.dumps(inputs, allow_nan=False),
        json.dumps(outputs, allow_nan=False),
    )


class InferenceLog:
    """Appends served predictions to a store from a background thread.

    Args:
        location: A store backend, or the path of a SQLite file (created with
            its folder if needed).
    """

    def __init__(self, location: Path | str | Backend) -> None:
        if isinstance(location, str | Path):
            location = SQLiteBackend(Path(location))
        self.backend = location
        self.path = self.backend.display_url
        with self.backend.translated("create the inference log in"):
            conn = self.backend.connect()
            try:
                self.backend.migrate(conn, COMPONENT, STEPS)
            finally:
                conn.close()
        self._queue: queue.Queue[LogEntry | None] = queue.Queue(MAX_QUEUED)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.written = 0
        self.dropped = 0

    def append(self, entry: LogEntry) -> None:
        """Queue ``entry`` for writing; never blocks (drops and counts when the queue is full)."""
        if self._thread is None:
            self._start()
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self.dropped += 1
            logger.warning("inference log queue full; dropped request %s", entry.request_id)

    @property
    def pending(self) -> int:
        """Entries queued but not yet written."""
        return self._queue.qsize()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="inference-log", daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        conn = self.backend.connect()
        try:
            while True:
                batch = [self._queue.get()]
                while len(batch) < MAX_BATCH and batch[-1] is not STOP:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                entries = [entry for entry in batch if entry is not STOP]
                if entries:
                    self._write(conn, entries)
                if batch[-1] is STOP:
                    return
        finally:
            conn.close()

    def _write(self, conn: Connection, entries: list[LogEntry]) -> None:
        try:
            rows = [_row(entry) for entry in entries]
            with self.backend.transaction(conn):
                conn.executemany(
                    "INSERT INTO inference_log (at, model, version, request_id, rows, inputs, "
                    "outputs) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            self.written += len(entries)
        except Exception:  # the log must never take the server down: count and report
            self.dropped += len(entries)
            logger.exception("could not write %d entries to %s", len(entries), self.path)

    def close(self, timeout: float = 30.0) -> None:
        """Write everything queued, then stop the writer thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(STOP)
            thread.join(timeout)


def _has_log(conn: Connection) -> bool:
    """Whether an unversioned (older) log holds the table."""
    try:
        conn.execute("SELECT 1 FROM inference_log LIMIT 1")
    except Exception:
        return False
    return True


def _since(value: datetime | str | float | None) -> float:
    if value is None:
        return float("-inf")
    if isinstance(value, (int, float)):
        return float(value)
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(datetime.now().astimezone().tzinfo)
    return float(stamp.timestamp())


def _locate(source: Settings | str | Path | Backend, model: str) -> Backend:
    if isinstance(source, Settings):
        return inference_backend(source, model)
    if not isinstance(source, str | Path):
        return source
    path = Path(source).expanduser()
    return SQLiteBackend(path / f"{validate_name(model)}.db" if path.is_dir() else path)


def _columns(rows: list[Any]) -> dict[str, list[Any]]:
    data: dict[str, list[Any]] = {}
    done = 0
    for row in rows:
        count = int(row["rows"])
        parts = [json.loads(row["inputs"]), json.loads(row["outputs"])]
        values = {**parts[0], "prediction": parts[1]["prediction"]}
        for label, probs in (parts[1].get("probabilities") or {}).items():
            values[f"proba_{label}"] = probs
        values |= {
            "model": [row["model"]] * count,
            "version": [int(row["version"])] * count,
            "request_id": [row["request_id"]] * count,
            "timestamp": [row["at"]] * count,
        }
        for name, column in values.items():
            data.setdefault(name, [None] * done).extend(column)
        done += count
        for column in data.values():
            column.extend([None] * (done - len(column)))
    return data


def read_inference_log(
    source: Settings | str | Path | Backend,
    model: str,
    since: datetime | str | float | None = None,
) -> pd.DataFrame:
    """Read the predictions served for ``model`` back as a frame, oldest first.

    Args:
        source: The project settings (``outputs/inference/<model>.db``), a
            folder holding ``<model>.db``, the database file itself, or a
            store backend.
        model: The model name.
        since: Only requests at or after this time (datetime, ISO text, or
            Unix seconds; naive times are local).

    Returns:
        One row per predicted input row: the input columns, ``prediction``,
        ``proba_<class>`` per class (classifiers), ``model``,
        ``version``, ``request_id`` and ``timestamp`` (UTC).

    Raises:
        ServingError: No inference log exists for ``model`` there.
    """
    backend = _locate(source, model)
    where = backend.display_url
    if not backend.exists():
        raise ServingError(
            f"no inference log for model {model!r} at {where}; serve the model first "
            f"(mlops-nb serve {model}) or point read_inference_log at the right folder.",
            path=where,
        )
    try:
        conn = backend.connect()
        try:
            if backend.schema_version(conn, COMPONENT) == 0 and not _has_log(conn):
                raise ServingError(
                    f"no inference log for model {model!r} in {where}; serve the model first "
                    f"(mlops-nb serve {model}).",
                    path=where,
                )
            rows = conn.execute(
                "SELECT * FROM inference_log WHERE model = ? AND at >= ? ORDER BY at, id",
                (model, _since(since)),
            ).fetchall()
        finally:
            conn.close()
    except ServingError:
        raise
    except Exception as exc:
        if not backend.is_error(exc):
            raise
        raise ServingError(f"cannot read inference log {where}: {exc}", path=where) from exc
    frame = pd.DataFrame(_columns(rows))
    if frame.empty:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in META_COLUMNS}).assign(
            timestamp=pd.Series(dtype="datetime64[us, UTC]")
        )
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit="s", utc=True)
    return frame
