"""The store backend protocol: what the stores need from a SQL database, nothing more.

Tracking, the registry, the cache index and the inference log use it.
A backend opens connections, runs short write transactions (retried while
another writer holds the lock), gives consistent read snapshots, applies each
component's schema migrations, and turns its driver's errors into
:class:`~mlops_nb.errors.StoreError`. Everything the SQL dialects disagree on
is a field or method of :class:`Dialect`, so the components write one SQL text
for every backend::

    backend = open_backend(settings)               # sqlite:///… by default
    conn = backend.connect()
    backend.migrate(conn, "tracking", STEPS)       # each step rendered for the dialect
    with backend.transaction(conn, lock="registry:churn"):
        conn.execute("INSERT INTO t (a) VALUES (?)", (1,))

SQL uses ``?`` placeholders; a backend whose driver wants another style
translates. Rows can be read by position and by column name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Backend",
    "Connection",
    "Dialect",
    "Migration",
    "MigrationPart",
    "apply",
    "parts",
    "render",
]


@runtime_checkable
class Connection(Protocol):
    """The subset of a DB-API connection the components use, plus its dialect.

    ``execute`` returns a cursor (``fetchone``, ``fetchall``, iteration) whose
    rows read by position and by name; ``rows`` returns plain tuples, the fast
    path for bulk reads.
    """

    dialect: Dialect

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any: ...

    def rows(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def close(self) -> None: ...


MigrationPart = str | Callable[["Connection"], None]
Migration = MigrationPart | tuple[MigrationPart, ...]
"""One schema step: SQL (``{type}`` tokens rendered per dialect, ``;``-separated),
a function that migrates data portably through the connection, or a tuple of
those run in order."""


@dataclass(frozen=True)
class Dialect:
    """What differs between SQL databases, as the components need it.

    Attributes:
        name: ``"sqlite"`` or ``"postgresql"``.
        types: Tokens of schema SQL → this dialect's text (``{real}``,
            ``{bigint}``, ``{id}``, ``{without_rowid}``, ``{seq}``, ...).
        case_insensitive_like: The operator of a case-insensitive ``LIKE``.
        insert_order: The column that orders rows of a table by insertion.
    """

    name: str
    types: Mapping[str, str] = field(default_factory=dict)
    case_insensitive_like: str = "LIKE"
    insert_order: str = "rowid"
    ids_source_sql: str = "json_each(?) {alias}"
    ids_as_json: bool = True

    def ids_source(self, alias: str = "ids") -> str:
        """A table ``alias`` with one column ``value``: the ids of one parameter."""
        return self.ids_source_sql.format(alias=alias)

    def ids_parameter(self, ids: Sequence[str]) -> Any:
        """The parameter :meth:`ids_source` expects for ``ids``."""
        if self.ids_as_json:
            import json

            return json.dumps(list(ids))
        return list(ids)

    def in_ids(self, column: str) -> str:
        """``column IN (the ids of one parameter)``."""
        return f"{column} IN (SELECT ids.value FROM {self.ids_source('ids')})"


def render(step: str, dialect: Dialect) -> list[str]:
    """The statements of schema SQL for ``dialect`` (tokens replaced, split on ``;``)."""
    text = step.format_map(dict(dialect.types))
    return [part.strip() for part in text.split(";") if part.strip()]


def parts(step: Migration) -> tuple[MigrationPart, ...]:
    """The parts of a schema step, in order."""
    return step if isinstance(step, tuple) else (step,)


def apply(conn: Connection, step: Migration) -> None:
    """Run one schema step on ``conn`` (inside the caller's transaction)."""
    for part in parts(step):
        if callable(part):
            part(conn)
        else:
            for statement in render(part, conn.dialect):
                conn.execute(statement)


class Backend(Protocol):
    """A SQL database holding the project's stores (see the module docstring)."""

    url: str
    dialect: Dialect

    @property
    def display_url(self) -> str:
        """The URL with any password hidden, fit for messages and run records."""
        ...

    def connect(self) -> Connection:
        """A new connection (one per thread; ``close()`` it when done)."""
        ...

    def exists(self) -> bool:
        """Whether the store can already hold data (a SQLite file exists; a server answers)."""
        ...

    def transaction(
        self, conn: Connection, *, lock: str | None = None
    ) -> AbstractContextManager[Connection]:
        """A short write transaction, waited for while another writer holds the database.

        ``lock`` names what the transaction must hold alone (e.g.
        ``registry:churn``): writers of the same name run one at a time even on
        a database that lets other writers through.
        """
        ...

    def read(self, conn: Connection) -> AbstractContextManager[Connection]:
        """A consistent read snapshot."""
        ...

    def migrate(self, conn: Connection, component: str, steps: Sequence[Migration]) -> int:
        """Bring ``component``'s tables to version ``len(steps)``; refuse a newer database."""
        ...

    def schema_version(self, conn: Connection, component: str) -> int:
        """The schema version of ``component`` (0 when absent)."""
        ...

    def translated(self, action: str) -> AbstractContextManager[None]:
        """Turn the driver's errors raised inside into StoreError naming the store and a fix."""
        ...

    def is_error(self, exc: BaseException) -> bool:
        """Whether ``exc`` is an error of this backend's driver."""
        ...

    def integrity(self) -> list[str]:
        """What the database finds damaged in itself, one line each (empty: nothing).

        Opens its own connection. A database that answers but is damaged gives
        lines; one that cannot be reached raises StoreError.
        """
        ...
