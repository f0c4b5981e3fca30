"""Files of a batch prediction: chunked readers and atomic, incremental writers.

Input is read a chunk at a time (CSV through pandas, Parquet through pyarrow
record batches), so a file larger than memory can be scored. Output is
written through pyarrow (CSV or Parquet, both fast and incremental) to a
temporary file next to its destination, renamed into place only when every
chunk is written: a failure never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from mlops_nb.data.sources import CSV_SUFFIXES, PARQUET_SUFFIXES, TSV_SUFFIXES
from mlops_nb.errors import DataSourceError, ServingError

__all__ = [
    "INPUT_FORMATS",
    "OUTPUT_FORMATS",
    "InputFile",
    "TableWriter",
    "data_columns",
    "default_invalid_path",
    "frame_table",
    "iter_chunks",
    "open_input",
    "output_kind",
]

INPUT_FORMATS = ".csv, .csv.gz, .tsv, .parquet or .pq"
OUTPUT_FORMATS = ".csv, .parquet or .pq"
OUTPUT_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
ESTIMATE_BYTES = 1 << 20
"""Bytes read from the start of a CSV file to estimate its number of rows."""


@dataclass(frozen=True)
class InputFile:
    """An input file checked before scoring starts.

    Attributes:
        path: The file, resolved.
        kind: ``"csv"`` or ``"parquet"``.
        columns: Its column names (surrounding whitespace stripped for CSV).
        total_rows: Rows in the file: exact for Parquet, estimated from the
            file size for plain CSV, None for compressed CSV.
        sep: The field separator of a CSV or TSV file.
    """

    path: Path
    kind: str
    columns: list[str]
    total_rows: int | None
    sep: str = ","

    @property
    def exact_total(self) -> bool:
        """True when :attr:`total_rows` is known exactly (Parquet metadata)."""
        return self.kind == "parquet"


def _kind_of(path: Path) -> tuple[str, str]:
    """The reader (``csv``/``parquet``) and separator that the suffix of ``path`` calls for."""
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv", ","
    if name.endswith(TSV_SUFFIXES):
        return "csv", "\t"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet", ""
    suffix = "".join(path.suffixes) or "(none)"
    raise DataSourceError(
        f"input file {path} has the unsupported suffix {suffix}; batch prediction reads "
        f"{INPUT_FORMATS} files. Convert the file to CSV or Parquet.",
        path=path,
    )


def _empty(path: Path, why: str) -> DataSourceError:
    return DataSourceError(
        f"input file {path} is empty: {why}. Check that the export that produced it "
        f"finished, or pass another file.",
        path=path,
    )


def _unreadable(path: Path, kind: str, exc: BaseException) -> DataSourceError:
    return DataSourceError(
        f"input file {path}: cannot read it as {kind} ({type(exc).__name__}: {exc}). Check "
        f"that the file really is {kind} (not another format renamed) and was written "
        f"completely.",
        path=path,
    )


def _check_unique(path: Path, names: list[str]) -> None:
    repeated = sorted(name for name, count in Counter(names).items() if count > 1)
    if repeated:
        raise DataSourceError(
            f"input file {path} has duplicate column names: {', '.join(repeated)}. Rename "
            f"the columns so that each name appears once.",
            path=path,
            column=repeated[0],
        )


def _csv_header(path: Path, sep: str) -> list[str]:
    """The column names of a CSV file that has at least one row after its header."""
    try:
        head = pd.read_csv(path, sep=sep, header=None, nrows=2, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as exc:
        raise _empty(path, "it has no header and no rows") from exc
    except (OSError, ValueError) as exc:
        raise _unreadable(path, "CSV", exc) from exc
    names = [str(name).strip() for name in head.iloc[0]] if len(head) else []
    if not names:
        raise _empty(path, "it has no header and no rows")
    if len(head) < 2:
        raise _empty(path, f"it has the columns {', '.join(names)} but no rows")
    return names


def _estimate_csv_rows(path: Path) -> int | None:
    """Rows of a plain CSV file estimated from the newlines in its first megabyte."""
    if not path.name.lower().endswith((".csv", ".tsv")):
        return None
    size = path.stat().st_size
    with path.open("rb") as handle:
        sample = handle.read(ESTIMATE_BYTES)
    lines = sample.count(b"\n") + (0 if sample.endswith(b"\n") else 1)
    if len(sample) >= size:
        return max(lines - 1, 0)
    return max(round(lines * size / len(sample)) - 1, 1)


def _open_csv(path: Path, sep: str) -> InputFile:
    names = _csv_header(path, sep)
    _check_unique(path, names)
    return InputFile(path, "csv", names, _estimate_csv_rows(path), sep)


def _index_columns(schema: pa.Schema) -> set[str]:
    """Columns pandas stored a frame's index in (``__index_level_0__``): not data."""
    stored = (schema.pandas_metadata or {}).get("index_columns") or []
    return {name for name in stored if isinstance(name, str)}


