"""A team set-up, end to end: the train pipeline on PostgreSQL + S3, then a second machine
with an empty outputs folder and only the two URLs sees, serves, promotes and monitors.

Both "machines" are separate processes with their own outputs folders and project
copies; nothing is shared but the store URL and the artifact URL. Every file
either machine wrote, every object in the bucket and every command's output is
searched for the database password and the S3 secret key: none may appear.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mlops_nb.data import generate_churn
from tests.conftest import REPO
from tests.servers import PASSWORD, S3_SECRET, free_port

SOURCE = "data_source=sample:churn?rows=600&seed=3"


class Machine:
    """A checkout of the project with its own outputs folder, sharing only the two URLs."""

    def __init__(self, folder: Path, store: str, artifacts: str, aws: dict[str, str]) -> None:
        self.root = folder / "project"
        for part in ("templates", "contracts", "notebooks"):
            shutil.copytree(REPO / part, self.root / part)
        shutil.copy(REPO / "pipeline.yaml", self.root / "pipeline.yaml")
        self.outputs = self.root / "outputs"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MLOPS_NB_")},
            **aws,
            "MLOPS_NB_STORE": store,
            "MLOPS_NB_ARTIFACTS": artifacts,
        }
        self.said: list[str] = []

    def mlops(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "mlops_nb", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        self.said += [done.stdout, done.stderr]
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def json(self, *args: str) -> object:
        return json.loads(self.mlops(*args, "--json").stdout)


@pytest.fixture
def team(postgres, s3, tmp_path: Path) -> tuple[Machine, Machine, str]:
    store = postgres.fresh_schema()
    bucket = s3.fresh_bucket()
    artifacts = f"s3://{bucket}/team"
    first = Machine(tmp_path / "a", store, artifacts, s3.environment)
    second = Machine(tmp_path / "b", store, artifacts, s3.environment)
    return first, second, bucket


@pytest.mark.slow
def test_a_second_machine_needs_only_the_two_urls(team, s3, tmp_path: Path) -> None:
    first, second, bucket = team
    first.mlops("run", "train", "-p", SOURCE)
    info = first.json("store", "info")
    assert info["store"]["kind"] == "postgresql" and info["artifacts"]["publishes"]

    # machine B: nothing local, everything from the store and the bucket
    assert not second.outputs.exists()
    runs = second.json("runs", "list")
    assert [r["pipeline"] for r in runs] == ["train"] and runs[0]["status"] == "succeeded"
    shown = second.json("runs", "show", "latest")
    report = Path(shown["report"])
    assert report.is_file() and report.is_relative_to(second.outputs)
    stage_report = report.parent / shown["stages"][5]["dir"] / "report.html"
    assert stage_report.is_file(), "the stage reports a run report links to are fetched"
    assert second.json("models", "list")[0]["name"] == "churn"

    second.mlops("models", "promote", "churn", "1", "canary", "--reason", "tried on machine B")
    history = first.json("models", "history", "churn")["history"]
    assert [h["alias"] for h in history if h["reason"] == "tried on machine B"] == ["canary"]

    batch = tmp_path / "batch.csv"
    generate_churn(rows=50, seed=8).drop(columns=["churned"]).to_csv(batch, index=False)
    scored = tmp_path / "scored.parquet"
    second.mlops("predict", "churn@production", str(batch), str(scored))
    assert scored.is_file()

    _serve_and_predict(second, batch)

    monitored = second.mlops("run", "monitor", "-p", "current_data=sample:churn?drift=0&seed=11")
    assert "decision: " in monitored.stdout  # the version, its profile and data came from A
    monitor_runs = first.json("runs", "list", "--pipeline", "monitor")
    assert len(monitor_runs) == 1, "machine A sees machine B's monitor run"

    _assert_no_secret(first, second, s3, bucket)


def _serve_and_predict(machine: Machine, batch: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlops_nb", "serve", "churn@production", "--port", str(port)],
        cwd=machine.root,
        env=machine.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.3)
        import pandas as pd

        records = pd.read_csv(batch).head(3).to_dict(orient="records")
        answer = httpx.post(f"{url}/predict", json={"records": records}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 3
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
        machine.said.append(output)


def _assert_no_secret(first: Machine, second: Machine, s3, bucket: str) -> None:
    import boto3

    secrets = [PASSWORD.encode(), S3_SECRET.encode()]
    for machine in (first, second):
        for path in machine.outputs.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert not any(s in data for s in secrets), f"a secret is in {path}"
        for text in machine.said:
            assert PASSWORD not in text and S3_SECRET not in text
    client = boto3.client(
        "s3",
        endpoint_url=s3.endpoint,
        aws_access_key_id=s3.environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_SECRET,
        region_name="us-east-1",
    )
    keys = [
        o["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    ]
    assert len(keys) > 20
    for key in keys:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert not any(s in body for s in secrets), f"a secret is in s3://{bucket}/{key}"


def test_an_unreachable_store_is_a_clear_error_before_any_stage(tmp_path: Path) -> None:
    env = {**os.environ, "MLOPS_NB_OUTPUTS": str(tmp_path / "out")}
    env["MLOPS_NB_STORE"] = "postgresql://ana:hunter2@127.0.0.1:1/team"
    done = subprocess.run(
        [sys.executable, "-m", "mlops_nb", "run", "train"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "cannot reach the PostgreSQL store postgresql://ana:***@127.0.0.1:1/team" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists(), "no run folder, no kernel"


def test_a_missing_driver_names_the_extra(monkeypatch) -> None:
    from mlops_nb.errors import StoreError
    from mlops_nb.store import backend_at

    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StoreError, match=r"pip install 'mlops-nb\[postgres\]'"):
        backend_at("postgresql://ana@127.0.0.1:5432/team").connect()
