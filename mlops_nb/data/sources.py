"""Data sources: parse, preflight and load the ``data_source`` parameter.

Accepted forms of a source string:

* a file path ending ``.csv`` (also compressed: ``.csv.gz``, ``.csv.bz2``,
  ``.csv.zip``, ``.csv.xz``), ``.tsv`` (tab separated, same compressions),
  ``.parquet`` or ``.pq``; relative paths resolve against ``base_dir``;
* a SQLAlchemy URL with exactly one of ``table=`` or ``query=`` in its query
  string, e.g. ``sqlite:///data.db?table=customers`` or
  ``sqlite:///data.db?query=SELECT%20*%20FROM%20customers`` (URL-encode the
  SQL; a literal ``+`` would read as a space). Relative SQLite paths resolve
  against ``base_dir``; other databases (``postgresql://...``) need their
  driver installed;
* ``sample:<name>`` with options, e.g. ``sample:churn?rows=5000&seed=1&drift=0.5``.

Every failure reaches the caller as :class:`~mlops_nb.errors.DataSourceError`
with the third-party error on ``__cause__``.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl

from mlops_nb.data.sample_options import sample_options
from mlops_nb.errors import DataSourceError, closest, listing, shorten

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SourceSpec",
    "check_names",
    "check_source",
    "check_target_column",
    "load_source",
    "parse_source",
    "read_csv_chunks",
    "redact",
    "require_target",
]

SourceKind = Literal["csv", "parquet", "sql", "sample"]

COMPRESSIONS: tuple[str, ...] = ("", ".gz", ".bz2", ".zip", ".xz")
CSV_SUFFIXES: tuple[str, ...] = tuple(f".csv{c}" for c in COMPRESSIONS)
TSV_SUFFIXES: tuple[str, ...] = tuple(f".tsv{c}" for c in COMPRESSIONS)
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")
SAMPLE_PREFIX = "sample:"
ACCEPTED_FORMS = (
    "accepted forms: a file path ending .csv, .csv.gz, .tsv, .parquet or .pq "
    "(e.g. data/customers.csv); a database URL with ?table= or ?query= "
    "(e.g. sqlite:///data.db?table=customers); or a sample (e.g. sample:churn?rows=5000)"
)
DATA_SOURCE_HINT = "-p data_source=<path or URL>"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_SQL_KEYS = ("table", "query")
_MAX_LISTED = 30


@dataclass(frozen=True)
class SourceSpec:
    """A parsed data source.

    Attributes:
        kind: ``"csv"``, ``"parquet"``, ``"sql"`` or ``"sample"``.
        location: File path, database URL (without ``table``/``query``) or
            sample name.
        options: ``sep`` for CSV/TSV; ``table`` or ``query`` for SQL; the
            sample's options as text for samples.
    """

    kind: SourceKind
    location: str
    options: dict[str, str] = field(default_factory=dict)

    @property
    def display(self) -> str:
        """The source as text fit for messages (database passwords hidden)."""
        if self.kind == "sample":
            query = "&".join(f"{k}={v}" for k, v in self.options.items())
            return f"{SAMPLE_PREFIX}{self.location}" + (f"?{query}" if query else "")
        if self.kind != "sql":
            return self.location
        from sqlalchemy.engine import make_url

        url = make_url(self.location).update_query_dict(self.options)
        return url.render_as_string(hide_password=True)


def redact(source: str) -> str:
    """Return ``source`` with any database password replaced by ``***``."""
    if not _SCHEME.match(source.strip()):
        return source
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(source.strip()).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"://([^:/@]*):[^@/]*@", r"://\1:***@", source)


def parse_source(source: str) -> SourceSpec:
    """Parse a data-source string without touching files or databases.

    Args:
        source: A file path, a SQLAlchemy URL with ``table=``/``query=``, or
            ``sample:<name>?options`` (see the module docstring).

    Returns:
        The parsed :class:`SourceSpec`.

    Raises:
        DataSourceError: If the string matches none of the accepted forms, or
            a URL or sample option is invalid.
    """
    if not isinstance(source, str) or not source.strip():
        raise DataSourceError(
            f"data source {source!r} is empty or not text; {ACCEPTED_FORMS}. "
            f"Set it with {DATA_SOURCE_HINT}.",
            source=source,
        )
    text_ = source.strip()
    if text_.lower().startswith(SAMPLE_PREFIX):
        return _parse_sample(text_)
    if _SCHEME.match(text_):
        return _parse_url(text_)
    return _parse_path(text_)


def _parse_path(source: str) -> SourceSpec:
    """Parse a CSV, TSV or Parquet file path by its suffix."""
    lower = source.lower()
    if lower.endswith(CSV_SUFFIXES):
        return SourceSpec("csv", source, {"sep": ","})
    if lower.endswith(TSV_SUFFIXES):
        return SourceSpec("csv", source, {"sep": "\t"})
    if lower.endswith(PARQUET_SUFFIXES):
        return SourceSpec("parquet", source, {})
    suffix = "".join(Path(source).suffixes)
    what = f"has the unsupported file type {suffix!r}" if suffix else "is not a recognised source"
    raise DataSourceError(
        f"data source {source!r} {what}; {ACCEPTED_FORMS}. Convert the file to CSV or "
        f"Parquet, or pass another source with {DATA_SOURCE_HINT}.",
        source=source,
    )


def _parse_sample(source: str) -> SourceSpec:
    """Parse ``sample:<name>?k=v&...`` and validate the name and options."""
    body = source[len(SAMPLE_PREFIX) :]
    name, _, query = body.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    repeated = sorted(key for key, count in Counter(k for k, _ in pairs).items() if count > 1)
    if repeated:
        raise DataSourceError(
            f"data source {source!r} gives option(s) {', '.join(repeated)} more than once; "
            f"give each option once, e.g. sample:churn?rows=5000&seed=1.",
            source=source,
        )
    options = {key.strip(): value.strip() for key, value in pairs}
    sample_options(name.strip(), options)
    return SourceSpec("sample", name.strip(), options)


def _parse_url(source: str) -> SourceSpec:
    """Parse a SQLAlchemy URL that names a table or a query."""
    shown = redact(source)
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        url = make_url(source)
        url.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError, ImportError) as exc:
        scheme = source.split("://", 1)[0]
        raise DataSourceError(
            f"data source {shown!r} has the unknown scheme '{scheme}://' ({exc}); "
            f"{ACCEPTED_FORMS}.",
            source=shown,
        ) from exc
    given = [key for key in _SQL_KEYS if str(url.query.get(key, "")).strip()]
    if len(given) != 1 or any(isinstance(url.query.get(key), tuple) for key in _SQL_KEYS):
        raise DataSourceError(
            f"database source {shown!r} must name exactly one of table= or query=, e.g. "
            f"sqlite:///data.db?table=customers or sqlite:///data.db?query=SELECT%20*%20FROM"
            f"%20customers (found: {', '.join(given) or 'neither'}).",
            source=shown,
        )
    key = given[0]
    location = url.difference_update_query(_SQL_KEYS)
    return SourceSpec(
        "sql", location.render_as_string(hide_password=False), {key: str(url.query[key]).strip()}
    )


def _resolve(location: str, base_dir: Path | None) -> Path:
    """Resolve a possibly relative path against ``base_dir`` (default: cwd)."""
    path = Path(location).expanduser()
    if not path.is_absolute():
        path = (base_dir if base_dir is not None else Path.cwd()) / path
    return path.resolve()


def check_source(source: str, base_dir: Path | None = None) -> SourceSpec:
    """Preflight a data source without reading its data.

    Parses ``source``, checks that a file (or SQLite database) exists and is a
    file, and validates sample options. Meant to run before any kernel starts.

    Args:
        source: The data-source string.
        base_dir: Folder that relative paths resolve against (default: cwd).

    Returns:
        The parsed spec, with file and SQLite paths made absolute.

    Raises:
        DataSourceError: If the source cannot be parsed or its file is missing.
    """
    spec = parse_source(source)
    if spec.kind in ("csv", "parquet"):
        path = _existing_file(spec.location, base_dir, spec.display, "file")
        return dataclasses.replace(spec, location=str(path))
    if spec.kind == "sql":
        return _check_sqlite(spec, base_dir)
    return spec


def _existing_file(location: str, base_dir: Path | None, shown: str, noun: str) -> Path:
    """Return the resolved path of an existing file or explain what is wrong."""
    path = _resolve(location, base_dir)
    base = (base_dir if base_dir is not None else Path.cwd()).resolve()
    if not path.exists():
        raise DataSourceError(
            f"data source {shown!r}: {noun} not found at {path} (relative paths resolve "
            f"against {base}). Check the path and spelling, or pass another source with "
            f"{DATA_SOURCE_HINT}.",
            source=shown,
            path=path,
        )
    if not path.is_file():
        raise DataSourceError(
            f"data source {shown!r}: {path} is a folder, not a {noun}; point the source at "
            f"a file inside it.",
            source=shown,
            path=path,
        )
    return path


def _check_sqlite(spec: SourceSpec, base_dir: Path | None) -> SourceSpec:
    """Make a SQLite database path absolute and check that the file exists."""
    from sqlalchemy.engine import make_url

    url = make_url(spec.location)
    database = url.database or ""
    if (
        url.get_backend_name() != "sqlite"
        or database in ("", ":memory:")
        or database.startswith("file:")
    ):
        return spec
    path = _existing_file(database, base_dir, spec.display, "SQLite database file")
    located = url.set(database=str(path)).render_as_string(hide_password=False)
    return dataclasses.replace(spec, location=located)


def load_source(source: str, base_dir: Path | None = None) -> pd.DataFrame:
    """Load a data source into a DataFrame.

    Column names are stripped of surrounding whitespace. The result always has
    at least one column and one row and unique column names.

    Args:
        source: The data-source string (see the module docstring).
        base_dir: Folder that relative paths resolve against (default: cwd).

    Returns:
        The loaded data.

    Raises:
        DataSourceError: If the source is missing, empty, malformed or
            unreadable, or its column names repeat; the original error is on
            ``__cause__``.
    """
    spec = check_source(source, base_dir)
    frame = _READERS[spec.kind](spec)
    return _tidy(frame, spec)


def _read_csv(spec: SourceSpec) -> pd.DataFrame:
    """Read a CSV or TSV file, translating pandas errors."""
    import pandas as pd

    fields = _csv_header(spec)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(spec.location, sep=spec.options.get("sep", ","), index_col=False)
    except (OSError, ValueError, pd.errors.ParserWarning) as exc:
        raise _csv_error(spec, exc, fields) from exc


def read_csv_chunks(
    spec: SourceSpec, rows: int, *, usecols: list[int] | None = None, text: bool = False
) -> Iterator[pd.DataFrame]:
    """Read a CSV or TSV source ``rows`` rows at a time, translating pandas errors.

    Every chunk is parsed as :func:`load_source` parses a whole file (each
    chunk infers its own dtypes; ``text=True`` reads every value as a string),
    and its column names are stripped. ``usecols`` (positions) limits the columns read.

    Raises:
        DataSourceError: As :func:`load_source`, for the chunk where the problem is.
    """
    import pandas as pd

    fields = _csv_header(spec)
    options: dict[str, Any] = {"dtype": str} if text else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            reader = pd.read_csv(
                spec.location,
                sep=spec.options.get("sep", ","),
                index_col=False,
                chunksize=rows,
                usecols=usecols,
                **options,
            )
            with reader:
                for chunk in reader:
                    chunk.columns = pd.Index([str(c).strip() for c in chunk.columns], dtype="str")
                    yield chunk
    except (OSError, ValueError, pd.errors.ParserWarning) as exc:
        raise _csv_error(spec, exc, fields) from exc


def _csv_header(spec: SourceSpec) -> int:
    """Check a CSV source's header line (names present and unique); return its field count."""
    import pandas as pd

    path = Path(spec.location)
    _refuse_zero_bytes(path, spec)
    fields: int | None = None
    try:
        header = pd.read_csv(
            path,
            sep=spec.options.get("sep", ","),
            header=None,
            nrows=1,
            dtype=str,
            keep_default_na=False,
        )
    except (OSError, ValueError) as exc:
        raise _csv_error(spec, exc, fields) from exc
    check_names([str(name) for name in header.iloc[0]], spec)
    return len(header.columns)


