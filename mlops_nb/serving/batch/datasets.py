"""Partitioned Parquet datasets: the input of a scaled batch prediction, and its output folders.

An input dataset is a folder of Parquet files (searched recursively; names
starting with ``_`` or ``.``, such as ``_SUCCESS`` or ``_metadata``, are
skipped), a glob (``data/part-*.parquet``), one Parquet file, or the same as an
fsspec URL (``s3://bucket/prefix/``). URLs are opened with fsspec's defaults,
as the artifact location is: S3-compatible endpoints and credentials come from
the standard AWS variables (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...).
Each file is one partition, in the order of its path; a file's row count comes
from its Parquet footer, so every partition knows the global position of its
first row before anything is scored.

An output dataset is written into a temporary folder next to its destination
(``.<name>.<token>.tmp``) and moved into place when every part is written: on
a filesystem that is one rename, so a failure leaves no half output; on object
storage the move copies the parts then deletes the temporary prefix (nothing
appears under the destination before every part is written).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlops_nb.data.sources import PARQUET_SUFFIXES
from mlops_nb.errors import DataSourceError, ServingError
from mlops_nb.serving.batch.files import data_columns, frame_table

__all__ = [
    "PART_PATTERN",
    "DatasetFile",
    "InputDataset",
    "OutputFolder",
    "PartWriter",
    "dataset_invalid_url",
    "is_dataset",
    "open_dataset",
    "read_part",
]

PART_PATTERN = "part-{:05d}.parquet"
METADATA_THREADS = 16
"""Footers read at once when opening a dataset (they are small reads, mostly waiting)."""
_GLOB_CHARS = frozenset("*?[")


def _filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem of ``url`` (a local path or URL) and the path inside it."""
    try:
        import fsspec
    except ImportError as exc:  # pragma: no cover - fsspec comes with the dask and s3 extras
        raise ServingError(f"reading {url} needs fsspec: pip install 'mlops-nb[dask]'") from exc
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as exc:
        scheme = url.split("://", 1)[0]
        hint = "pip install 'mlops-nb[s3]'" if scheme in ("s3", "s3a") else f"the {scheme} driver"
        raise DataSourceError(
            f"cannot open {url}: {type(exc).__name__}: {exc}; install {hint}.", path=url
        ) from exc
    return fs, str(path)


def _is_local(fs: Any) -> bool:
    return "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))


def _url(fs: Any, path: str) -> str:
    """A path inside ``fs`` as a URL the workers can open (a plain path when local)."""
    return str(path) if _is_local(fs) else str(fs.unstrip_protocol(path))


def is_dataset(location: str | Path) -> bool:
    """True when ``location`` names a dataset: a URL, a glob or a folder, not one local file."""
    text = str(location)
    return "://" in text or bool(_GLOB_CHARS & set(text)) or Path(text).expanduser().is_dir()


@dataclass(frozen=True)
class DatasetFile:
    """One partition of an input dataset.

    Attributes:
        url: The file, as a path or fsspec URL every worker opens.
        rows: Its rows (from the Parquet footer).
        offset: The global 0-based position of its first row in the dataset.
    """

    url: str
    rows: int
    offset: int

    @property
    def name(self) -> str:
        """The file's name, for messages."""
        return self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class InputDataset:
    """A checked input dataset: its non-empty files in order, and their common columns."""

    location: str
    files: tuple[DatasetFile, ...]
    columns: list[str]
    local: bool

    @property
    def total_rows(self) -> int:
        return sum(part.rows for part in self.files)


def _data_file(path: str) -> bool:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name.lower().endswith(PARQUET_SUFFIXES) and not name.startswith(("_", "."))


def _list_files(fs: Any, path: str, location: str) -> list[str]:
    try:
        if _GLOB_CHARS & set(path):
            found = [p for p in fs.glob(path) if fs.isfile(p)]
        elif fs.isdir(path):
            found = fs.find(path)
        elif fs.isfile(path):
            found = [path]
        else:
            found = None
    except OSError as exc:
        raise DataSourceError(
            f"cannot list the input dataset {location}: {type(exc).__name__}: {exc}; check the "
            f"path and, for a URL, the credentials (AWS_* variables) and endpoint.",
            path=location,
        ) from exc
    if found is None:
        raise DataSourceError(
            f"input dataset {location} not found; name a folder of Parquet files, a glob "
            f"such as data/part-*.parquet, or a URL such as s3://bucket/prefix/.",
            path=location,
        )
    return sorted(str(p) for p in found if _data_file(str(p)))


