"""Monitoring a partitioned Parquet dataset one partition at a time: the same as all at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops_nb.monitoring import DriftDetector, MonitoringError
from mlops_nb.monitoring.loop import PREDICTION_COLUMN, prediction_scores, reference_frame
from mlops_nb.monitoring.partitions import (
    PARALLEL_ENV,
    PartitionPlan,
    dataset_files,
    scan_partitions,
)
from mlops_nb.validation import infer_contract, validate
from tests.monitoring.conftest import make_frame
from tests.monitoring.test_summary import assert_same_report

COLUMNS = ["income", "age", "score", "children", "region", "member"]
TARGET = "label"


def labelled(rows: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    frame = make_frame(rows, seed, shift=shift)
    odds = (frame["income"] - 50_000) / 10_000 + (frame["region"] == "north")
    rng = np.random.default_rng(seed)
    frame[TARGET] = (odds + rng.normal(size=rows) > 0.5).astype(np.int64)
    return frame


@pytest.fixture(scope="module")
def fitted() -> tuple[object, object, DriftDetector]:
    """A model, its input contract and the detector fitted on its reference frame."""
    train = labelled(6_000, 0)
    numeric = ["income", "age", "score", "children", "member"]
    model = make_pipeline(
        ColumnTransformer(
            [
                ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
                ("region", OneHotEncoder(handle_unknown="ignore"), ["region"]),
            ]
        ),
        LogisticRegression(max_iter=500),
    ).fit(train[COLUMNS], train[TARGET])
    contract = infer_contract(train[COLUMNS], name="inputs")
    detector = DriftDetector().fit(reference_frame(model, train, COLUMNS, "binary"))
    return model, contract, detector


def write_parts(frame: pd.DataFrame, folder: Path, parts: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, piece in enumerate(np.array_split(np.arange(len(frame)), parts)):
        path = folder / f"part-{i:03d}.parquet"
        frame.iloc[piece].to_parquet(path, index=False)
        paths.append(path)
    (folder / "_SUCCESS").write_text("")
    return paths


def current_rows() -> pd.DataFrame:
    current = labelled(12_000, 5, shift=0.3)
    current.loc[current.index[::40], "region"] = "moon"  # 2.5 %: new category, refused rows
    return current


def in_process(model, contract, detector, current):
    """What the monitor template does with one frame in memory."""
    quality = validate(
        current[COLUMNS], contract, on_invalid="quarantine", max_invalid_fraction=1.0
    )
    frame = current[COLUMNS].copy()
    frame[PREDICTION_COLUMN] = np.nan
    scored = quality.valid.index
    frame.loc[scored, PREDICTION_COLUMN] = prediction_scores(
        model, frame.loc[scored, COLUMNS], "binary"
    )
    return quality, detector.test(frame)


def test_partition_scans_merge_to_the_in_process_result(fitted, tmp_path, monkeypatch):
    monkeypatch.delenv(PARALLEL_ENV, raising=False)
    model, contract, detector = fitted
    current = current_rows()
    write_parts(current, tmp_path / "current", 4)
    files = dataset_files("current", tmp_path)
    assert files is not None and len(files) == 4

    plan = PartitionPlan(detector.profile_, COLUMNS, contract, model, "binary", TARGET, 5_000)
    scan = scan_partitions(files, plan, source="current/")
    quality, expected = in_process(model, contract, detector, current)

    assert_same_report(detector.test_summary(scan.summary), expected)
    assert expected.prediction is not None and expected.prediction["drifted"]
    assert (scan.rows, scan.partitions, scan.labelled_rows) == (12_000, 4, 12_000)
    assert scan.invalid_rows == quality.invalid_rows == 300
    pd.testing.assert_frame_equal(
        scan.failures[["column", "check", "failures"]],
        quality.failures[["column", "check", "failures"]],
    )
    assert len(scan.sample) == 5_000 and scan.sampled
    data = scan.current_data(TARGET)
    assert data.labelled and list(data.frame.columns) == [*COLUMNS, TARGET]
    assert scan.valid.index.isin(data.frame.index).all() and len(scan.valid) < 5_000
    assert list(scan.valid.columns) == COLUMNS
    assert list(scan.frame.columns) == [*COLUMNS, PREDICTION_COLUMN]
    again = scan_partitions(list(reversed(files)), plan)
    pd.testing.assert_frame_equal(again.sample, scan.sample)  # the same sample in any order


def test_dataset_files_forms(tmp_path):
    folder = tmp_path / "data"
    write_parts(labelled(300, 1), folder / "day=1", 2)
    write_parts(labelled(300, 2), folder / "day=2", 1)
    single = folder / "day=1" / "part-000.parquet"
    expected = sorted(str(p) for p in folder.rglob("part-*.parquet"))

    assert dataset_files(str(folder)) == expected
    assert dataset_files("data", tmp_path) == expected
    assert dataset_files(f"{folder}/*/*.parquet") == expected
    assert dataset_files(folder.as_uri()) == [f"file://{p}" for p in expected]
    assert dataset_files(str(single)) is None
    for spec in ("sample:churn?seed=1", "inference?since=2026-11-01", "sqlite:///x.db?table=t"):
        assert dataset_files(spec) is None
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(MonitoringError, match="without Parquet files"):
        dataset_files(str(tmp_path / "empty"))


def test_a_memory_url_dataset_is_read_through_fsspec(fitted):
    import fsspec

    model, contract, detector = fitted
    current = labelled(2_000, 3)
    fs = fsspec.filesystem("memory")
    for i, piece in enumerate(np.array_split(np.arange(len(current)), 2)):
        with fs.open(f"/monitor-test/part-{i}.parquet", "wb") as handle:
            current.iloc[piece].to_parquet(handle, index=False)
    files = dataset_files("memory://monitor-test/")
    assert files is not None and len(files) == 2
    plan = PartitionPlan(detector.profile_, COLUMNS, contract, model, "binary", TARGET)
    scan = scan_partitions(files, plan, parallel="local")
    assert_same_report(
        detector.test_summary(scan.summary), in_process(model, contract, detector, current)[1]
    )
    assert not scan.sampled and len(scan.sample) == 2_000


def test_a_bad_partition_is_named(fitted, tmp_path):
    model, contract, detector = fitted
    paths = write_parts(labelled(900, 4), tmp_path / "cur", 3)
    bad = pd.read_parquet(paths[1])
    bad["income"] = bad["income"].map(lambda v: f"{v:.0f} USD")
    bad.to_parquet(paths[1], index=False)
    plan = PartitionPlan(detector.profile_, COLUMNS, contract, model, "binary", TARGET)
    files = dataset_files(str(tmp_path / "cur"))
    assert files is not None
    with pytest.raises(MonitoringError, match=r"part-001\.parquet") as caught:
        scan_partitions(files, plan)
    assert caught.value.partition == str(paths[1])

    pd.read_parquet(paths[0]).drop(columns=["age"]).to_parquet(paths[1], index=False)
    with pytest.raises(MonitoringError, match=r"lacks the model's input column\(s\) age"):
        scan_partitions(files, plan)
    paths[2].write_text("not parquet")
    with pytest.raises(MonitoringError, match="cannot be read as Parquet"):
        scan_partitions([str(paths[2])], plan)


def test_parallel_choice(fitted, tmp_path, monkeypatch):
    model, contract, detector = fitted
    plan = PartitionPlan(detector.profile_, COLUMNS, contract, model, "binary", TARGET)
    files = [str(p) for p in write_parts(labelled(300, 6), tmp_path / "c", 1)]
    monkeypatch.delenv("MLOPS_NB_DASK_SCHEDULER", raising=False)
    with pytest.raises(MonitoringError, match="parallel='dask' needs a Dask scheduler"):
        scan_partitions(files, plan, parallel="dask")
    with pytest.raises(MonitoringError, match="parallel='cluster' is invalid"):
        scan_partitions(files, plan, parallel="cluster")
    monkeypatch.setenv(PARALLEL_ENV, "dask")  # without a scheduler address: local
    assert scan_partitions(files, plan).rows == 300
    with pytest.raises(MonitoringError, match="no partition files"):
        scan_partitions([], plan)
