"""Content-addressed snapshots of a DataFrame as Parquet files.

A snapshot's version is a hash of the frame's *content* (column names, dtypes
and values, not the index), so the same data always gets the same version
whatever wrote it, and a snapshot that already exists is never rewritten.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from mlops_nb.errors import DataSourceError
from mlops_nb.faults import crash_point

__all__ = [
    "Snapshot",
    "content_hash",
    "file_sha256",
    "header_digest",
    "row_hashes",
    "snapshot",
    "snapshot_path",
]

VERSION_LENGTH = 16
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Snapshot:
    """A Parquet snapshot of a frame.

    Attributes:
        version: First 16 hex digits of the SHA-256 of the frame's content.
        path: The Parquet file, ``data-<version>.parquet``.
        rows: Number of rows.
        columns: Number of columns.
    """

    version: str
    path: Path
    rows: int
    columns: int


def content_hash(df: pd.DataFrame) -> str:
    """Hash a frame's column names, dtypes and values (not its index).

    The hash depends on what the data is, not on how it is stored: it is the
    same for equal frames across runs and processes, and changes when a value,
    a column name, the column order or a dtype changes.

    Args:
        df: The frame to hash.

    Returns:
        The first 16 hex digits of a SHA-256 digest.
    """
    digest = header_digest(df, len(df))
    if df.shape[1] > 0 and len(df) > 0:
        digest.update(row_hashes(df))
    return digest.hexdigest()[:VERSION_LENGTH]


def header_digest(df: pd.DataFrame, rows: int) -> hashlib._Hash:
    """The digest of a content version's header: ``df``'s names and dtypes, and ``rows``.

    Feeding it :func:`row_hashes` of every row, in order and in any number of
    chunks of frames shaped like ``df``, gives the digest :func:`content_hash`
    makes of the whole frame.
    """
    digest = hashlib.sha256()
    header = {
        "columns": [str(name) for name in df.columns],
        "dtypes": [str(dtype) for dtype in df.dtypes],
        "rows": rows,
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    return digest


def row_hashes(df: pd.DataFrame) -> bytes:
    """One little-endian uint64 per row; unhashable values (lists, dicts) are hashed as text."""
    return _row_hashes(df).astype(np.dtype("<u8")).tobytes()


def _row_hashes(df: pd.DataFrame) -> np.ndarray:
    hashes: np.ndarray
    try:
        hashes = pd.util.hash_pandas_object(df, index=False).to_numpy()
    except TypeError:
        hashes = pd.util.hash_pandas_object(df.astype(str), index=False).to_numpy()
    return hashes


def file_sha256(path: Path) -> str:
    """Return the full SHA-256 hex digest of a file's bytes.

    Raises:
        DataSourceError: If the file cannot be read.
    """
    digest = hashlib.sha256()
    try:
        with Path(path).open("rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
    except OSError as exc:
        raise DataSourceError(
            f"cannot read {path} to hash it ({exc.strerror or exc}); check that the file "
            f"exists and is readable.",
            path=Path(path),
        ) from exc
    return digest.hexdigest()


def snapshot_path(directory: Path, version: str) -> Path:
    """Where the snapshot of content version ``version`` lives in ``directory``."""
    return Path(directory) / f"data-{version}.parquet"


def snapshot(df: pd.DataFrame, directory: Path) -> Snapshot:
    """Write ``df`` to ``directory/data-<version>.parquet`` unless it is already there.

    The file is written to a temporary name and renamed into place, so a
    reader never sees a partial snapshot. The index is not stored.

    Args:
        df: The frame to snapshot.
        directory: Folder of the snapshots (created if missing).

    Returns:
        The :class:`Snapshot` describing the file.

    Raises:
        DataSourceError: If the frame cannot be stored as Parquet or the
            folder cannot be written.
    """
    version = content_hash(df)
    directory = Path(directory)
    path = snapshot_path(directory, version)
    if not path.is_file():
        _write_atomically(df, path)
    return Snapshot(version=version, path=path, rows=len(df), columns=df.shape[1])


def _write_atomically(df: pd.DataFrame, path: Path) -> None:
    """Write Parquet to a temporary file beside ``path``, then rename it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".parquet")
        os.close(handle)
    except OSError as exc:
        raise DataSourceError(
            f"cannot write a data snapshot in {path.parent} ({exc.strerror or exc}); check "
            f"that the folder is writable and the disk is not full.",
            path=path.parent,
        ) from exc
    try:
        df.to_parquet(temporary, index=False)
        crash_point("snapshot")
        os.replace(temporary, path)
    except (pa.ArrowException, OSError, ValueError, TypeError) as exc:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise DataSourceError(
            f"cannot store the data as the Parquet snapshot {path} ({type(exc).__name__}: "
            f"{exc}). A column probably mixes types (e.g. numbers and text); convert it "
            f"with df[column].astype(str) or fix the values.",
            path=path,
        ) from exc
