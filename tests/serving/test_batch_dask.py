"""Scoring a partitioned Parquet dataset: here, on a real Dask LocalCluster, and from S3 (moto)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from mlops_nb.data import generate_churn
from mlops_nb.errors import DataSourceError, ServingError
from mlops_nb.registry import Registry
from mlops_nb.serving.batch import partitioned, predict_dataset, predict_file
from tests.serving.test_batch import REF, register_churn

SPLITS = ((0, 700), (700, 1100), (1100, 1800))
DASK = ("--executor", "dask")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _set_environment(values: dict[str, str]) -> None:
    """Run on the workers: point them at the test's S3 server."""
    os.environ.update(values)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder (pipeline.yaml) whose registry holds churn:1 @production."""
    root = tmp_path_factory.mktemp("dask-project")
    (root / "pipeline.yaml").write_text("name: scoring\n")
    register_churn(root / "outputs").close()
    return root


@pytest.fixture(scope="module")
def registry(project: Path):
    with Registry(project / "outputs" / "mlops.db", project / "outputs" / "registry") as reg:
        yield reg


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Three partitions of the churn sample (some invalid rows) and the same rows in one file."""
    base = tmp_path_factory.mktemp("dataset")
    rows = generate_churn(SPLITS[-1][1], seed=3).drop(columns="churned")
    (base / "in").mkdir()
    for index, (start, end) in enumerate(SPLITS):
        rows.iloc[start:end].to_parquet(base / "in" / f"customers-{index}.parquet")
    rows.to_parquet(base / "all.parquet")
    return base / "in", base / "all.parquet"


@pytest.fixture(scope="module")
def local_scores(registry: Registry, dataset, tmp_path_factory: pytest.TempPathFactory):
    """``predict_file`` on the concatenated rows: what every executor must reproduce."""
    out = tmp_path_factory.mktemp("local") / "scored.parquet"
    result = predict_file(registry, REF, dataset[1], out)
    assert result.invalid > 0, "the sample must hold invalid rows"
    return pd.read_parquet(out), pd.read_parquet(result.invalid_output)


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",  # any free port: another test's cluster may hold 8787
    ) as local:
        yield local


def _same_as_local(output: Path | str, invalid: Path | str, local_scores) -> None:
    scored, invalid_rows = local_scores
    pd.testing.assert_frame_equal(pd.read_parquet(output).reset_index(drop=True), scored)
    pd.testing.assert_frame_equal(pd.read_parquet(invalid).reset_index(drop=True), invalid_rows)


def test_a_local_dataset_is_scored_part_by_part_as_one_file(
    registry, dataset, local_scores, tmp_path
):
    result = predict_dataset(registry, REF, dataset[0], tmp_path / "scored", chunk_rows=300)
    parts = sorted(path.name for path in (tmp_path / "scored").iterdir())
    assert parts == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert result.rows == SPLITS[-1][1] and result.scored + result.invalid == result.rows
    assert result.invalid_output == tmp_path / "scored.invalid"
    _same_as_local(result.output, result.invalid_output, local_scores)
    invalid = pd.read_parquet(result.invalid_output)
    assert invalid["_reasons"].str.len().min() > 0, "every invalid row says why"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scored", "scored.invalid"]


def test_a_failed_partition_leaves_no_output(registry, dataset, tmp_path, monkeypatch):
    real = partitioned.score_part

    def fail_second(loaded, task, progress=None):
        if task.index == 1:
            raise ServingError("boom")
        return real(loaded, task, progress)

    monkeypatch.setattr(partitioned, "score_part", fail_second)
    with pytest.raises(ServingError, match="boom"):
        predict_dataset(registry, REF, dataset[0], tmp_path / "scored")
    assert list(tmp_path.iterdir()) == [], "no output, no temporary folder"


def test_bad_inputs_and_outputs_are_clear_errors(registry, dataset, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataSourceError, match="holds no Parquet files"):
        predict_dataset(registry, REF, tmp_path / "empty", tmp_path / "out")
    with pytest.raises(DataSourceError, match="not found"):
        predict_dataset(registry, REF, tmp_path / "missing", tmp_path / "out")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ServingError, match="not a previous prediction"):
        predict_dataset(registry, REF, dataset[0], tmp_path / "mine")
    with pytest.raises(ServingError, match="needs a scheduler"):
        predict_dataset(registry, REF, dataset[0], tmp_path / "out", executor="dask")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_an_unreachable_scheduler_fails_fast(registry, dataset, tmp_path):
    address = f"tcp://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    with pytest.raises(ServingError, match=f"cannot reach the Dask scheduler at {address}"):
        predict_dataset(
            registry, REF, dataset[0], tmp_path / "out", executor="dask", scheduler=address
        )
    assert time.monotonic() - started < 15
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_dask_workers_score_like_local_row_for_row(
    registry, dataset, local_scores, cluster, tmp_path
):
    result = predict_dataset(
        registry,
        REF,
        dataset[0],
        tmp_path / "scored",
        executor="dask",
        scheduler=cluster.scheduler_address,
        chunk_rows=250,
    )
    assert len(list((tmp_path / "scored").iterdir())) == len(SPLITS)
    _same_as_local(result.output, result.invalid_output, local_scores)


def _predict_cli(project: Path, source: Path, output: Path, *options: str):
    """``mlops-nb predict REF SOURCE OUTPUT --executor dask [options]`` in a subprocess."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mlops_nb",
            "predict",
            REF,
            str(source),
            str(output),
            *DASK,
            *options,
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        # the project's own outputs (make test points MLOPS_NB_OUTPUTS elsewhere), and
        # the scheduler only from the options
        env={
            **{k: v for k, v in os.environ.items() if k != "MLOPS_NB_DASK_SCHEDULER"},
            "MLOPS_NB_OUTPUTS": str(project / "outputs"),
        },
    )


@pytest.mark.slow
def test_cli_predict_executor_dask(project, dataset, local_scores, cluster, tmp_path):
    address = cluster.scheduler_address
    done = _predict_cli(project, dataset[0], tmp_path / "s", "--scheduler", address)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "invalid rows" in done.stdout and "rows/s" in done.stdout
    _same_as_local(tmp_path / "s", tmp_path / "s.invalid", local_scores)
    missing = _predict_cli(project, dataset[0], tmp_path / "t")
    assert missing.returncode != 0
    assert "needs a scheduler" in missing.stdout + missing.stderr


@pytest.mark.slow
def test_dask_workers_read_the_input_from_s3(
    registry, dataset, local_scores, cluster, s3, tmp_path, monkeypatch
):
    import s3fs
    from distributed import Client

    for key, value in s3.environment.items():
        monkeypatch.setenv(key, value)
    with Client(cluster.scheduler_address, set_as_default=False) as client:
        client.run(_set_environment, s3.environment)
    bucket = s3.fresh_bucket()
    fs = s3fs.S3FileSystem(endpoint_url=s3.endpoint)
    for path in sorted(dataset[0].iterdir()):
        fs.put(str(path), f"{bucket}/customers/{path.name}")
    result = predict_dataset(
        registry,
        REF,
        f"s3://{bucket}/customers/",
        tmp_path / "scored",
        executor="dask",
        scheduler=cluster.scheduler_address,
    )
    _same_as_local(result.output, result.invalid_output, local_scores)