def _csv_error(spec: SourceSpec, exc: BaseException, fields: int | None) -> DataSourceError:
    """Translate an error raised while reading a CSV file."""
    import pandas as pd

    path = Path(spec.location)
    if isinstance(exc, pd.errors.EmptyDataError):
        return _empty(spec, "it has no header and no rows")
    if isinstance(exc, pd.errors.ParserError):
        return _malformed_csv(spec, exc, fields)
    if isinstance(exc, pd.errors.ParserWarning):
        return DataSourceError(
            f"data source {spec.display!r} is not well-formed CSV: some rows have "
            f"more fields than the header ({fields} here). Add the missing column names to "
            f"the header line or remove the extra fields (look for a trailing "
            f"{spec.options.get('sep', ',')!r} at the end of rows).",
            source=spec.display,
            path=path,
        )
    if isinstance(exc, UnicodeDecodeError):
        return DataSourceError(
            f"data source {spec.display!r} is not UTF-8 text ({exc.reason} at byte "
            f"{exc.start}). Re-save the file as UTF-8 CSV.",
            source=spec.display,
            path=path,
        )
    return _unreadable(spec, "CSV", exc)


def _malformed_csv(spec: SourceSpec, exc: BaseException, fields: int | None) -> DataSourceError:
    """Describe a CSV parser error, with its line number when pandas gives one."""
    detail = str(exc).replace("Error tokenizing data. C error: ", "").strip()
    line = re.search(r"line (\d+)", detail)
    where = f" at line {line.group(1)}" if line else ""
    expected = f" ({fields} here)" if fields else ""
    if "EOF inside string" in detail:
        fix = "Close the quote that is left open, or escape quotes inside fields by doubling them."
    else:
        fix = (
            f"Every row must have as many fields as the header{expected}; fix or remove that line."
        )
    return DataSourceError(
        f"data source {spec.display!r} is not well-formed CSV{where}: {detail}. {fix}",
        source=spec.display,
        path=Path(spec.location),
        line=int(line.group(1)) if line else None,
    )


