"""A data source looked at before any kernel starts: its file's head, never all of it.

:func:`preflight_source` goes one step beyond
:func:`~mlops_nb.data.sources.check_source` (which only parses the source and
checks that its file exists): it reads what a broken source gives away in its
first bytes, so the mistake costs a second instead of a kernel.

* a CSV/TSV file: binary content (NUL bytes), bytes that are not UTF-8, a header
  line with blank or repeated names, rows in the first 64 KiB with more or fewer
  fields than the header, a header and no rows; a UTF-8 byte-order mark is fine;
* a Parquet file: its footer (a truncated or corrupt file has none), its column
  names and its row count;
* a database: the connection, the table (``?table=``), and that a ``?query=``
  only reads (see :mod:`mlops_nb.data.sql`);
* the target column, when one is given, must be among the columns.

Each problem is the :class:`~mlops_nb.errors.DataSourceError` that reading the
whole source would raise. What lies past the head (a ragged row at line
1,000,000, an all-missing target) is found by the ingest stage.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlops_nb.data.sources import (
    COMPRESSIONS,
    SourceSpec,
    check_names,
    check_source,
    check_target_column,
)
from mlops_nb.data.sql import sql_columns
from mlops_nb.errors import DataSourceError, listing

__all__ = ["HEAD_BYTES", "MAX_HEADER_BYTES", "preflight_source"]

HEAD_BYTES = 64 * 1024
"""How much of a CSV file past its header line the preflight reads."""
MAX_HEADER_BYTES = 8 * 1024 * 1024
"""The longest header line accepted (8 MiB: some 500,000 column names)."""
_BOM = codecs.BOM_UTF8
_LISTED = 30


def preflight_source(
    source: str, base_dir: Path | None = None, target: str | None = None
) -> SourceSpec:
    """Check a data source's structure from its head, and that it has ``target``.

    Raises:
        DataSourceError: The source is missing, unreadable, malformed in its
            head, empty, or lacks the ``target`` column.
    """
    spec = check_source(source, base_dir)
    names: list[str] | None = None
    if spec.kind == "csv":
        names = _csv_names(spec)
    elif spec.kind == "parquet":
        names = _parquet_names(spec)
    elif spec.kind == "sql":
        names = sql_columns(spec)
    if names is not None and target is not None:
        check_target_column(names, target, spec.display)
    return spec


def _csv_names(spec: SourceSpec) -> list[str] | None:
    """The header of a CSV file, after checking the head; None for a compressed file."""
    path = Path(spec.location)
    if any(path.name.lower().endswith(c) for c in COMPRESSIONS if c):
        return None  # read (and checked) whole by the ingest stage
    with path.open("rb") as handle:
        header = handle.readline(MAX_HEADER_BYTES + 1)
        rest = handle.read(HEAD_BYTES)
        whole = not handle.read(1)
    if not header.strip() and not rest.strip():
        raise _error(
            spec,
            "is empty: it has no header and no rows",
            "Check that the export that produced it finished, or pass another source.",
        )
    if len(header) > MAX_HEADER_BYTES:
        raise _error(
            spec,
            f"has a first line longer than {MAX_HEADER_BYTES // (1024 * 1024)} MiB with no line "
            f"break",
            "A CSV file starts with one line of column names; check that this is a CSV file.",
        )
    text = _decode(spec, header, rest, whole)
    with _field_limit(MAX_HEADER_BYTES):
        rows = [row for row in csv.reader(io.StringIO(text), delimiter=spec.options["sep"]) if row]
        if not rows:
            raise _error(spec, "is empty: it has no header and no rows", "Check the export.")
        names = [name.strip() for name in rows[0]]
        check_names(names, spec)
        _check_fields(spec, text, len(names), complete=whole)
    if whole and len(rows) == 1:
        raise _error(
            spec,
            f"is empty: it has the header ({listing(names, _LISTED)}) but no rows",
            "Check that the export that produced it finished, or pass another source.",
        )
    return names


@contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    """The csv module's field size limit raised to ``limit`` (a long header name) meanwhile."""
    before = csv.field_size_limit()
    csv.field_size_limit(max(before, limit))
    try:
        yield
    finally:
        csv.field_size_limit(before)


def _decode(spec: SourceSpec, header: bytes, rest: bytes, whole: bool) -> str:
    """The head as text: NUL bytes and bytes that are not UTF-8 are refused, by line."""
    head = header + rest
    if b"\x00" in head:
        line = head[: head.index(b"\x00")].count(b"\n") + 1
        raise _error(
            spec,
            f"is not text: it holds NUL bytes (line {line}): binary data, or UTF-16 text",
            "Is it a Parquet, Excel or zip file with a .csv name? Export it as UTF-8 CSV, or "
            "name a Parquet file .parquet.",
        )
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        text = decoder.decode(head.removeprefix(_BOM), final=whole)
    except UnicodeDecodeError as exc:
        start = exc.start + (len(_BOM) if head.startswith(_BOM) else 0)
        line = head[:start].count(b"\n") + 1
        raise _error(
            spec,
            f"is not UTF-8 text ({exc.reason} at byte {start}, line {line}: "
            f"{head[start : start + 4]!r})",
            "Re-save the file as UTF-8 CSV (e.g. in Python: "
            "pd.read_csv(path, encoding='latin-1').to_csv(path, index=False)).",
        ) from exc
    return text if whole else text[: text.rfind("\n") + 1]  # complete lines only


def _check_fields(spec: SourceSpec, text: str, expected: int, *, complete: bool) -> None:
    """Refuse a row in the head with more or fewer fields than the header's ``expected``."""
    reader = csv.reader(io.StringIO(text), delimiter=spec.options["sep"])
    try:
        next(reader, None)
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error:  # a quoted field the head cut short: the ingest stage reads it whole
        return
    for line, row in rows:
        if row and len(row) != expected:
            if not complete and line == text.count("\n"):
                return  # the last line read may continue past the head
            more = "more" if len(row) > expected else "fewer"
            raise DataSourceError(
                f"data source {spec.display!r} is not well-formed CSV at line "
                f"{line}: it has {len(row)} field{'s' * (len(row) != 1)}, {more} than the header's "
                f"{expected}. Every row must have as many fields as the header; fix or remove "
                f"that line (a field holding the separator {spec.options['sep']!r} must be "
                f"quoted).",
                source=spec.display,
                path=Path(spec.location),
                line=line,
            )


def _parquet_names(spec: SourceSpec) -> list[str]:
    """The columns of a Parquet file, from its footer, which must be there and whole."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(spec.location)
    try:
        with pq.ParquetFile(path) as parquet:
            names = list(parquet.schema_arrow.names)
            rows = parquet.metadata.num_rows
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _error(
            spec,
            f"cannot be read as Parquet ({type(exc).__name__}: {exc})",
            "The file is truncated or corrupt, or is not Parquet: write it again, completely.",
        ) from exc
    check_names(names, spec)
    if rows == 0:
        raise _error(
            spec,
            f"is empty: it has the columns ({listing(names, _LISTED)}) but no rows",
            "Check that the export that produced it finished, or pass another source.",
        )
    return names


def _error(spec: SourceSpec, problem: str, fix: str) -> DataSourceError:
    return DataSourceError(
        f"data source {spec.display!r} {problem}. {fix}",
        source=spec.display,
        path=Path(spec.location),
    )
