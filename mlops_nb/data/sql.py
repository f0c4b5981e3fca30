"""Reading a table or a query result of a database, through SQLAlchemy.

SQLAlchemy takes 0.15 s to import, so it is imported here only when a SQL
source is read. Every failure is a :class:`~mlops_nb.errors.DataSourceError`
naming the source, with the driver's own words and the database error on
``__cause__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from mlops_nb.errors import DataSourceError, listing

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.engine import URL

    from mlops_nb.data.sources import SourceSpec

__all__ = ["read_sql"]

MAX_LISTED = 30
"""Tables named, at most, when the one asked for is not there."""


def read_sql(spec: SourceSpec) -> pd.DataFrame:
    """Read a table or a query result through SQLAlchemy."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    url = make_url(spec.location)
    try:
        engine = create_engine(url)
    except (ImportError, ArgumentError, NoSuchModuleError) as exc:
        raise DataSourceError(
            f"data source {spec.display!r}: cannot create a database engine for "
            f"{url.drivername} ({type(exc).__name__}: {exc}). Install the database driver "
            f"(e.g. pip install psycopg for PostgreSQL) or fix the URL.",
            source=spec.display,
        ) from exc
    try:
        with engine.connect() as connection:
            if "table" in spec.options:
                return _read_table(connection, spec, url)
            return pd.read_sql_query(text(spec.options["query"]), connection)
    except (SQLAlchemyError, pd.errors.DatabaseError) as exc:
        raise _database_error(spec, exc) from exc
    finally:
        engine.dispose()


def _read_table(connection: Connection, spec: SourceSpec, url: URL) -> pd.DataFrame:
    """Read a whole table, listing the tables present when it does not exist."""
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
    return pd.read_sql_table(table, connection)


def _database_error(spec: SourceSpec, exc: BaseException) -> DataSourceError:
    """Describe an error reported by the database, preferring the driver's words."""
    detail: BaseException | None = exc
    from sqlalchemy.exc import DBAPIError

    while detail is not None and not isinstance(detail, DBAPIError):
        detail = detail.__cause__
    reason = str(detail.orig) if isinstance(detail, DBAPIError) else str(exc)
    query = spec.options.get("query")
    what = f"query {query!r}" if query else f"reading table {spec.options.get('table')!r}"
    return DataSourceError(
        f"data source {spec.display!r}: the database rejected {what}: {reason}. Check the SQL "
        f"(try it in a database client) and the connection URL.",
        source=spec.display,
    )