def _read_parquet(spec: SourceSpec) -> pd.DataFrame:
    """Read a Parquet file, translating pyarrow errors."""
    import pandas as pd
    import pyarrow as pa

    path = Path(spec.location)
    _refuse_zero_bytes(path, spec)
    try:
        return pd.read_parquet(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _unreadable(spec, "Parquet", exc) from exc


def _refuse_zero_bytes(path: Path, spec: SourceSpec) -> None:
    """Raise the "is empty" error for a 0-byte file."""
    if path.stat().st_size == 0:
        raise _empty(spec, "the file has 0 bytes")


def _empty(spec: SourceSpec, why: str) -> DataSourceError:
    """The error for a source without data."""
    return DataSourceError(
        f"data source {spec.display!r} is empty: {why}. Check that the export that "
        f"produced it finished, or pass another source with {DATA_SOURCE_HINT}.",
        source=spec.display,
    )


def _unreadable(spec: SourceSpec, kind: str, exc: BaseException) -> DataSourceError:
    """The error for a file that its reader rejects."""
    return DataSourceError(
        f"data source {spec.display!r}: cannot read the file as {kind} "
        f"({type(exc).__name__}: {exc}). Check that the file really is {kind} (not another "
        f"format renamed) and was written completely.",
        source=spec.display,
        path=Path(spec.location),
    )


def _read_sql(spec: SourceSpec) -> pd.DataFrame:
    from mlops_nb.data.sql import read_sql

    return read_sql(spec)


def _read_sample(spec: SourceSpec) -> pd.DataFrame:
    """Generate a sample data set."""
    from mlops_nb.data.sample import generate_sample

    return generate_sample(spec.location, spec.options)


_READERS: dict[str, Callable[[SourceSpec], pd.DataFrame]] = {
    "csv": _read_csv,
    "parquet": _read_parquet,
    "sql": _read_sql,
    "sample": _read_sample,
}


def check_names(names: list[str], spec: SourceSpec) -> None:
    """Refuse a header with a blank column name or names that repeat once stripped."""
    blank = [position for position, name in enumerate(names, 1) if not str(name).strip()]
    if blank:
        raise DataSourceError(
            f"data source {spec.display!r}: column {blank[0]} of {len(names)} has no name "
            f"(blank columns: {listing(blank, _MAX_LISTED)}). Name every column in the header "
            f"line, or remove the unnamed columns.",
            source=spec.display,
            column=blank[0],
        )
    _check_unique(names, spec)


def _check_unique(names: list[str], spec: SourceSpec) -> None:
    """Refuse column names that repeat once surrounding whitespace is stripped."""
    counts = Counter(name.strip() for name in names if name.strip())
    repeated = sorted(name for name, count in counts.items() if count > 1)
    if repeated:
        raise DataSourceError(
            f"data source {spec.display!r} has duplicate column names: "
            f"{listing(repeated, _MAX_LISTED)}. Rename the columns so that each name appears once.",
            source=spec.display,
            column=repeated[0],
        )


def _tidy(frame: pd.DataFrame, spec: SourceSpec) -> pd.DataFrame:
    """Strip column names and refuse frames without columns, rows or unique names."""
    import pandas as pd

    names = [str(name).strip() for name in frame.columns]
    check_names(names, spec)
    if not names:
        raise _empty(spec, "it has no columns")
    if len(frame) == 0:
        raise _empty(spec, f"it has the columns {listing(names, _MAX_LISTED)} but no rows")
    frame.columns = pd.Index(names, dtype="str")
    return frame


def require_target(df: pd.DataFrame, target: str, source: str) -> None:
    """Check that the target column exists and is not entirely null.

    Args:
        df: The loaded data.
        target: Name of the target column.
        source: The data source, named in messages.

    Raises:
        DataSourceError: If the column is missing (the message lists the
            columns and close matches) or all its values are missing.
    """
    shown = redact(source)
    check_target_column([str(name) for name in df.columns], target, shown)
    if df[target].isna().all():
        raise DataSourceError(
            f"target column {target!r} of data source {shown!r} has no values: all "
            f"{len(df)} rows are missing. Check the source, or choose another target with "
            f"-p target=<column>.",
            source=shown,
            column=target,
        )
    distinct = df[target].dropna().unique()
    if len(distinct) == 1:
        raise DataSourceError(
            f"target column {target!r} of data source {shown!r} holds one value only "
            f"({shorten(str(distinct[0]))!s} in all {df[target].notna().sum()} labelled rows); "
            f"a model needs at least two classes or varying values. Check the source (a "
            f"filter that kept one class?), or choose another target with -p target=<column>.",
            source=shown,
            column=target,
        )


def check_target_column(columns: list[str], target: str, shown: str) -> None:
    """Check that ``target`` is one of ``columns`` (of the source ``shown``), with close names."""
    if target in columns:
        return
    close = closest(str(target), columns, n=3)
    close += [c for c in columns if c.lower() == str(target).lower() and c not in close]
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise DataSourceError(
        f"target column {target!r} is not in data source {shown!r}.{hint} Available "
        f"columns: {listing(columns, _MAX_LISTED)}. Choose one with -p target=<column>.",
        source=shown,
        column=target,
    )
