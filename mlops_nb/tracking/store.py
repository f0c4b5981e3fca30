"""The tracking store: runs, params, metrics, tags and artifacts in the project database.

::

    store = TrackingStore.from_settings()            # outputs/mlops.db
    with store.start_run("rf", pipeline_run=run_id, stage="train") as run:
        run.log_params({"max_depth": 5})
        for fold, score in enumerate(scores):
            run.log_metric("cv_roc_auc", score, step=fold)
    store.search_runs("metrics.cv_roc_auc > 0.8 and params.max_depth <= 5")

The rows live in a store backend (:mod:`mlops_nb.store`: the project's SQLite
file by default). Several processes may write to the same database at once:
every write is one short transaction, waited for and retried while another
process holds the lock. Records are buffered per run (see
:mod:`mlops_nb.tracking.runs`). A store may be shared by the threads of a
process (its connection is guarded by a lock), and survives a ``fork``: the
child opens its own connection and drops the rows the parent had buffered (the
fork and exit hooks are installed when the first store is created, not on
import).
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from mlops_nb.config import Settings, load_settings
from mlops_nb.errors import RunNotFoundError, TrackingError
from mlops_nb.ids import tracking_run_id
from mlops_nb.store import Backend, Connection, as_backend, open_backend
from mlops_nb.tracking import schema
from mlops_nb.tracking.owner import current_owner, is_alive
from mlops_nb.tracking.runs import Run
from mlops_nb.tracking.values import check_key, tag_value
from mlops_nb.tracking.writes import Batch, end_run, insert_run, run_exists, write_batch

if TYPE_CHECKING:
    import pandas as pd


FLUSH_EVERY = 1000
_log = logging.getLogger(__name__)
_STORES: weakref.WeakSet[TrackingStore] = weakref.WeakSet()
_INHERITED: list[Connection] = []  # a parent's connections, kept open on purpose


class TrackingStore:
    """Runs and what they logged, in a store backend.

    Args:
        location: A store backend (:mod:`mlops_nb.store`), or the path of a
            SQLite file (created, with its folder, if missing).
        flush_every: How many buffered records a run writes at once.

    Raises:
        StoreError: the store cannot be opened, or was written by a newer mlops-nb.
    """

    def __init__(self, location: str | Path | Backend, *, flush_every: int = FLUSH_EVERY) -> None:
        if flush_every < 1:
            raise TrackingError(f"flush_every must be at least 1, not {flush_every}")
        self.backend = as_backend(location)
        self.flush_every = flush_every
        self._lock = threading.RLock()
        self._open: dict[str, Run] = {}
        self._conn: Connection | None = None
        with self._translated("open the tracking tables of"):
            self.backend.migrate(self._connection(), schema.COMPONENT, schema.STEPS)
        _install_hooks()
        _STORES.add(self)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **options: Any) -> TrackingStore:
        """The store of a project (``outputs/mlops.db``); ``options`` go to the constructor."""
        return cls(open_backend(settings or load_settings()), **options)

    @property
    def path(self) -> Path | None:
        """The database file of a SQLite store (None for a server database)."""
        path = getattr(self.backend, "path", None)
        return path if isinstance(path, Path) else None

    @property
    def location(self) -> str:
        """Where the store is, fit for messages (a file path, or a URL without password)."""
        return self.backend.display_url

    def __repr__(self) -> str:
        return f"TrackingStore({self.location!r})"

    def __enter__(self) -> TrackingStore:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Flush open runs and close the connection (runs stay open; a new store can end them)."""
        with self._lock:
            self.flush()
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def start_run(
        self,
        name: str | None = None,
        *,
        pipeline_run: str | None = None,
        stage: str | None = None,
        parent: str | Run | None = None,
        tags: dict[str, Any] | None = None,
    ) -> Run:
        """Start a run (status ``running``) and return it; use it as a context manager.

        Args:
            name: A short label (defaults to ``stage``, else ``"run"``); need not be unique.
            pipeline_run: The id of the pipeline run this run belongs to.
            stage: The pipeline stage that made the run.
            parent: The parent run (or its id), for nested runs such as tuning trials.
            tags: Initial tags, written with the run.

        Raises:
            RunNotFoundError: ``parent`` is not a run of this store.
        """
        label = str(name or stage or "run")
        parent_id = parent.id if isinstance(parent, Run) else parent
        initial = Batch(
            tags={check_key(k, "tag"): tag_value(k, v) for k, v in (tags or {}).items()}
        )
        run = Run(self, tracking_run_id(), label, self.flush_every)
        context = (_text(pipeline_run), _text(stage), _text(parent_id))
        with self._lock, self._translated("start a run in"):
            with self.backend.transaction(self._connection()) as conn:
                if parent_id is not None and not run_exists(conn, str(parent_id)):
                    raise RunNotFoundError(
                        f"cannot start run '{label}': its parent {parent_id} is not a run in "
                        f"{self.location}; pass the id of an existing run (or no parent)",
                        run_id=parent_id,
                    )
                insert_run(conn, run.id, label, time.time(), context, current_owner())
                write_batch(conn, run.id, initial)
            self._open[run.id] = run
        return run

    def flush(self) -> None:
        """Write what every open run of this store has buffered."""
        with self._lock:
            for run in list(self._open.values()):
                run.flush()

    def get_run(self, run_id: str) -> dict[str, Any]:
        """Everything about a run, as a dict.

        Keys: the attributes (times as UTC datetimes), ``params``, ``metrics``
        (latest values), ``tags`` and ``artifacts`` (path, sha256, bytes, logged_at).

        Raises:
            RunNotFoundError: no run has this id.
        """
        from mlops_nb.tracking import reads  # pandas: imported on a first query, not to log

        self._mark_interrupted()
        with self._reading() as conn:
            return reads.run_record(conn, run_id)

    def params(self, run_id: str) -> dict[str, Any]:
        """A run's params, with the types they were logged with."""
        from mlops_nb.tracking import reads  # pandas: imported on a first query, not to log

        with self._reading() as conn:
            reads.require_runs(conn, [run_id])
            return reads.params_of(conn, run_id)

    def metrics(self, run_id: str) -> dict[str, float]:
        """A run's latest metric values."""
        from mlops_nb.tracking import reads  # pandas: imported on a first query, not to log

        with self._reading() as conn:
            reads.require_runs(conn, [run_id])
            return reads.metrics_of(conn, run_id)

    def tags(self, run_id: str) -> dict[str, str]:
        """A run's tags."""
        from mlops_nb.tracking import reads  # pandas: imported on a first query, not to log

        with self._reading() as conn:
            reads.require_runs(conn, [run_id])
            return reads.tags_of(conn, run_id)

    def metric_history(self, run_id: str, key: str | None = None) -> pd.DataFrame:
        """Every value logged for a run's metrics (or just ``key``).

        Returns:
            Columns ``key``, ``value``, ``step``, ``timestamp`` (UTC), ordered by
            key, step and time.
        """
        from mlops_nb.tracking import reads  # pandas: imported on a first query, not to log

        with self._reading() as conn:
            reads.require_runs(conn, [run_id])
            return reads.metric_history(conn, run_id, key)

    def search_runs(
        self,
        filter: str | None = None,
        *,
        pipeline_run: str | None = None,
        stage: str | None = None,
        order_by: str | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Runs matching a filter, one row each (see :mod:`mlops_nb.tracking.search`).

        Args:
            filter: Conditions joined by ``and``, e.g.
                ``"metrics.cv_roc_auc > 0.8 and params.model = 'rf'"``.
            pipeline_run: Only runs of this pipeline run.
            stage: Only runs of this stage.
            order_by: E.g. ``"metrics.cv_roc_auc desc"``; newest first by default.
            limit: At most this many runs.

        Returns:
            Columns ``run_id``, ``name``, ``status``, ``start_time``, ``end_time``,
            ``pipeline_run``, ``stage``, ``parent``, then ``params.*``,
            ``metrics.*`` (latest values) and ``tags.*``, each sorted by key.
            No match gives an empty frame with the run columns.

        Raises:
            FilterError: the filter or ordering cannot be read (the message points at
                the offending token).
        """
        from mlops_nb.tracking import reads, search

        conditions = search.parse_filter(filter)
        orderings = search.parse_order(order_by)
        for column, value in (("pipeline_run", pipeline_run), ("stage", stage)):
            if value is not None:
                conditions.append(search.Condition("attributes", column, "=", str(value)))
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise TrackingError(f"limit must be a whole number >= 0 or None, not {limit!r}")
        self._mark_interrupted()
        with self._reading() as conn:
            where = search.where_sql(conditions, conn.dialect)
            return reads.search(conn, where, search.order_sql(orderings), limit)

    def compare_runs(self, run_ids: Sequence[str]) -> pd.DataFrame:
        """Params and latest metrics of runs side by side.

        Returns:
            A row per ``params.<key>`` and ``metrics.<key>`` (index ``key``), a
            column per run id, and a ``differs`` column.
        """
        from mlops_nb.tracking import reads  # pandas: imported on a first query, not to log

        with self._reading() as conn:
            return reads.compare(conn, [str(run_id) for run_id in run_ids])

    def _write_batch(self, run: Run, batch: Batch, end: str | None = None) -> None:
        """Write a run's batch, and end it when ``end`` is a status, in one transaction."""
        with self._lock, self._translated(f"write run {run.id} to"):
            with self.backend.transaction(self._connection()) as conn:
                write_batch(conn, run.id, batch)
                if end is not None:
                    end_run(conn, run.id, end, time.time())
            if end is not None:
                self._open.pop(run.id, None)

    def _mark_interrupted(self) -> None:
        """Mark runs whose process has died as ``interrupted``."""
        with self._lock, self._translated("check the running runs of"):
            conn = self._connection()
            running = conn.execute(
                "SELECT run_id, host, pid, pid_started FROM tracking_runs WHERE status = 'running'"
            ).fetchall()
            dead = [(row[0],) for row in running if not is_alive(*tuple(row)[1:])]
            if dead:
                with self.backend.transaction(conn):
                    conn.executemany(
                        "UPDATE tracking_runs SET status = 'interrupted' "
                        "WHERE run_id = ? AND status = 'running'",
                        dead,
                    )

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A consistent read snapshot, after writing what open runs have buffered."""
        with self._lock:
            self.flush()
            with self._translated("read"), self.backend.read(self._connection()) as conn:
                yield conn

    def _translated(self, action: str) -> AbstractContextManager[None]:
        """Turn driver errors into StoreError, naming the store and a fix."""
        return self.backend.translated(f"{action} the tracking tables of")

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self.backend.connect()
        return self._conn

    def _after_fork(self) -> None:
        """In a forked child: use a new connection and drop the parent's buffered rows."""
        self._lock = threading.RLock()
        if self._conn is not None:
            _INHERITED.append(self._conn)  # closing it could disturb the parent's locks
            self._conn = None
        for run in self._open.values():
            run._discard_buffer()
        self._open.clear()

    def _end_open_runs(self, status: str) -> None:
        for run in list(self._open.values()):
            try:
                run.end(status)
            except Exception:  # at exit there is nobody left to raise to
                _log.warning("could not end tracking run %s", run.id, exc_info=True)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _after_fork_in_child() -> None:
    for store in list(_STORES):
        store._after_fork()


def _at_exit() -> None:
    """Flush runs left open when the interpreter exits and mark them interrupted."""
    for store in list(_STORES):
        store._end_open_runs("interrupted")


@functools.cache
def _install_hooks() -> None:
    """Once per process, on the first store: drop inherited state after a fork, end runs at exit."""
    os.register_at_fork(after_in_child=_after_fork_in_child)
    atexit.register(_at_exit)
