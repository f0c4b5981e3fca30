"""Monitoring a partitioned Parquet dataset: on a real Dask cluster, and through `run monitor`."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_nb.config import SCHEDULER_ENV
from mlops_nb.data import generate_churn
from mlops_nb.monitoring.partitions import (
    PARALLEL_ENV,
    PartitionPlan,
    dataset_files,
    scan_partitions,
)
from tests.conftest import run_cli
from tests.monitoring.test_partitions import (  # noqa: F401 - fitted is a fixture
    COLUMNS,
    TARGET,
    current_rows,
    fitted,
    in_process,
    write_parts,
)
from tests.monitoring.test_summary import STATISTICS, assert_same_report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_cluster():
    """Two single-threaded worker processes (as tests/pipeline/test_dask.py's, one thread each)."""
    import dask
    from distributed import LocalCluster

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        warnings.catch_warnings(),
    ):
        warnings.filterwarnings("ignore", "Port .* is already in use", UserWarning)
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    yield cluster
    cluster.close()


def test_partitioned_drift_on_the_cluster_equals_in_process(
    fitted,  # noqa: F811
    local_cluster,
    tmp_path,
    monkeypatch,
):
    model, contract, detector = fitted
    current = current_rows()
    write_parts(current, tmp_path / "current", 4)
    files = dataset_files(str(tmp_path / "current"))
    assert files is not None and len(files) == 4
    plan = PartitionPlan(detector.profile_, COLUMNS, contract, model, "binary", TARGET, 3_000)
    here = scan_partitions(files, plan, parallel="local")

    monkeypatch.setenv(PARALLEL_ENV, "dask")  # what the Dask executor sets in a stage's kernel
    monkeypatch.setenv(SCHEDULER_ENV, local_cluster.scheduler_address)
    there = scan_partitions(files, plan)  # parallel="auto"

    assert "scan_partition" in local_cluster.scheduler.task_prefixes, "ran on the workers"
    quality, expected = in_process(model, contract, detector, current)
    assert_same_report(detector.test_summary(there.summary), expected)
    assert_same_report(detector.test_summary(there.summary), detector.test_summary(here.summary))
    assert (there.rows, there.invalid_rows, there.labelled_rows, there.partitions) == (
        here.rows,
        quality.invalid_rows,
        here.labelled_rows,
        4,
    )
    pd.testing.assert_frame_equal(there.sample, here.sample)
    pd.testing.assert_frame_equal(there.failures, here.failures)


def test_run_monitor_on_a_partitioned_dataset_decides_as_on_one_file(tmp_path):
    outputs = tmp_path / "outputs"
    trained = run_cli(
        outputs,
        "run",
        "train",
        "--until",
        "register",
        "-p",
        "data_source=sample:churn?rows=1500&seed=3",
    )
    assert trained.returncode == 0, trained.stderr
    current = generate_churn(3_000, seed=11)
    folder = tmp_path / "current"
    write_parts(current, folder, 3)
    current.to_parquet(tmp_path / "current.parquet", index=False)

    tables, records = [], []
    for spec, extra in ((folder, ["-p", "sample_rows=1000"]), (tmp_path / "current.parquet", [])):
        args = ("run", "monitor", "--until", "monitor", "-p", f"current_data={spec}", *extra)
        done = run_cli(outputs, *args)  # the monitor stage alone: retrain is not under test
        assert done.returncode == 0, done.stderr
        listed = json.loads(
            run_cli(outputs, "runs", "list", "--pipeline", "monitor", "--json").stdout
        )
        record = json.loads(run_cli(outputs, "runs", "show", listed[-1]["id"], "--json").stdout)
        stage_dir = Path(record["run_dir"]) / "01_monitor"
        tables.append(pd.read_parquet(stage_dir / "drift.parquet"))
        records.append((record, stage_dir))

    (parted, parted_dir), (single, _) = records
    assert parted["decision"] == single["decision"] == "ok"
    assert parted["metrics"]["monitor.rows"] == single["metrics"]["monitor.rows"] == 3_000
    assert len(pd.read_parquet(parted_dir / "current.parquet")) == 1_000  # the sample
    left, right = tables
    exact = ["column", "status", "n_current", "drifted", "reason"]
    pd.testing.assert_frame_equal(left[exact], right[exact])
    np.testing.assert_allclose(
        left[STATISTICS].to_numpy(float), right[STATISTICS].to_numpy(float), rtol=1e-9
    )
