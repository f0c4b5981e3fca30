"""Snapshot a data source without holding more than a chunk of a large CSV file in memory.

:func:`snapshot_source` is what the ingest stage calls. A Parquet file, a
database query or a sample is loaded whole and snapshotted as before (Parquet
is already columnar and compact; a query's size is the user's choice). A CSV
or TSV file of more than :data:`CHUNK_ROWS` rows is parsed a chunk at a time:

1. each chunk is parsed as a whole file would be and set aside as a temporary
   Parquet file in the snapshots folder (``.tmp-*.parquet``, the name every
   snapshot writer uses, so ``mlops-nb doctor`` knows a leftover);
2. the column types of the chunks are reconciled as one parse of the whole file
   would have typed them: integers in one chunk and floats (or a missing value)
   in another become floats; a column that is numbers in one chunk and text in
   another is read again, that column only, as text;
3. the chunks are converted, hashed row by row into the content version (the
   same digest :func:`~mlops_nb.data.snapshot.content_hash` gives the whole
   frame) and written as the row groups of one Parquet file, renamed into place
   at the end.

A file of at most one chunk gets exactly the frame :func:`load_source` reads.
The target is checked on the way (present, not all missing, two values at
least), before anything is renamed into place: a bad source leaves no snapshot.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlops_nb.data.snapshot import Snapshot, header_digest, row_hashes, snapshot, snapshot_path
from mlops_nb.data.sources import (
    SourceSpec,
    _tidy,
    check_names,
    check_source,
    check_target_column,
    load_source,
    read_csv_chunks,
    redact,
    require_target,
)
from mlops_nb.errors import DataSourceError, shorten
from mlops_nb.faults import crash_point

__all__ = ["CHUNK_ROWS", "read_snapshot", "snapshot_source"]

CHUNK_ROWS = 1_000_000
"""Rows of a CSV file parsed at a time (about 100-200 MB of a typical table)."""

_FLOATS = frozenset({"int64", "float64"})


def snapshot_source(
    source: str,
    directory: Path,
    *,
    base_dir: Path | None = None,
    target: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    protect: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> Snapshot:
    """Snapshot the data source ``source`` into ``directory`` (see the module docstring).

    Args:
        source: The data-source string (see :mod:`mlops_nb.data.sources`).
        directory: Folder of the snapshots (created if missing).
        base_dir: Folder that relative paths resolve against.
        target: The label column to check (:func:`require_target`), or None.
        chunk_rows: Rows of a CSV file parsed at a time.
        protect: A step applied to the data before it is snapshotted (the
            ingest stage's :class:`~mlops_nb.data.personal.PersonalData`:
            personal data is pseudonymised before it reaches the disk). A CSV
            read in several chunks is snapshotted, protected, snapshotted
            again, and its unprotected snapshot removed.

    Returns:
        The :class:`~mlops_nb.data.snapshot.Snapshot`; read it with :func:`read_snapshot`.

    Raises:
        DataSourceError: The source is missing, malformed or unreadable, the
            target is missing or unusable, or the snapshot cannot be written.
    """
    spec = check_source(source, base_dir)
    if spec.kind != "csv":
        frame = load_source(source, base_dir)
        if target is not None:
            require_target(frame, target, source)
        return snapshot(protect(frame) if protect else frame, directory)
    directory = Path(directory)
    with _Chunks(directory, spec) as chunks:
        for chunk in read_csv_chunks(spec, chunk_rows):
            chunks.add(chunk, target)
        if not chunks.names:  # no rows at all: the message a whole read gives
            load_source(source, base_dir)
        if chunks.first is not None:  # one chunk: exactly what a whole read gives
            frame = chunks.first
            _tidy(frame, spec)
            if target is not None:
                require_target(frame, target, source)
            return snapshot(protect(frame) if protect else frame, directory)
        chunks.check(source, target)
        text = chunks.text_columns()
        retyped = read_csv_chunks(spec, chunk_rows, usecols=text, text=True) if text else None
        whole = chunks.combine(retyped)
    if protect is None:
        return whole
    frame = read_snapshot(whole)
    protected = protect(frame)
    if protected is frame:
        return whole
    again = snapshot(protected, directory)
    if again.path != whole.path:
        whole.path.unlink(missing_ok=True)
    return again


def read_snapshot(snap: Snapshot | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """Read a snapshot (or ``columns`` of it) back as a DataFrame."""
    path = snap.path if isinstance(snap, Snapshot) else Path(snap)
    try:
        return pd.read_parquet(path, columns=columns)
    except (OSError, pa.ArrowException) as exc:
        raise DataSourceError(
            f"cannot read the data snapshot {path} ({type(exc).__name__}: {exc}); run "
            f"`mlops-nb doctor` to check the snapshots, then run the ingest stage again.",
            path=path,
        ) from exc


def _reset_names(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    frame.columns = pd.Index(names, dtype="str")
    return frame


@dataclass
class _Target:
    """What the chunks told about the label column."""

    present: int = 0
    values: list[object] = field(default_factory=list)  # the first two distinct ones


class _Chunks:
    """The temporary chunk files of one CSV source, removed whatever happens."""

    def __init__(self, directory: Path, spec: SourceSpec) -> None:
        self.directory, self.spec = directory, spec
        self.first: pd.DataFrame | None = None  # held until a second chunk comes
        self.files: list[Path] = []
        self.names: list[str] = []
        self.dtypes: list[set[str]] = []
        self.rows = 0
        self.target = _Target()

    def __enter__(self) -> _Chunks:
        return self

    def __exit__(self, *exc: object) -> None:
        for path in self.files:
            with contextlib.suppress(OSError):
                path.unlink()

    def add(self, chunk: pd.DataFrame, target: str | None) -> None:
        if not self.names:
            self.names = [str(c) for c in chunk.columns]
            self.dtypes = [set() for _ in self.names]
            self.first = chunk
            self._count(chunk, target)
            return
        if self.first is not None:
            check_names(self.names, self.spec)
            self._set_aside(self.first)
            self.first = None
        self._count(chunk, target)
        self._set_aside(chunk)

    def _count(self, chunk: pd.DataFrame, target: str | None) -> None:
        for kinds, dtype in zip(self.dtypes, chunk.dtypes, strict=True):
            kinds.add(str(dtype))
        self.rows += len(chunk)
        if target is not None and target in chunk.columns:
            labels = chunk[target]
            self.target.present += int(labels.notna().sum())
            for value in labels.dropna().unique()[:2]:
                if len(self.target.values) < 2 and value not in self.target.values:
                    self.target.values.append(value)

    def _set_aside(self, chunk: pd.DataFrame) -> None:
        path = self._temporary()
        self.files.append(path)
        try:
            chunk.to_parquet(path, index=False)
        except (pa.ArrowException, OSError, ValueError, TypeError) as exc:
            raise self._unwritable(exc) from exc

    def check(self, source: str, target: str | None) -> None:
        """:func:`require_target`'s checks, on what the chunks counted."""
        if target is None:
            return
        shown = redact(source)
        check_target_column(self.names, target, shown)
        if self.target.present == 0:
            raise DataSourceError(
                f"target column {target!r} of data source {shown!r} has no values: all "
                f"{self.rows} rows are missing. Check the source, or choose another target "
                f"with -p target=<column>.",
                source=shown,
                column=target,
            )
        if len(self.target.values) == 1:
            raise DataSourceError(
                f"target column {target!r} of data source {shown!r} holds one value only "
                f"({shorten(str(self.target.values[0]))!s} in all {self.target.present} "
                f"labelled rows); a model needs at least two classes or varying values. "
                f"Check the source (a filter that kept one class?), or choose another "
                f"target with -p target=<column>.",
                source=shown,
                column=target,
            )

    def text_columns(self) -> list[int]:
        """Positions of the columns whose chunks disagree in a way only text reconciles."""
        return [
            position
            for position, kinds in enumerate(self.dtypes)
            if len(kinds) > 1 and not kinds <= _FLOATS
        ]

    def combine(self, retyped: Iterator[pd.DataFrame] | None) -> Snapshot:
        """Reconcile, hash and write the chunks as one snapshot."""
        floats = [
            name
            for name, kinds in zip(self.names, self.dtypes, strict=True)
            if len(kinds) > 1 and kinds <= _FLOATS
        ]
        digest: hashlib._Hash | None = None
        schema: pa.Schema | None = None
        temporary = self._temporary()
        self.files.append(temporary)  # removed with the chunks unless renamed into place
        writer: pq.ParquetWriter | None = None
        try:
            for path in self.files[:-1]:
                chunk = _reset_names(pd.read_parquet(path), self.names)
                for name in floats:
                    chunk[name] = chunk[name].astype("float64")
                if retyped is not None:
                    text = next(retyped)
                    for name in text.columns:
                        chunk[name] = text[name].array
                table = pa.Table.from_pandas(chunk, preserve_index=False, schema=schema)
                if writer is None:
                    digest, schema = header_digest(chunk, self.rows), table.schema
                    writer = pq.ParquetWriter(temporary, schema)
                assert digest is not None
                digest.update(row_hashes(chunk))
                writer.write_table(table)
                path.unlink()
            if writer is not None:
                writer.close()
                writer = None
        except (pa.ArrowException, OSError, ValueError, TypeError) as exc:
            raise self._unwritable(exc) from exc
        finally:
            if writer is not None:
                writer.close()
        assert digest is not None  # combine() is only called with two chunks or more
        version = digest.hexdigest()[:16]
        final = snapshot_path(self.directory, version)
        crash_point("snapshot")
        if not final.is_file():
            os.replace(temporary, final)
        return Snapshot(version=version, path=final, rows=self.rows, columns=len(self.names))

    def _temporary(self) -> Path:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".parquet")
            os.close(handle)
        except OSError as exc:
            raise self._unwritable(exc) from exc
        return Path(name)

    def _unwritable(self, exc: BaseException) -> DataSourceError:
        return DataSourceError(
            f"cannot write the data snapshot in {self.directory} ({type(exc).__name__}: "
            f"{exc}). A column probably mixes types (e.g. numbers and text): convert it or "
            f"fix the values; otherwise check that the folder is writable and the disk is "
            f"not full.",
            path=self.directory,
        )
