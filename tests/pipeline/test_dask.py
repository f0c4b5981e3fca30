"""The Dask executor on real clusters: a LocalCluster of worker processes, and `dask scheduler`
plus `dask worker` processes, each worker in its own folder sharing only the team store."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from itertools import combinations
from pathlib import Path

import pytest

from mlops_nb.errors import ParameterError, RunError
from mlops_nb.pipeline.executors import choose_executor
from mlops_nb.pipeline.runner import Runner, plan_run
from tests.conftest import run_cli
from tests.servers import DaskProcesses, free_port

pytestmark = pytest.mark.slow

FAN_OUT = """
pipelines:
  demo:
    stages:
      produce:
        notebook: notebooks/produce.ipynb
      nap_a:
        notebook: notebooks/nap.ipynb
        needs: [produce]
        params: {seconds: {type: float, default: 3}}
      nap_b:
        notebook: notebooks/nap.ipynb
        needs: [produce]
        params: {seconds: {type: float, default: 3}}
"""
# Two naps that each wait for the other to have started (a rendezvous in a folder the
# workers of a LocalCluster share): they pass only if they run at once, however
# long a worker takes to start its first kernel.
MEETING = """
pipelines:
  demo:
    stages:
      produce:
        notebook: notebooks/produce.ipynb
      nap_a:
        notebook: notebooks/nap.ipynb
        needs: [produce]
        params:
          seconds: {type: float, default: 1}
          meet: {default: [nap_a, nap_b]}
          meet_dir: {default: "{meet_dir}"}
      nap_b:
        notebook: notebooks/nap.ipynb
        needs: [produce]
        params:
          seconds: {type: float, default: 1}
          meet: {default: [nap_a, nap_b]}
          meet_dir: {default: "{meet_dir}"}
"""
NOTEBOOKS = ("produce", "nap")


@pytest.fixture(scope="module")
def local_cluster():
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=2,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",  # any free port: another cluster may hold 8787
        )
    yield cluster
    cluster.close()


def slept(record: dict, stage: str) -> dict:
    entry = next(s for s in record["stages"] if s["name"] == stage)
    return json.loads((Path(record["run_dir"]) / entry["dir"] / "slept.json").read_text())


def test_independent_stages_run_at_once_on_different_workers(make_project, local_cluster, tmp_path):
    settings = make_project(MEETING.replace("{meet_dir}", str(tmp_path / "met")), NOTEBOOKS)
    executor = choose_executor(settings, "dask", local_cluster.scheduler_address)
    assert executor.slots == 2
    record = Runner(settings, executor=executor).run(plan_run(settings, "demo"))
    assert record["status"] == "succeeded"
    workers = {s["name"]: s["worker"] for s in record["stages"]}
    assert workers["nap_a"] != workers["nap_b"]
    assert set(workers.values()) <= set(local_cluster.scheduler_info["workers"])
    a, b = slept(record, "nap_a"), slept(record, "nap_b")
    assert a["started"] < b["ended"] and b["started"] < a["ended"], "the two naps overlapped"
    index = (Path(record["run_dir"]) / "index.html").read_text()
    assert workers["nap_a"] in index, "the run report says where each stage ran"


def test_an_unreachable_scheduler_is_a_clear_error_before_any_stage(make_project):
    settings = make_project(FAN_OUT, NOTEBOOKS)
    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(RunError, match=f"cannot reach the Dask scheduler at {address}"):
        choose_executor(settings, "dask", address)
    with pytest.raises(ParameterError, match="needs a scheduler"):
        choose_executor(settings, "dask")
    with pytest.raises(ParameterError, match="unknown executor 'spark'"):
        choose_executor(settings, "spark")
    assert not settings.runs_dir.exists()


def test_a_team_run_on_workers_sharing_only_the_store_and_the_bucket(
    make_project, postgres, s3, tmp_path, monkeypatch
):
    for key, value in s3.environment.items():
        monkeypatch.setenv(key, value)
    settings = make_project(FAN_OUT, NOTEBOOKS)
    team = type(settings)(
        settings.root,
        settings.outputs,
        store=postgres.fresh_schema(),
        artifacts=f"s3://{s3.fresh_bucket()}/team",
    )
    cluster = DaskProcesses(tmp_path / "cluster", 2, s3.environment)
    try:
        executor = choose_executor(team, "dask", cluster.address)
        record = Runner(team, executor=executor).run(plan_run(team, "demo"))
        assert record["status"] == "succeeded"
        workers = {s["worker"] for s in record["stages"]}
        assert len(workers) == 2
        # the client holds the report files; the data came back only through the bucket
        for name in ("nap_a", "nap_b"):
            assert slept(record, name)["value"] == 1
        produced = list((tmp_path / "cluster").glob("worker-*/scratch/**/runs/*/01_produce"))
        assert produced, "each worker worked in its own folder"
        assert not any(str(settings.root) in p.read_text() for p in produced[0].glob("*.json"))
    finally:
        cluster.stop()


SLOW = """
pipelines:
  demo:
    stages:
      produce:
        notebook: notebooks/produce.ipynb
      nap:
        notebook: notebooks/nap.ipynb
        needs: [produce]
        params: {seconds: {type: float, default: 8}}