def _open_parquet(path: Path) -> InputFile:
    try:
        metadata = pq.ParquetFile(path).metadata
        names = data_columns(metadata.schema.to_arrow_schema())
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _unreadable(path, "Parquet", exc) from exc
    _check_unique(path, names)
    if not names:
        raise _empty(path, "it has no columns")
    if metadata.num_rows == 0:
        raise _empty(path, f"it has the columns {', '.join(names)} but no rows")
    return InputFile(path, "parquet", names, int(metadata.num_rows))


def open_input(path: Path) -> InputFile:
    """Check that ``path`` is a readable, non-empty CSV or Parquet file; read its columns.

    Raises:
        DataSourceError: The suffix is not a supported format, the file is
            missing, a folder, empty or unreadable, or its column names repeat.
    """
    path = Path(path).expanduser().resolve()
    kind, sep = _kind_of(path)
    if not path.exists():
        raise DataSourceError(
            f"input file {path} not found; check the path and spelling (relative paths "
            f"resolve against {Path.cwd()}).",
            path=path,
        )
    if not path.is_file():
        raise DataSourceError(f"input {path} is a folder, not a file; name a file inside it.")
    if path.stat().st_size == 0:
        raise _empty(path, "the file has 0 bytes")
    return _open_csv(path, sep) if kind == "csv" else _open_parquet(path)


def _csv_chunks(
    source: InputFile, chunk_rows: int, text_columns: Sequence[str]
) -> Iterator[pd.DataFrame]:
    dtypes = {name: "str" for name in text_columns if name in source.columns}
    done = 0
    try:
        with pd.read_csv(
            source.path,
            sep=source.sep,
            header=0,
            names=source.columns,
            dtype=dtypes,
            index_col=False,
            chunksize=chunk_rows,
        ) as reader:
            for chunk in reader:
                if len(chunk):
                    done += len(chunk)
                    yield chunk
    except (OSError, ValueError) as exc:  # pandas' ParserError and UnicodeDecodeError too
        raise _csv_error(source, exc, done) from exc


def _csv_error(source: InputFile, exc: BaseException, done: int) -> DataSourceError:
    """Translate an error met while reading CSV chunks."""
    if isinstance(exc, UnicodeDecodeError):
        fix = f"it is not UTF-8 text ({exc.reason} at byte {exc.start}); re-save it as UTF-8"
    elif isinstance(exc, pd.errors.ParserError):
        detail = str(exc).replace("Error tokenizing data. C error: ", "").strip()
        fix = (
            f"it is not well-formed CSV: {detail}. Every row must have as many fields as "
            f"the header ({len(source.columns)}); fix or remove that line"
        )
    else:
        fix = f"{type(exc).__name__}: {exc}; check that the file is complete CSV"
    return DataSourceError(
        f"input file {source.path}: cannot read it after {done} rows: {fix}.",
        path=source.path,
        row=done,
    )


def _parquet_chunks(source: InputFile, chunk_rows: int) -> Iterator[pd.DataFrame]:
    try:
        reader = pq.ParquetFile(source.path)
        batches = reader.iter_batches(batch_size=chunk_rows, columns=source.columns)
        for batch in batches:
            if batch.num_rows:
                yield batch.to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable(source.path, "Parquet", exc) from exc


def iter_chunks(
    source: InputFile, chunk_rows: int, text_columns: Sequence[str] = ()
) -> Iterator[pd.DataFrame]:
    """Yield the rows of ``source`` as frames of at most ``chunk_rows`` rows.

    Args:
        source: The file, from :func:`open_input`.
        chunk_rows: Rows per chunk.
        text_columns: CSV columns to read as text whatever they look like, so
            that an identifier such as ``00123`` keeps its leading zeros.
    """
    if source.kind == "csv":
        return _csv_chunks(source, chunk_rows, text_columns)
    return _parquet_chunks(source, chunk_rows)


