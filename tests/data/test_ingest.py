"""snapshot_source: a CSV file a chunk at a time into the same snapshot a whole read makes."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_nb.data.ingest import read_snapshot, snapshot_source
from mlops_nb.data.sample import generate_churn
from mlops_nb.data.snapshot import content_hash, snapshot
from mlops_nb.data.sources import load_source
from mlops_nb.errors import DataSourceError


def _csv(folder: Path, frame: pd.DataFrame, name: str = "data.csv") -> Path:
    path = folder / name
    frame.to_csv(path, index=False)
    return path


def _whole(path: Path, folder: Path) -> str:
    """The version the old whole-file ingest gives the same file."""
    return snapshot(load_source(str(path)), folder / "whole").version


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_chunks_make_the_snapshot_a_whole_read_makes(tmp_path: Path) -> None:
    frame = generate_churn(rows=2_500, seed=3)
    frame.loc[1_700:1_705, "age"] = np.nan  # integers in two chunks, floats in the middle one
    # numbers, then text
    frame["code"] = [str(i) if i < 2_200 else f"c{i}" for i in range(len(frame))]
    frame["flag"] = ["True" if i % 3 else "False" for i in range(len(frame))]
    path = _csv(tmp_path, frame)
    expected = _whole(path, tmp_path)

    snap = snapshot_source(str(path), tmp_path / "snaps", target="churned", chunk_rows=1_000)

    assert snap.version == expected
    back = read_snapshot(snap)
    assert (snap.rows, snap.columns) == (2_500, frame.shape[1])
    assert str(back["age"].dtype) == "float64" and back["age"].isna().sum() == 6
    assert str(back["code"].dtype) == "str" and back.loc[5, "code"] == "5"
    assert back.loc[2_300, "code"] == "c2300"
    assert content_hash(back) == snap.version
    pd.testing.assert_frame_equal(back, pd.read_csv(path, dtype={"code": str}))
    assert _leftovers(tmp_path / "snaps") == []


def test_one_chunk_is_exactly_the_whole_read(tmp_path: Path) -> None:
    path = _csv(tmp_path, generate_churn(rows=300, seed=1))
    snap = snapshot_source(str(path), tmp_path / "snaps", target="churned")
    assert snap.version == _whole(path, tmp_path)
    again = snapshot_source(str(path), tmp_path / "snaps", target="churned", chunk_rows=70)
    assert again.version == snap.version  # five chunks, the same content
    assert [p.name for p in (tmp_path / "snaps").iterdir()] == [snap.path.name]


def test_other_sources_are_snapshotted_whole(tmp_path: Path) -> None:
    frame = generate_churn(rows=200, seed=2)
    frame.to_parquet(tmp_path / "d.parquet", index=False)
    snap = snapshot_source("d.parquet", tmp_path / "snaps", base_dir=tmp_path, target="churned")
    assert snap.version == content_hash(frame)
    assert snapshot_source("sample:churn?rows=200&seed=2", tmp_path / "s2").version == snap.version


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (lambda i: np.nan, "has no values"),
        (lambda i: 1, "holds one value only"),
    ],
)
def test_a_bad_target_found_in_the_chunks_leaves_no_snapshot(
    tmp_path: Path, labels: object, message: str
) -> None:
    frame = generate_churn(rows=500, seed=4)
    frame["churned"] = [labels(i) for i in range(len(frame))]  # type: ignore[operator]
    path = _csv(tmp_path, frame)
    with pytest.raises(DataSourceError, match=message):
        snapshot_source(str(path), tmp_path / "snaps", target="churned", chunk_rows=100)
    assert list((tmp_path / "snaps").iterdir()) == []


def test_a_missing_target_is_named_with_close_matches(tmp_path: Path) -> None:
    path = _csv(tmp_path, generate_churn(rows=500, seed=4))
    with pytest.raises(DataSourceError, match="Did you mean 'churned'"):
        snapshot_source(str(path), tmp_path / "snaps", target="churn", chunk_rows=100)
    assert list((tmp_path / "snaps").iterdir()) == []


def test_a_malformed_line_past_the_first_chunk_is_named(tmp_path: Path) -> None:
    path = _csv(tmp_path, generate_churn(rows=400, seed=5))
    lines = path.read_text().splitlines()
    lines[350] += ",extra,fields"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataSourceError, match="not well-formed CSV at line 351"):
        snapshot_source(str(path), tmp_path / "snaps", target="churned", chunk_rows=100)
    assert list((tmp_path / "snaps").iterdir()) == []


def test_names_that_repeat_once_stripped_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a, a,churned\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(50)))
    with pytest.raises(DataSourceError, match=r"duplicate column names: a\."):
        snapshot_source(str(path), tmp_path / "snaps", target="churned", chunk_rows=10)
    assert not (tmp_path / "snaps").exists() or list((tmp_path / "snaps").iterdir()) == []


def test_a_header_only_file_says_it_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b,churned\n")
    with pytest.raises(DataSourceError, match="no rows"):
        snapshot_source(str(path), tmp_path / "snaps", target="churned", chunk_rows=10)


def test_memory_stays_near_one_chunk(tmp_path: Path) -> None:
    """Python-level allocations while streaming: bounded by the chunk, not by the file."""
    path = _csv(tmp_path, generate_churn(rows=60_000, seed=6))
    tracemalloc.start()
    try:
        snapshot_source(str(path), tmp_path / "small", target="churned", chunk_rows=5_000)
        _, chunked = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        snapshot(load_source(str(path)), tmp_path / "whole")
        _, whole = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert chunked < whole / 3, (chunked, whole)
