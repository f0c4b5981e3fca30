"""schemathesis drives the live server from its own OpenAPI document, with every check.

``st run`` (schemathesis's CLI) against a real uvicorn server on 127.0.0.1
that needs a bearer token: examples, coverage and fuzzing phases, all checks
(server errors, status codes, content types, response schemas, negative data
rejected, positive data accepted, auth not ignored, ...). A fixed seed keeps a
failure reproducible; the example count keeps the run to a few tens of seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_nb.serving import ServerHandle, start_server

from .conftest import ServingProject

TOKEN = "schemathesis-" + os.urandom(6).hex()
EXAMPLES = 60


@pytest.fixture(scope="module")
def guarded(serving_project: ServingProject) -> Iterator[ServerHandle]:
    with start_server(
        "churn@production", serving_project.settings, token=TOKEN, log_predictions=False
    ) as server:
        yield server


def test_schemathesis_finds_nothing_with_every_check(guarded, tmp_path):
    st = Path(sys.executable).with_name("st")
    if not st.exists():
        pytest.skip("schemathesis is not installed: pip install -e '.[test]'")
    done = subprocess.run(
        [
            str(st),
            "run",
            f"{guarded.url}/openapi.json",
            "--header",
            f"Authorization: Bearer {TOKEN}",
            "--checks",
            "all",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            "1",
            "--generation-database",
            "none",
            "--request-timeout",
            "30",
            "--no-color",
            "--output-truncate",
            "true",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false"},
    )
    report = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    assert "No issues found" in done.stdout, report
    assert "3 selected / 3 total" in done.stdout, report
