"""The embedded default: one SQLite file (``outputs/mlops.db``) shared by processes.

Opened in WAL mode so readers never block the writer, with a busy timeout and a
retry around every write transaction, so that several processes (parallel
stages, a notebook, the CLI) can write at once without "database is locked" ever
reaching a user. Transactions are short and ``BEGIN IMMEDIATE``, taking the
write lock up front instead of failing midway: every writer holds the whole
database alone, so the ``lock`` names of :meth:`SQLiteBackend.transaction` need
nothing more.

The retry loop is our own rather than tenacity's: it is imported on the path of
every tracking write, where tenacity costs ~55 ms of import and ~8 µs per call
against ~0.2 µs here (measured for issue 12), and its jittered wait helper warns
on the arguments this loop needs.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from mlops_nb.errors import StoreError
from mlops_nb.store.base import Connection, Dialect, Migration, apply

__all__ = [
    "BUSY_TIMEOUT_MS",
    "DIALECT",
    "RETRY_SECONDS",
    "SQLiteBackend",
    "SQLiteConnection",
    "connect",
    "migrate",
    "schema_version",
    "transaction",
]

BUSY_TIMEOUT_MS = 30_000
RETRY_SECONDS = 120.0

T = TypeVar("T")

DIALECT = Dialect(
    name="sqlite",
    types={
        "real": "REAL",
        "bigint": "INTEGER",
        "any": "",
        "id": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "without_rowid": " WITHOUT ROWID",
        "seq": "",
    },
    case_insensitive_like="LIKE",
    insert_order="rowid",
    ids_source_sql="json_each(?) {alias}",
    ids_as_json=True,
)


class SQLiteConnection(sqlite3.Connection):
    """A sqlite3 connection that knows its dialect and reads plain tuples in bulk."""

    dialect = DIALECT

    def rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self.cursor()
        cursor.row_factory = None  # plain tuples are faster than sqlite3.Row in bulk
        return cursor.execute(sql, parameters).fetchall()


def connect(path: Path) -> SQLiteConnection:
    """Open (creating if needed) the database at ``path`` with safe settings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(
            path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
            factory=SQLiteConnection,
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
def transaction(conn: SQLiteConnection) -> Iterator[SQLiteConnection]:
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
    if not _has_versions(conn):
        return 0
    row = conn.execute(
        "SELECT version FROM schema_version WHERE component = ?", (component,)
    ).fetchone()
    return int(row[0]) if row else 0


def migrate(conn: SQLiteConnection, component: str, steps: Sequence[Migration]) -> int:
    """Bring ``component``'s tables to ``len(steps)``; step *i* is the SQL of version *i+1*.

    A database newer than this code (written by a later mlops-nb) is refused
    rather than misread.
    """
    if schema_version(conn, component) == len(steps):
        return len(steps)  # up to date: no write lock taken, so opening never waits
    with transaction(conn):
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version "
            "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        current = schema_version(conn, component)
        if current > len(steps):
            raise StoreError(
                f"the database's {component} schema is version {current}, newer than this "
                f"mlops-nb understands ({len(steps)}); upgrade mlops-nb",
                component=component,
            )
        for step in steps[current:]:
            apply(conn, step)
        conn.execute(
            "INSERT INTO schema_version (component, version) VALUES (?, ?) "
            "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
            (component, len(steps)),
        )
    return len(steps)


def _has_versions(conn: sqlite3.Connection) -> bool:
    table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    return table is not None


class SQLiteBackend:
    """The store in one SQLite file (see the module docstring).

    Args:
        path: The database file (created, with its folder, on first connection).
    """

    dialect = DIALECT

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"

    def __repr__(self) -> str:
        return f"SQLiteBackend({str(self.path)!r})"

    @property
    def display_url(self) -> str:
        return str(self.path)

    def connect(self) -> SQLiteConnection:
        return connect(self.path)

    @contextmanager
    def transaction(
        self, conn: Connection, *, lock: str | None = None
    ) -> Iterator[SQLiteConnection]:
        with transaction(_sqlite(conn)) as inside:
            yield inside

    @contextmanager
    def read(self, conn: Connection) -> Iterator[SQLiteConnection]:
        connection = _sqlite(conn)
        connection.execute("BEGIN")
        try:
            yield connection
        finally:
            if connection.in_transaction:
                connection.execute("COMMIT")

    def migrate(self, conn: Connection, component: str, steps: Sequence[Migration]) -> int:
        return migrate(_sqlite(conn), component, steps)

    def schema_version(self, conn: Connection, component: str) -> int:
        return schema_version(_sqlite(conn), component)

    def exists(self) -> bool:
        """Whether the database file exists (nothing has been stored yet otherwise)."""
        return self.path.is_file()

    def is_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.Error)

    def integrity(self) -> list[str]:
        """``PRAGMA integrity_check`` and ``foreign_key_check`` of the file (none yet: nothing).

        Raises:
            StoreError: the file cannot be opened at all (permissions, a locked disk).
        """
        if not self.path.is_file():
            return []
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot open the database {self.path}: {exc}; check that the file is "
                f"readable and its folder writable",
                path=self.path,
            ) from exc
        try:
            found = [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]
            problems = [line for line in found if line != "ok"]
            for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check").fetchall():
                problems.append(f"row {rowid} of {table} points at a missing row of {parent}")
            return problems
        except sqlite3.OperationalError as exc:
            if _is_busy(exc):
                raise StoreError(
                    f"the database {self.path} stayed busy ({exc}); check it again once the "
                    f"process writing it has finished",
                    path=self.path,
                ) from exc
            return [str(exc)]
        except sqlite3.DatabaseError as exc:  # not a database, or malformed beyond reading
            return [str(exc)]
        finally:
            conn.close()

    @contextmanager
    def translated(self, action: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(
                f"cannot {action} the database {self.path}: {exc}; check that the disk has "
                f"space and the file is writable, or move a damaged file aside",
                path=self.path,
            ) from exc


def _sqlite(conn: Connection) -> SQLiteConnection:
    assert isinstance(conn, SQLiteConnection), "a SQLiteBackend works on its own connections"
    return conn