def _footer(fs: Any, path: str) -> tuple[int, list[str]]:
    try:
        with fs.open(path, "rb") as handle:
            metadata = pq.ParquetFile(handle).metadata
            return int(metadata.num_rows), data_columns(metadata.schema.to_arrow_schema())
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataSourceError(
            f"input file {_url(fs, path)}: cannot read it as Parquet ({type(exc).__name__}: "
            f"{exc}); every file of the dataset must be complete Parquet.",
            path=_url(fs, path),
        ) from exc


def _check_columns(fs: Any, paths: Sequence[str], footers: Sequence[tuple[int, list[str]]]) -> None:
    first = footers[0][1]
    for path, (_, columns) in zip(paths, footers, strict=True):
        if set(columns) != set(first):
            differ = sorted(set(columns) ^ set(first))
            raise DataSourceError(
                f"input file {_url(fs, path)} does not have the columns of "
                f"{_url(fs, paths[0])}: they differ in {', '.join(differ)}. Every file of a "
                f"dataset must have the same columns; rewrite or remove that file.",
                path=_url(fs, path),
                columns=differ,
            )


def open_dataset(location: str | Path) -> InputDataset:
    """List the Parquet files of ``location``, read their footers, check their columns.

    Raises:
        DataSourceError: Nothing is found there, a file is not Parquet, the
            files' columns differ, or the dataset has no rows.
    """
    text = str(location)
    if "://" not in text:
        text = str(Path(text).expanduser().resolve()) if not _GLOB_CHARS & set(text) else text
    fs, path = _filesystem(text)
    paths = _list_files(fs, path, text)
    if not paths:
        raise DataSourceError(
            f"input dataset {text} holds no Parquet files (*.parquet, *.pq); name a folder "
            f"or glob of Parquet files, or convert the data to Parquet.",
            path=text,
        )
    with ThreadPoolExecutor(min(METADATA_THREADS, len(paths))) as pool:
        footers = list(pool.map(lambda p: _footer(fs, p), paths))
    _check_columns(fs, paths, footers)
    files, offset = [], 0
    for path_, (rows, _) in zip(paths, footers, strict=True):
        if rows:
            files.append(DatasetFile(_url(fs, path_), rows, offset))
            offset += rows
    columns = footers[0][1]
    if not files:
        raise DataSourceError(
            f"input dataset {text} is empty: its {len(paths)} file(s) have the columns "
            f"{', '.join(columns)} but no rows. Check that the export that produced it "
            f"finished, or pass another dataset.",
            path=text,
        )
    return InputDataset(text, tuple(files), columns, _is_local(fs))


