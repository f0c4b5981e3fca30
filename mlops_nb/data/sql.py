"""Reading a table or a query result of a database, through SQLAlchemy.

SQLAlchemy takes 0.15 s to import, so it is imported here only when a SQL
source is read. Every failure is a :class:`~mlops_nb.errors.DataSourceError`
naming the source, with the driver's own words and the database error on
``__cause__``.

A source only reads. A ``?query=`` must be one ``SELECT`` (or ``WITH``,
``VALUES``) statement, checked before any kernel starts; and the connection
itself is made read-only where the database allows it (SQLite's
``query_only``, a PostgreSQL ``READ ONLY`` transaction), and always rolled
back, so a statement that writes — or a table name built to smuggle one in —
cannot change the database.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import TYPE_CHECKING

from mlops_nb.errors import DataSourceError, closest, listing

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pandas as pd
    from sqlalchemy import Connection, Engine
    from sqlalchemy.engine import URL

    from mlops_nb.data.sources import SourceSpec

__all__ = ["check_read_only", "read_sql", "sql_columns"]

MAX_LISTED = 30
"""Tables named, at most, when the one asked for is not there."""


_READING = re.compile(
    r"\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*|\(\s*)*(select|with|values)\b", re.I | re.S
)
"""A query that starts (after comments and parentheses) with a reading keyword."""
CONNECT_TIMEOUT_S = 10


def check_read_only(spec: SourceSpec) -> None:
    """Refuse a ``?query=`` that is not one reading statement (SELECT, WITH, VALUES)."""
    query = spec.options.get("query")
    if query is None:
        return
    statement = query.strip().rstrip(";")
    if not _READING.match(statement) or ";" in _outside_quotes(statement):
        first = (statement.split() or [""])[0]
        close = closest(first.upper(), ["SELECT", "WITH", "VALUES"])
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise DataSourceError(
            f"data source {spec.display!r}: a query source must be one SELECT statement "
            f"(or WITH ... SELECT, VALUES), but this one starts with {first!r}{hint}"
            f"{' and holds several statements' if ';' in _outside_quotes(statement) else ''}. "
            f"A data source only reads: write ?query=SELECT ... or ?table=NAME.",
            source=spec.display,
        )


def _outside_quotes(sql: str) -> str:
    """``sql`` with its quoted strings and identifiers removed."""
    return re.sub(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", "", sql)


def sql_columns(spec: SourceSpec) -> list[str] | None:
    """Before any kernel: connect, and find the table (its columns) or check the query reads.

    Returns the table's columns, or None for a query (which is not run here).
    """
    check_read_only(spec)
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    engine, url = _engine(spec)
    try:
        with _connect(engine, spec) as connection:
            if "table" not in spec.options:
                return None
            _require_table(connection, spec, url)
            columns = inspect(connection).get_columns(spec.options["table"])
            return [str(column["name"]) for column in columns]
    except SQLAlchemyError as exc:
        raise _database_error(spec, exc) from exc
    finally:
        engine.dispose()


def read_sql(spec: SourceSpec) -> pd.DataFrame:
    """Read a table or a query result through SQLAlchemy, on a read-only connection."""
    import pandas as pd
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    check_read_only(spec)
    engine, url = _engine(spec)
    try:
        with _connect(engine, spec) as connection:
            try:
                if "table" in spec.options:
                    return _read_table(connection, spec, url)
                return pd.read_sql_query(text(spec.options["query"]), connection)
            finally:
                connection.rollback()
    except (SQLAlchemyError, pd.errors.DatabaseError) as exc:
        raise _database_error(spec, exc) from exc
    finally:
        engine.dispose()


def _engine(spec: SourceSpec) -> tuple[Engine, URL]:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    url = make_url(spec.location)
    timeout = {"connect_timeout": CONNECT_TIMEOUT_S} if url.get_backend_name() != "sqlite" else {}
    try:
        return create_engine(url, connect_args=timeout), url
    except (ImportError, ArgumentError, NoSuchModuleError, TypeError) as exc:
        raise DataSourceError(
            f"data source {spec.display!r}: cannot create a database engine for "
            f"{url.drivername} ({type(exc).__name__}: {exc}). Install the database driver "
            f"(e.g. pip install psycopg for PostgreSQL) or fix the URL.",
            source=spec.display,
        ) from exc


@contextmanager
def _connect(engine: Engine, spec: SourceSpec) -> Iterator[Connection]:
    """A connection that cannot write where the database can say so, or an error naming it."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        connection = engine.connect()
    except SQLAlchemyError as exc:
        raise DataSourceError(
            f"data source {spec.display!r}: cannot connect to the database "
            f"({_reason(exc)}). Check that the server is running and reachable, and the URL "
            f"(host, port, database name, user).",
            source=spec.display,
        ) from exc
    with connection:
        backend = engine.url.get_backend_name()
        if backend == "sqlite":
            connection.execute(text("PRAGMA query_only = ON"))
        elif backend == "postgresql":
            connection.execute(text("SET TRANSACTION READ ONLY"))
        yield connection


def _read_table(connection: Connection, spec: SourceSpec, url: URL) -> pd.DataFrame:
    """Read a whole table, listing the tables present when it does not exist."""
    import pandas as pd

    _require_table(connection, spec, url)
    return pd.read_sql_table(spec.options["table"], connection)


def _require_table(connection: Connection, spec: SourceSpec, url: URL) -> None:
    """Refuse a table that is not in the database, naming those that are."""
    table = spec.options["table"]
    from sqlalchemy import inspect

    inspector = inspect(connection)
    if not inspector.has_table(table):
        names = sorted([*inspector.get_table_names(), *inspector.get_view_names()])
        present = listing(names, MAX_LISTED) if names else "none (the database has no tables)"
        raise DataSourceError(
            f"data source {spec.display!r}: table {table!r} not found in database "
            f"{url.database or url.render_as_string(hide_password=True)}. Tables present: "
            f"{present}. Use ?table=<one of them> or ?query=SELECT ...",
            source=spec.display,
            table=table,
        )


def _database_error(spec: SourceSpec, exc: BaseException) -> DataSourceError:
    """Describe an error reported by the database, preferring the driver's words."""
    reason = _reason(exc)
    query = spec.options.get("query")
    what = f"query {query!r}" if query else f"reading table {spec.options.get('table')!r}"
    return DataSourceError(
        f"data source {spec.display!r}: the database rejected {what}: {reason}. Check the SQL "
        f"(try it in a database client) and the connection URL.",
        source=spec.display,
    )


def _reason(exc: BaseException) -> str:
    """The driver's own words for a database error (its first line)."""
    from sqlalchemy.exc import DBAPIError

    detail: BaseException | None = exc
    while detail is not None and not isinstance(detail, DBAPIError):
        detail = detail.__cause__
    reason = str(detail.orig) if isinstance(detail, DBAPIError) else str(exc)
    return reason.strip().splitlines()[0] if reason.strip() else type(exc).__name__
