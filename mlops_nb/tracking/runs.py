"""A tracked run: what a notebook or script logs params, metrics, tags and artifacts to.

Logging only appends to an in-memory buffer; the buffer is written in one
short transaction when it holds ``flush_every`` records, on :meth:`Run.flush`,
when the run ends, and before the store that made it answers a query (so
reads through the same store see everything logged through it). If the process
dies, only the records not yet flushed are lost; the run itself is reported as
``interrupted`` from then on.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from mlops_nb import artifacts
from mlops_nb.errors import TrackingError
from mlops_nb.tracking.values import (
    check_key,
    metric_step,
    metric_value,
    param_value,
    tag_value,
)
from mlops_nb.tracking.writes import Batch

if TYPE_CHECKING:
    from mlops_nb.tracking.store import TrackingStore

FINAL_STATUSES = ("finished", "failed", "interrupted")


class Run:
    """One run of the tracking store; made by :meth:`TrackingStore.start_run`.

    Use it as a context manager: leaving the block flushes the buffer and ends
    the run as ``finished``, or ``failed`` if an exception escaped
    (``interrupted`` for KeyboardInterrupt and other non-``Exception`` exits).

    Attributes:
        id: The run's id, unique and sortable by start time.
        name: The run's name.
        status: ``running`` until the run ends, then one of ``FINAL_STATUSES``.
    """

    def __init__(self, store: TrackingStore, run_id: str, name: str, flush_every: int) -> None:
        self.id = run_id
        self.name = name
        self.status = "running"
        self._store = store
        self._flush_every = flush_every
        self._buffer = Batch()
        self._metric_keys: set[str] = set()

    def __repr__(self) -> str:
        return f"Run({self.name!r}, id={self.id!r}, status={self.status!r})"

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.status != "running":
            return
        if error is None:
            self.end("finished")
            return
        status = "failed" if isinstance(error, Exception) else "interrupted"
        try:
            self.end(status)
        except Exception as problem:  # never hide the user's error behind ours
            error.add_note(f"mlops-nb could not end tracking run {self.id}: {problem}")

    def log_param(self, key: str, value: Any) -> None:
        """Record a parameter; logging a key again replaces its value.

        The value keeps its type (int, float, bool, str, None, lists, dicts);
        objects JSON cannot hold are stored as their ``str()``.
        """
        self._check_open()
        self._buffer.params[check_key(key, "param")] = param_value(value)
        self._maybe_flush()

    def log_params(self, params: dict[str, Any]) -> None:
        """Record several parameters at once (see :meth:`log_param`)."""
        self._check_open()
        for key, value in params.items():
            self._buffer.params[check_key(key, "param")] = param_value(value)
        self._maybe_flush()

    def log_metric(self, key: str, value: float, step: int | None = None) -> None:
        """Record a metric value at ``step`` (0 when omitted); history is kept.

        The latest value of a key is the one with the highest step, the last
        logged among equal steps.
        """
        self._check_open()
        if key.__class__ is not str or key not in self._metric_keys:
            self._metric_keys.add(check_key(key, "metric"))
        self._buffer.metrics.append(
            (key, metric_value(key, value), metric_step(key, step), time.time())
        )
        if len(self._buffer.metrics) >= self._flush_every:
            self.flush()

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Record several metrics at the same step (see :meth:`log_metric`)."""
        self._check_open()
        now = time.time()
        rows = self._buffer.metrics
        for key, value in metrics.items():
            if key.__class__ is not str or key not in self._metric_keys:
                self._metric_keys.add(check_key(key, "metric"))
            rows.append((key, metric_value(key, value), metric_step(key, step), now))
        self._maybe_flush()

    def set_tag(self, key: str, value: Any) -> None:
        """Set a text tag; setting a key again replaces its value."""
        self._check_open()
        self._buffer.tags[check_key(key, "tag")] = tag_value(key, value)
        self._maybe_flush()

    def set_tags(self, tags: dict[str, Any]) -> None:
        """Set several tags at once (see :meth:`set_tag`)."""
        self._check_open()
        for key, value in tags.items():
            self._buffer.tags[check_key(key, "tag")] = tag_value(key, value)
        self._maybe_flush()

    def log_artifact(self, path: str | Path) -> str:
        """Record a file: its absolute path, sha256 and size. Returns the sha256.

        The file is hashed now; it is not copied. Logging the same path again
        replaces the record.
        """
        self._check_open()
        file = Path(path).expanduser().resolve()
        if not file.is_file():
            raise TrackingError(
                f"cannot log artifact {file}: it is not an existing file; write the file "
                f"first (log each file of a folder on its own)",
                path=file,
            )
        digest = artifacts.sha256(file)
        self._buffer.artifacts[file.as_posix()] = (digest, file.stat().st_size, time.time())
        self._maybe_flush()
        return digest

    def flush(self) -> None:
        """Write the buffered records now, in one transaction."""
        if len(self._buffer):
            self._write(end=None)

    def end(self, status: str = "finished") -> None:
        """Flush and end the run as ``status`` (finished, failed or interrupted)."""
        if status not in FINAL_STATUSES:
            raise TrackingError(
                f"cannot end run {self.id} as {status!r}; use one of {', '.join(FINAL_STATUSES)}",
                run_id=self.id,
            )
        self._check_open()
        self._write(end=status)
        self.status = status

    def _write(self, end: str | None) -> None:
        batch = self._buffer.take()
        try:
            self._store._write_batch(self, batch, end=end)
        except BaseException:
            self._buffer = batch  # kept for the next attempt
            raise

    def _check_open(self) -> None:
        if self.status != "running":
            raise TrackingError(
                f"run {self.id} ('{self.name}') has ended ({self.status}); start a new run "
                f"with store.start_run(...) to log more",
                run_id=self.id,
            )

    def _maybe_flush(self) -> None:
        if len(self._buffer) >= self._flush_every:
            self.flush()

    def _discard_buffer(self) -> None:
        """Forget buffered records (in a forked child: they belong to the parent)."""
        self._buffer = Batch()
