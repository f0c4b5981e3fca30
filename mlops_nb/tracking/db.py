"""The embedded SQLite database shared by tracking and the registry.

One file (``outputs/mlops.db``), opened in WAL mode so readers never block the
writer, with a busy timeout and a retry around every write transaction, so that
several processes (parallel stages, a notebook, the CLI) can write at once
without "database is locked" ever reaching a user. Transactions are short and
``BEGIN IMMEDIATE``, taking the write lock up front instead of failing midway.

Each component (``tracking``, ``registry``) versions its own tables in the
``schema_version`` table and migrates them forward with :func:`migrate`.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from mlops_nb.errors import StoreError

BUSY_TIMEOUT_MS = 30_000
RETRY_SECONDS = 120.0

T = TypeVar("T")


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the database at ``path`` with safe settings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        _retry(lambda: conn.execute("PRAGMA journal_mode=WAL"))
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"cannot open the database {path}: {exc}; if the file is damaged, move it aside "
            f"(runs under outputs/runs stay readable) and run again",
            path=path,
        ) from exc
    conn.row_factory = sqlite3.Row
    return conn


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _retry(action: Callable[[], T], deadline: float | None = None) -> T:
    """Run ``action`` again while the database is busy, with jittered backoff.

    Raises:
        StoreError: the database stayed busy past the deadline (``RETRY_SECONDS``).
    """
    started = time.monotonic()
    deadline = deadline or started + RETRY_SECONDS
    delay = 0.01
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
            if time.monotonic() > deadline:
                waited = time.monotonic() - started
                raise StoreError(
                    f"the database stayed busy for {waited:.0f} s ({exc}): another process "
                    f"holds its write lock; let it finish (or stop it) and try again",
                ) from exc
        time.sleep(delay * (1 + random.random()))
        delay = min(delay * 2, 0.5)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A short write transaction (``BEGIN IMMEDIATE``), retried while the database is busy.

    Everything in the block commits together or not at all.
    """
    _retry(lambda: conn.execute("BEGIN IMMEDIATE"))
    try:
        yield conn
        _retry(lambda: conn.execute("COMMIT"))
    except BaseException:
        if conn.in_transaction:  # SQLite may already have rolled back (disk full, I/O error)
            conn.execute("ROLLBACK")
        raise


def schema_version(conn: sqlite3.Connection, component: str) -> int:
    """The schema version of ``component`` in this database (0 when absent)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    row = conn.execute(
        "SELECT version FROM schema_version WHERE component = ?", (component,)
    ).fetchone()
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection, component: str, steps: Sequence[str]) -> int:
    """Bring ``component``'s tables to ``len(steps)``; step *i* is the SQL of version *i+1*.

    A database newer than this code (written by a later mlops-nb) is refused
    rather than misread.
    """
    if _stored_version(conn, component) == len(steps):
        return len(steps)  # up to date: no write lock taken, so opening never waits
    with transaction(conn):
        current = schema_version(conn, component)
        if current > len(steps):
            raise StoreError(
                f"the database's {component} schema is version {current}, newer than this "
                f"mlops-nb understands ({len(steps)}); upgrade mlops-nb",
                component=component,
            )
        for number in range(current, len(steps)):
            for statement in _statements(steps[number]):
                conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_version (component, version) VALUES (?, ?) "
            "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
            (component, len(steps)),
        )
    return len(steps)


def _stored_version(conn: sqlite3.Connection, component: str) -> int:
    """The version of ``component`` read without writing (0 when nothing is recorded)."""
    table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if table is None:
        return 0
    row = conn.execute(
        "SELECT version FROM schema_version WHERE component = ?", (component,)
    ).fetchone()
    return int(row[0]) if row else 0


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]
