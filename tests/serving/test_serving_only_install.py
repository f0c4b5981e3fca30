"""A serving-only install: a fresh virtualenv, the bundle's requirements, nothing else.

The bundle of a registered model is installed the way its Dockerfile does
(``pip install --find-links wheels -r requirements.txt``) into a new venv:
mlops-nb comes from the wheel the bundle carries (no index serves it), the rest
of its pins from the package index. That environment must not hold JupyterLab,
ipywidgets or MLflow, and its ``mlops-nb serve --model-dir`` (the image's
command) must answer ``/predict`` with what the registry's model predicts.

Slow (a minute or two: a real ``pip install`` of the serving stack), so it is
marked slow and kept to one test; ``bench/serving_install.py`` measures the
sizes.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mlops_nb.data import generate_churn
from mlops_nb.serving import build_bundle
from mlops_nb.validation import validate
from tests.serving.test_batch import register_churn

pytestmark = pytest.mark.slow

ABSENT = ("jupyterlab", "jupyter_server", "ipywidgets", "mlflow", "dask", "psycopg", "s3fs")
"""Modules of the extras a serving image does not need."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def install_bundle(bundle: Path, env_dir: Path, env: dict[str, str]) -> Path:
    """A new venv with the bundle's requirements installed as its Dockerfile does; its python."""
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "--quiet", "--no-cache-dir"]
    install += ["--find-links", str(bundle / "wheels"), "-r", "requirements.txt"]
    done = subprocess.run(install, cwd=bundle, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return python


def installed_facts(python: Path, cwd: Path, env: dict[str, str]) -> dict[str, object]:
    """What the venv imports: mlops_nb's version and file, and which extras' modules it has."""
    probe = (
        "import importlib.util, json, mlops_nb; print(json.dumps({'version': mlops_nb.__version__, "
        f"'file': mlops_nb.__file__, 'found': [m for m in {list(ABSENT)!r} "
        "if importlib.util.find_spec(m) is not None]}))"
    )
    seen = subprocess.run(
        [str(python), "-c", probe], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert seen.returncode == 0, seen.stderr[-2000:]
    facts: dict[str, object] = json.loads(seen.stdout)
    return facts


@contextmanager
def serving(command: list[str], cwd: Path, env: dict[str, str], url: str) -> Iterator[None]:
    """``command`` running until ``url``/health answers; stopped (and killed if it must be)."""
    log_path = cwd / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 120
            while True:
                assert server.poll() is None, log_path.read_text()[-3000:]
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.5)
            yield
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)


def test_the_bundle_serves_from_a_fresh_serving_only_venv(tmp_path):
    with register_churn(tmp_path / "project") as registry:
        bundle = build_bundle(registry, "churn@production", tmp_path / "bundle")
        rows = validate(
            generate_churn(40, seed=5).drop(columns="churned"),
            registry.load("churn@production").signature,
            on_invalid="quarantine",
            max_invalid_fraction=1.0,
        ).valid.head(12)
        expected = registry.load("churn@production").model.predict(rows).tolist()
    (wheel,) = (bundle.path / "wheels").glob("mlops_nb-*.whl")
    version = wheel.name.split("-")[1]
    assert f"mlops-nb[serve]=={version}" in (bundle.path / "requirements.txt").read_text()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    work = tmp_path / "work"  # not this checkout: its mlops_nb/ must not be on the path
    work.mkdir()

    python = install_bundle(bundle.path, tmp_path / "venv", env)

    facts = installed_facts(python, work, env)
    assert facts["found"] == [], f"a serving-only install holds {facts['found']}"
    assert Path(str(facts["file"])).is_relative_to(tmp_path / "venv")  # the bundle's wheel
    assert facts["version"] == version
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        str(python.with_name("mlops-nb")),
        "serve",
        "--model-dir",
        str(bundle.path / "model"),
    ]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with serving(command, work, env, url):
        records = json.loads(rows.to_json(orient="records"))
        answer = httpx.post(f"{url}/predict", json={"records": records}, timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["predictions"] == expected and len(expected) == len(records) == 12
    assert (body["model"], body["version"]) == ("churn", 1)