def read_part(part: DatasetFile, columns: Sequence[str], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The rows of one partition, ``chunk_rows`` at a time, indexed by their global position."""
    fs, path = _filesystem(part.url)
    done = part.offset
    try:
        with fs.open(path, "rb") as handle:
            for batch in pq.ParquetFile(handle).iter_batches(
                batch_size=chunk_rows, columns=list(columns)
            ):
                if batch.num_rows:
                    chunk = batch.to_pandas()
                    chunk.index = pd.RangeIndex(done, done + len(chunk))
                    done += len(chunk)
                    yield chunk
    except (pa.ArrowException, OSError) as exc:
        raise DataSourceError(
            f"input file {part.url}: cannot read it after row {done} ({type(exc).__name__}: "
            f"{exc}); check that the file is complete Parquet.",
            path=part.url,
            row=done,
        ) from exc


class PartWriter:
    """Write frames to one part file of an output folder (already a temporary folder).

    The first frame with rows fixes the schema, as :class:`TableWriter` does;
    ``schema`` fixes it from the start (the invalid rows: all text).
    """

    def __init__(self, url: str, schema: pa.Schema | None = None) -> None:
        self.url = url
        self.rows = 0
        self._schema = schema
        self._empty: pd.DataFrame | None = None
        self._handle: Any = None
        self._writer: pq.ParquetWriter | None = None

    def write(self, frame: pd.DataFrame) -> None:
        if len(frame) == 0:
            self._empty = frame if self._empty is None else self._empty
            return
        table = frame_table(frame, self._schema, self.url, self.rows)
        if self._writer is None:
            fs, path = _filesystem(self.url)
            self._schema = table.schema
            self._handle = fs.open(path, "wb")
            self._writer = pq.ParquetWriter(self._handle, table.schema)
        self._writer.write_table(table)
        self.rows += len(frame)

    def close(self) -> None:
        """Finish the file (an empty one holds the columns of the empty frames)."""
        if self._writer is None:
            empty = self._empty if self._empty is not None else pd.DataFrame()
            table = frame_table(empty, self._schema, self.url, 0)
            fs, path = _filesystem(self.url)
            with fs.open(path, "wb") as handle:
                pq.write_table(table, handle)
            return
        self._writer.close()
        self._handle.close()
        self._writer = self._handle = None


def dataset_invalid_url(output: str) -> str:
    """Where invalid rows go by default: ``scored/`` → ``scored.invalid/``."""
    base = output.rstrip("/")
    head, _, name = base.rpartition("/")
    stem, dot, suffix = name.partition(".")
    invalid = f"{stem}.invalid{dot}{suffix}" if dot else f"{name}.invalid"
    return f"{head}/{invalid}" if head else invalid


def _ours(fs: Any, path: str) -> bool:
    """True when ``path`` is an output folder this module wrote (only part files)."""
    names = [str(p).rstrip("/").rsplit("/", 1)[-1] for p in fs.ls(path, detail=False)]
    return all(name.startswith("part-") and name.endswith(".parquet") for name in names)


class OutputFolder:
    """An output dataset written into a temporary folder, moved into place by :meth:`commit`.

    Raises:
        ServingError: The destination exists and is not a dataset that
            batch prediction wrote (a file, or a folder holding other files).
    """

    def __init__(self, location: str | Path) -> None:
        text = str(location)
        if "://" not in text:
            text = str(Path(text).expanduser().resolve())
        self.location = text.rstrip("/")
        self.fs, self.path = _filesystem(self.location)
        self.path = self.path.rstrip("/")
        self.local = _is_local(self.fs)
        parent, _, name = self.path.rpartition("/")
        self.temporary = f"{parent}/.{name}.{secrets.token_hex(4)}.tmp"
        self._check_destination()

    def _check_destination(self) -> None:
        if self.path.lower().endswith((".csv", ".tsv", ".csv.gz")):
            raise ServingError(
                f"output {self.location}: a partitioned prediction writes a folder of Parquet "
                f"parts; name a folder, e.g. scored/ or scored.parquet.",
                path=self.location,
            )
        if self.fs.isfile(self.path):
            raise ServingError(
                f"output {self.location} is an existing file; a partitioned prediction writes a "
                f"folder of Parquet parts there. Remove the file or name another folder.",
                path=self.location,
            )
        if self.fs.isdir(self.path) and not _ours(self.fs, self.path):
            raise ServingError(
                f"output folder {self.location} exists and holds files other than part-*.parquet; "
                f"it is not a previous prediction, so it is not replaced. Name a new folder.",
                path=self.location,
            )

    def part(self, index: int) -> str:
        """The URL (or path) of part ``index`` in the temporary folder."""
        return _url(self.fs, f"{self.temporary}/{PART_PATTERN.format(index)}")

    @property
    def url(self) -> str:
        """The temporary folder as workers open it."""
        return _url(self.fs, self.temporary)

    def create(self) -> None:
        self.fs.makedirs(self.temporary, exist_ok=True)

    def commit(self) -> str:
        """Replace the destination (a previous prediction) by the temporary folder."""
        if self.local:
            aside = Path(f"{self.temporary}.old")
            destination = Path(self.path)
            if destination.exists():
                destination.replace(aside)
            Path(self.temporary).replace(destination)
            if aside.exists():
                self.fs.rm(str(aside), recursive=True)
        else:
            if self.fs.exists(self.path):
                self.fs.rm(self.path, recursive=True)
            self.fs.mv(self.temporary, self.path, recursive=True)
            with contextlib.suppress(OSError):
                self.fs.rm(self.temporary, recursive=True)
        return self.location

    def abort(self) -> None:
        """Delete the temporary folder; the destination is left untouched."""
        with contextlib.suppress(OSError):
            if self.fs.exists(self.temporary):
                self.fs.rm(self.temporary, recursive=True)