def output_kind(path: Path, what: str = "output") -> str:
    """``"csv"`` or ``"parquet"`` from the suffix of ``path``.

    Raises:
        ServingError: Any other suffix.
    """
    kind = OUTPUT_SUFFIXES.get(Path(path).suffix.lower())
    if kind is None:
        raise ServingError(
            f"{what} file {path} has the suffix {Path(path).suffix or '(none)'}; batch "
            f"prediction writes {OUTPUT_FORMATS} files. Name the file e.g. scores.csv or "
            f"scores.parquet.",
            path=Path(path),
        )
    return kind


def default_invalid_path(output: Path) -> Path:
    """Where invalid rows go by default: ``scores.csv`` → ``scores.invalid.csv``."""
    return output.with_name(f"{output.stem}.invalid{output.suffix}")


def _plain_types(schema: pa.Schema) -> pa.Schema:
    """The schema without pandas metadata, dictionary columns as their values (for CSV)."""
    fields = [
        pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema
    ]
    return pa.schema(fields)


def frame_table(
    frame: pd.DataFrame, schema: pa.Schema | None, where: Path | str, rows: int
) -> pa.Table:
    """``frame`` as an Arrow table, in ``schema`` when given (the rows written before).

    Raises:
        ServingError: The frame's columns do not fit ``schema``.
    """
    try:
        return pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise ServingError(
            f"cannot write rows {rows} onwards to {where}: their columns do not "
            f"have the types of the rows before ({type(exc).__name__}: {exc}); give "
            f"every column of the model's signature a dtype so that chunks agree.",
            path=where,
        ) from exc


def data_columns(schema: pa.Schema) -> list[str]:
    """The column names of a Parquet schema, without the columns pandas stored its index in."""
    index = _index_columns(schema)
    return [str(name) for name in schema.names if name not in index]


class TableWriter:
    """Write frames one after another to a temporary file; rename it into place on commit.

    The first frame with rows fixes the columns and their types; later frames
    are converted to them. The temporary file lives next to the destination
    (same file system, so the final rename is atomic).

    Args:
        path: The destination.
        kind: ``"csv"`` or ``"parquet"``.
    """

    def __init__(self, path: Path, kind: str) -> None:
        self.path = Path(path)
        self.kind = kind
        self.rows = 0
        self._temporary: Path | None = None
        self._writer: pa_csv.CSVWriter | pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._empty: pd.DataFrame | None = None

    def write(self, frame: pd.DataFrame) -> None:
        """Append the rows of ``frame`` (an empty frame only records the columns)."""
        if len(frame) == 0:
            if self._empty is None:
                self._empty = frame
            return
        table = self._table(frame)
        self._writer_for(table.schema).write_table(table)
        self.rows += len(frame)

    def _table(self, frame: pd.DataFrame) -> pa.Table:
        table = frame_table(frame, self._schema, self.path, self.rows)
        if self._schema is None and self.kind == "csv":
            table = table.cast(_plain_types(table.schema))
        return table

    def _writer_for(self, schema: pa.Schema) -> pa_csv.CSVWriter | pq.ParquetWriter:
        if self._writer is not None:
            return self._writer
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        os.close(handle)
        self._temporary = Path(name)
        self._schema = schema
        if self.kind == "csv":
            options = pa_csv.WriteOptions(quoting_style="needed")
            self._writer = pa_csv.CSVWriter(name, schema, write_options=options)
        else:
            self._writer = pq.ParquetWriter(name, schema)
        return self._writer

    def commit(self) -> Path:
        """Finish the file and rename it to :attr:`path`; return the path."""
        if self._writer is None:
            empty = self._empty if self._empty is not None else pd.DataFrame()
            self._writer_for(self._table(empty).schema)
        writer, temporary = self._writer, self._temporary
        if writer is None or temporary is None:
            raise ServingError(f"nothing was written for {self.path}; this is a bug.")
        writer.close()
        os.chmod(temporary, 0o644)
        os.replace(temporary, self.path)
        self._writer = self._temporary = None
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file; the destination is left untouched."""
        if self._writer is not None:
            with contextlib.suppress(pa.ArrowException, OSError):
                self._writer.close()  # the file is deleted next; its contents do not matter
        if self._temporary is not None:
            self._temporary.unlink(missing_ok=True)
        self._writer = self._temporary = None
