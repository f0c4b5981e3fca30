"""Shared fixtures: small real projects in temporary folders."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlops_nb.config import Settings, load_settings
from tests.servers import PostgresServer, S3Server

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent


def run_cli(outputs: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """``python -m mlops_nb ARGS`` on the demo project, its outputs under ``outputs``."""
    env = {**os.environ, "MLOPS_NB_OUTPUTS": str(outputs)}
    env.pop("MLOPS_NB_PROJECT", None)
    return subprocess.run(
        [sys.executable, "-m", "mlops_nb", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# The fixture notebooks are inputs of tests (one fails on purpose), not tests.
collect_ignore_glob = ["fixtures/*"]

TWO_STAGES = """
pipelines:
  demo:
    params:
      value: {type: int, default: 1, help: the number}
    stages:
      produce:
        notebook: notebooks/produce.ipynb
      consume:
        notebook: notebooks/consume.ipynb
        needs: [produce]
"""


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean environment: no project or outputs variables, cwd in tmp_path."""
    monkeypatch.delenv("MLOPS_NB_PROJECT", raising=False)
    monkeypatch.delenv("MLOPS_NB_OUTPUTS", raising=False)
    monkeypatch.delenv("MLOPS_NB_STORE", raising=False)
    monkeypatch.delenv("MLOPS_NB_ARTIFACTS", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def make_project(isolated: Path) -> Callable[..., Settings]:
    """Write a project (pipeline.yaml + fixture notebooks) and return its settings."""

    def make(yaml_text: str = TWO_STAGES, notebooks: tuple[str, ...] = ()) -> Settings:
        root = isolated / "project"
        (root / "notebooks").mkdir(parents=True, exist_ok=True)
        names = notebooks or ("produce", "consume", "broken", "no_parameters")
        for name in names:
            shutil.copy(FIXTURES / "notebooks" / f"{name}.ipynb", root / "notebooks")
        (root / "pipeline.yaml").write_text(textwrap.dedent(yaml_text))
        return load_settings(root)

    return make


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the whole session (skips loudly where there is none)."""
    server = PostgresServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """A real S3-compatible server (moto) for the whole session."""
    server = S3Server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty store: a SQLite file, or a fresh schema on the PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "outputs" / "mlops.db")
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.fresh_schema()
