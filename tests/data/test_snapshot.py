"""Content-addressed Parquet snapshots."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlops_nb.data.sample import generate_churn
from mlops_nb.data.snapshot import Snapshot, content_hash, file_sha256, snapshot
from mlops_nb.errors import DataSourceError

FRAME = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None], "c": [0.5, float("nan"), 2.0]})


def test_hash_is_short_hex_and_pinned() -> None:
    version = content_hash(FRAME)
    assert len(version) == 16
    int(version, 16)
    # Pinned: if this changes (e.g. after a pandas upgrade), every existing snapshot
    # gets a new version.
    assert version == "d4dc615a16f46f71"


def test_hash_is_stable_across_processes() -> None:
    code = (
        "import pandas as pd; from mlops_nb.data.snapshot import content_hash; "
        "print(content_hash(pd.DataFrame({'a': [1, 2, 3], 'b': ['x', 'y', None], "
        "'c': [0.5, float('nan'), 2.0]})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == content_hash(FRAME)


def test_hash_ignores_the_index_but_not_the_content() -> None:
    base = content_hash(FRAME)
    assert content_hash(FRAME.set_axis([10, 20, 30])) == base
    assert content_hash(FRAME.assign(a=[1, 2, 4])) != base
    assert content_hash(FRAME.rename(columns={"a": "A"})) != base
    assert content_hash(FRAME[["b", "a", "c"]]) != base
    assert content_hash(FRAME.astype({"a": "float64"})) != base
    assert content_hash(FRAME.iloc[::-1].reset_index(drop=True)) != base


def test_hash_of_unusual_frames() -> None:
    assert content_hash(pd.DataFrame()) != content_hash(pd.DataFrame({"a": []}))
    lists = pd.DataFrame({"tags": [["a"], ["b", "c"]]})
    assert content_hash(lists) == content_hash(lists.copy())


def test_snapshot_writes_a_readable_parquet(tmp_path: Path) -> None:
    df = generate_churn(500, seed=2)
    snap = snapshot(df, tmp_path / "snapshots")
    assert snap == Snapshot(
        version=content_hash(df),
        path=tmp_path / "snapshots" / f"data-{snap.version}.parquet",
        rows=500,
        columns=11,
    )
    pd.testing.assert_frame_equal(pd.read_parquet(snap.path), df)
    assert [p.name for p in (tmp_path / "snapshots").iterdir()] == [snap.path.name]


def test_snapshot_round_trip_keeps_the_version(tmp_path: Path) -> None:
    df = generate_churn(300, seed=9)
    snap = snapshot(df, tmp_path)
    assert content_hash(pd.read_parquet(snap.path)) == snap.version


def test_snapshot_is_idempotent(tmp_path: Path) -> None:
    first = snapshot(FRAME, tmp_path)
    before = first.path.stat()
    second = snapshot(FRAME.copy(), tmp_path)
    assert second == first
    after = second.path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert len(list(tmp_path.iterdir())) == 1


def test_snapshot_is_frozen(tmp_path: Path) -> None:
    snap = snapshot(FRAME, tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.rows = 0  # type: ignore[misc]


def test_snapshot_of_unstorable_data_leaves_no_temp_file(tmp_path: Path) -> None:
    mixed = pd.DataFrame({"mixed": pd.Series([1, "two", 3.0], dtype=object)})
    with pytest.raises(DataSourceError, match="cannot store the data as the Parquet snapshot"):
        snapshot(mixed, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_file_sha256(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    payload = bytes(range(256)) * 5000
    path.write_bytes(payload)
    assert file_sha256(path) == hashlib.sha256(payload).hexdigest()
    with pytest.raises(DataSourceError, match=r"cannot read .*missing\.bin to hash it"):
        file_sha256(tmp_path / "missing.bin")
