"""Security of serving: tokens compared in constant time, secrets kept out of every output,
paths confined, loopback by default, a non-root container, and no traversal through a name."""

from __future__ import annotations

import hmac
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from mlops_nb.config import Settings
from mlops_nb.errors import MlopsNbError, RegistryError
from mlops_nb.serving import ServerHandle, read_inference_log, start_server
from mlops_nb.serving.http import auth
from mlops_nb.serving.inference_log import inference_log_path

from .conftest import ServingProject

TOKEN = "tok-" + os.urandom(8).hex()
PASSWORD = "pw-" + os.urandom(8).hex()
S3_SECRET = "s3-" + os.urandom(8).hex()
GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def guarded(serving_project: ServingProject) -> Iterator[ServerHandle]:
    with start_server(
        "churn@production",
        serving_project.settings,
        token=TOKEN,
        model_process=False,
        log_predictions=False,
    ) as server:
        yield server


def test_the_token_is_compared_as_digests_in_constant_time(guarded, monkeypatch):
    calls: list[tuple[Any, Any]] = []
    original = hmac.compare_digest

    def spy(given: Any, expected: Any) -> bool:
        calls.append((given, expected))
        return original(given, expected)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    for header in (f"Bearer {TOKEN}", "Bearer wrong", f"Bearer {TOKEN}x"):
        httpx.get(f"{guarded.url}/metadata", headers={"Authorization": header})
    assert len(calls) == 3
    for given, expected in calls:  # equal-length digests: neither length nor content leaks
        assert len(given) == len(expected) == 32
        assert TOKEN.encode() not in (given, expected)


def test_the_token_is_in_no_answer_and_no_log(guarded, serving_project, caplog):
    caplog.set_level(logging.DEBUG)
    texts = []
    for header in (f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN):
        texts.append(httpx.get(f"{guarded.url}/metadata", headers={"Authorization": header}).text)
    good = {"Authorization": f"Bearer {TOKEN}"}
    texts.append(httpx.get(f"{guarded.url}/metadata", headers=good).text)
    texts.append(httpx.get(f"{guarded.url}/openapi.json", headers=good).text)
    bad = {"records": [{"age": TOKEN}]}
    texts.append(httpx.post(f"{guarded.url}/predict", json=bad, headers=good).text)
    assert all(TOKEN not in text for text in texts[:-1])
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    "path",
    [
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/docs/..%2f..%2f..%2fetc%2fpasswd",
        "/static/../../../../etc/passwd",
        "/predict/..%2f..%2fetc/passwd",
        "/health/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    ],
)
def test_no_path_of_the_server_reaches_a_file(guarded, path):
    good = {"Authorization": f"Bearer {TOKEN}"}
    response = httpx.get(f"{guarded.url}{path}", headers=good)
    assert response.status_code in (401, 404, 405), response.status_code
    assert "root:" not in response.text


@pytest.mark.parametrize("name", ["../../etc/passwd", "..", "a/b", "%2e%2e", "x\\..\\y", ""])
def test_an_inference_log_name_cannot_leave_its_folder(tmp_path, name):
    settings = Settings(tmp_path, tmp_path / "outputs")
    with pytest.raises(RegistryError, match=r"not allowed|must be text"):
        inference_log_path(settings, name)
    with pytest.raises(MlopsNbError):
        read_inference_log(tmp_path / "outputs", name)


def _mlops(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_nb", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_store_password_is_in_no_message(serving_project, tmp_path, caplog):
    url = f"postgresql://ana:{PASSWORD}@127.0.0.1:9/mlops"  # nothing listens on port 9
    env = {**os.environ, "MLOPS_NB_STORE": url, "AWS_SECRET_ACCESS_KEY": S3_SECRET}
    (tmp_path / "pipeline.yaml").write_text("pipelines: {}\n")
    done = _mlops("store", "info", env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    said = done.stdout + done.stderr
    assert "ana" in said and PASSWORD not in said and S3_SECRET not in said
    settings = Settings(tmp_path, tmp_path / "outputs", store=url)
    with pytest.raises(MlopsNbError) as refused:
        start_server("churn@production", settings, model_process=False)
    assert PASSWORD not in str(refused.value) and PASSWORD not in caplog.text


def test_a_run_records_no_secret_of_its_environment(make_project, monkeypatch, caplog, capfd):
    from mlops_nb.pipeline.runner import Runner, plan_run

    settings = make_project()
    secrets = {
        "MLOPS_NB_TOKEN": TOKEN,
        "PGPASSWORD": PASSWORD,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_ACCESS_KEY_ID": "AKIA" + os.urandom(6).hex().upper(),
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    record = Runner(settings).run(plan_run(settings, overrides={"value": "2"}))
    assert record["status"] == "succeeded"
    printed = capfd.readouterr()
    for value in secrets.values():
        assert value not in caplog.text + printed.out + printed.err
        for path in settings.outputs.rglob("*"):
            if path.is_file():
                assert value.encode() not in path.read_bytes(), f"a secret is in {path}"


def test_mlops_nb_serve_binds_loopback_by_default(monkeypatch, tmp_path):
    import mlops_nb.serving
    from mlops_nb.cli import app

    seen: dict[str, Any] = {}
    monkeypatch.setattr(mlops_nb.serving, "serve", lambda *a, **k: seen.update(k))
    result = CliRunner().invoke(app, ["serve", "--model-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert seen["host"] == "127.0.0.1" and seen["force_insecure"] is False


def test_the_bundle_container_runs_as_a_non_root_user():
    for case in sorted(GOLDEN.iterdir()):
        if not case.is_dir():
            continue
        lines = [line.split() for line in (case / "Dockerfile").read_text().splitlines()]
        users = [words[1] for words in lines if words and words[0] == "USER"]
        assert users and users[-1] not in ("root", "0", "0:0"), case.name
        cmd = max(i for i, words in enumerate(lines) if words and words[0] == "CMD")
        last_user = max(i for i, words in enumerate(lines) if words and words[0] == "USER")
        assert last_user < cmd, f"{case.name}: the server must start as the USER"