"""


def test_a_stage_lost_with_its_worker_is_retried_on_another(make_project, tmp_path, postgres):
    settings = make_project(SLOW, NOTEBOOKS)
    cluster = DaskProcesses(tmp_path / "cluster", 2, {})
    try:
        executor = choose_executor(settings, "dask", cluster.address)
        killed: list[str] = []

        def kill_the_napping_worker() -> None:
            from distributed import Client

            with Client(cluster.address, timeout=10) as client:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not killed:
                    for address, keys in client.processing().items():
                        if any("-nap" in str(key) for key in keys):
                            time.sleep(2)  # the stage is inside its notebook now
                            name = client.scheduler_info()["workers"][address]["name"]
                            cluster.workers[int(str(name).split("-")[1])].kill()
                            killed.append(address)
                            break
                    time.sleep(0.2)

        killer = threading.Thread(target=kill_the_napping_worker)
        killer.start()
        record = Runner(settings, executor=executor).run(plan_run(settings, "demo"))
        killer.join()
        assert killed, "the napping worker was found and killed"
        assert record["status"] == "succeeded"
        nap = next(s for s in record["stages"] if s["name"] == "nap")
        assert nap["worker"] != killed[0], "the stage finished on the other worker"
    finally:
        cluster.stop()


# --- the demo project's pipelines on a LocalCluster -------------------------------------------

SEGMENTS = ["north", "south", "east", "west"]


def demo_run(tmp_path: Path, cluster, *args: str) -> dict:
    address = cluster.scheduler_address
    done = run_cli(tmp_path / "outputs", "run", *args, "--executor", "dask", "--scheduler", address)
    assert done.returncode == 0, done.stderr
    (run_dir,) = (tmp_path / "outputs" / "runs").iterdir()
    return json.loads((run_dir / "run.json").read_text())


def span(stage: dict) -> tuple[datetime, datetime]:
    started = datetime.fromisoformat(stage["started_at"].replace("Z", "+00:00"))
    return started, started + timedelta(seconds=stage["seconds"])


def test_the_segments_run_side_by_side_on_different_workers(tmp_path, local_cluster):
    record = demo_run(
        tmp_path,
        local_cluster,
        "segments",
        "-p",
        "data_source=sample:churn?rows=1200&seed=3",
        "-p",
        "budget=1",
    )
    assert record["status"] == "succeeded"
    stages = {stage["name"]: stage for stage in record["stages"]}
    names = [f"segment_{value}" for value in SEGMENTS]
    spans = [span(stages[name]) for name in names]
    overlapping = [(a, b) for a, b in combinations(spans, 2) if a[0] < b[1] and b[0] < a[1]]
    assert overlapping, f"some segment stages ran at the same time: {spans}"
    workers = {stages[name]["worker"] for name in names}
    assert len(workers) >= 2 and workers <= set(local_cluster.scheduler_info["workers"])
    assert all(stages[name]["notes"]["status"] == "modelled" for name in names)


def test_a_dask_run_searches_its_train_stage_on_the_cluster(tmp_path, local_cluster):
    record = demo_run(
        tmp_path,
        local_cluster,
        "train",
        "--until",
        "train",
        "-p",
        "data_source=sample:churn?rows=600&seed=3",
        "-p",
        "budget=3",
    )
    train = next(stage for stage in record["stages"] if stage["name"] == "train")
    assert train["status"] == "succeeded"
    notes = train["notes"]
    assert (notes["parallel"], notes["search_workers"], notes["search_cores"]) == ("dask", 2, 4)
