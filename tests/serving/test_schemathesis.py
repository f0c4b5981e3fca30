"""schemathesis drives the live server from its own OpenAPI document, with every check.

``st run`` (schemathesis's CLI) against a real uvicorn server on 127.0.0.1
that needs a bearer token: examples, coverage and fuzzing phases, all checks
(server errors, status codes, content types, response schemas, negative data
rejected, positive data accepted, auth not ignored, ...). A fixed seed keeps a
failure reproducible; the example count keeps the run to a few tens of seconds.

MLflow's ``/invocations`` and the Open Inference Protocol's ``infer`` are
described by their protocols' shapes (columns, tensors), which cannot say
"every column of the contract, each within its checks" the way ``/predict``'s
record schema does; a schema-valid body there may rightly get a 400 or 422.
So on those two operations only, the *positive data accepted* check also
accepts the documented refusals 400 and 422 (a ``schemathesis.toml`` written
by the test); every other check still runs on them, and
tests/serving/test_protocols.py checks that their contract answers equal
``/predict``'s.

The verdict is read from the exit code and from schemathesis's JUnit XML
report (one test case per API operation, a ``<failure>`` per failed check, a
server error included), not from its console output, which changes between
versions.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_nb.serving import ServerHandle, start_server

from .conftest import ServingProject

TOKEN = "schemathesis-" + os.urandom(6).hex()
EXAMPLES = 60
OPERATIONS = {
    "POST /predict",
    "GET /health",
    "GET /metadata",
    "GET /metrics",
    "POST /invocations",
    "GET /v2",
    "GET /v2/health/live",
    "GET /v2/health/ready",
    "GET /v2/models/{name}",
    "GET /v2/models/{name}/ready",
    "POST /v2/models/{name}/infer",
    "GET /v2/models/{name}/versions/{version}",
    "GET /v2/models/{name}/versions/{version}/ready",
    "POST /v2/models/{name}/versions/{version}/infer",
}
STATEFUL = "Stateful tests"
"""The JUnit case of the stateful phase (chains along the links inferred between operations)."""
CONFIG = """\
[[operations]]
include-path-regex = "^/(invocations|v2/models/.*/infer)$"
[operations.checks.positive_data_acceptance]
expected-statuses = ["2xx", "400", "401", "404", "413", "422", "503"]
"""


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
    junit = tmp_path / "schemathesis.xml"
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    done = subprocess.run(
        [
            str(st),
            "--config-file",
            str(config),
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
            "--report",
            "junit",
            "--report-junit-path",
            str(junit),
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
    assert junit.exists(), report
    suites = ET.parse(junit).getroot()
    cases = suites.findall(".//testcase")
    names = {case.get("name") for case in cases}
    assert names - {STATEFUL} == OPERATIONS, report  # every operation ran (and the link chains)
    problems = [
        (case.get("name"), child.tag, (child.get("message") or child.text or "")[:500])
        for case in cases
        for child in case
        if child.tag in ("failure", "error", "skipped")
    ]
    assert not problems, problems  # no failed check (a server error is one), none skipped
    totals = {word: int(suites.get(word, "0")) for word in ("errors", "failures", "skipped")}
    assert totals == {"errors": 0, "failures": 0, "skipped": 0}, report
