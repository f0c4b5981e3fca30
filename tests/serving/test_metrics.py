"""The server's Prometheus metrics and its JSON access log, against live servers (real HTTP).

``/metrics`` is scraped before and after a known, sequential set of requests
(answered, refused by the contract, refused by the token check) and parsed with
``prometheus_client``'s own parser: every counter must have moved by exactly
what was sent. A second server, started with ``metrics_token`` and
``access_log="json"``, shows that /metrics then needs the token and that the
access log writes one JSON object per request and never a body value, a
query string or the token.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlops_nb.serving import ServerHandle, start_server
from mlops_nb.serving.http.access_log import ACCESS_LOGGER

from .conftest import ServingProject

TOKEN = "metrics-" + os.urandom(6).hex()
AUTH = {"Authorization": f"Bearer {TOKEN}"}
IN_RANGE_AGE = "in_range(18, 100)"
ISIN_CONTRACT = "isin(['month-to-month', 'one-year', 'two-year'])"
DATATYPES = {
    "customer_id": "BYTES",
    "age": "INT64",
    "tenure_months": "INT64",
    "monthly_charges": "FP64",
    "total_charges": "FP64",
    "contract": "BYTES",
    "payment_method": "BYTES",
    "internet_service": "BYTES",
    "region": "BYTES",
    "support_calls": "INT64",
}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str, headers: dict[str, str] | None = None) -> Samples:
    """Every sample of ``/metrics``: ``(name, sorted labels) -> value``."""
    response = httpx.get(f"{url}/metrics", headers=headers, timeout=30.0)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(after: Samples, before: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture(scope="module")
def server(serving_project: ServingProject) -> Iterator[ServerHandle]:
    """churn@production with a token (/metrics open), its model worker, no inference log."""
    with start_server(
        "churn@production", serving_project.settings, token=TOKEN, log_predictions=False
    ) as handle:
        yield handle


@pytest.fixture(scope="module")
def client(server: ServerHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30.0) as http:
        yield http


def test_metrics_count_what_was_sent(server, client, serving_project):
    records = serving_project.records
    ok = [
        ("/predict", {"records": records[:1]}, 1),
        ("/predict", {"records": records[1:6]}, 5),
        ("/predict", {"records": records[6:26]}, 20),
        ("/invocations", {"dataframe_records": records[:4]}, 4),
    ]
    infer_rows = records[:2]
    tensors = {
        "inputs": [
            {
                "name": name,
                "shape": [2],
                "datatype": datatype,
                "data": [r[name] for r in infer_rows],
            }
            for name, datatype in DATATYPES.items()
        ]
    }
    record = records[0]
    refused = [
        ("/predict", {"records": [record, {**record, "age": 5, "contract": "weekly"}]}),
        ("/predict", {"records": [{**record, "region": None}]}),
        ("/invocations", {"dataframe_records": [{**record, "age": 101}]}),
    ]

    before = scrape(server.url)  # open without the token: metrics_token is off
    for path, body, _ in ok:
        assert client.post(path, json=body).status_code == 200
    infer = client.post("/v2/models/churn/infer", json=tensors)
    assert infer.status_code == 200, infer.text
    for path, body in refused:
        assert client.post(path, json=body).status_code == 422
    assert httpx.post(f"{server.url}/predict", json=ok[0][1]).status_code == 401
    assert httpx.post(f"{server.url}/no/such/path").status_code == 401  # no route
    after = scrape(server.url)

    requests = "mlops_nb_requests_total"
    infer_route = "/v2/models/{name}/infer"
    expected = {
        ("/predict", "POST", "200"): 3,
        ("/invocations", "POST", "200"): 1,
        (infer_route, "POST", "200"): 1,
        ("/predict", "POST", "422"): 2,
        ("/invocations", "POST", "422"): 1,
        ("/predict", "POST", "401"): 1,  # counted under the route it asked for
        ("other", "POST", "401"): 1,
        ("/metrics", "GET", "200"): 1,  # the first scrape (each is counted once it is answered)
    }
    changed = {}
    for (name, labels), count in after.items():
        if name == requests and count != before.get((name, labels), 0.0):
            label = dict(labels)
            changed[label["route"], label["method"], label["status"]] = count - before.get(
                (name, labels), 0.0
            )
    assert changed == expected  # nothing else moved

    per_route = Counter[str]()
    for (route, _, _), count in expected.items():
        per_route[route] += count
    latency = "mlops_nb_request_duration_seconds"
    for route, count in per_route.items():  # every answered request is timed, refusals too
        assert moved(after, before, f"{latency}_count", route=route) == count, route
        assert moved(after, before, f"{latency}_bucket", route=route, le="+Inf") == count, route
        assert moved(after, before, f"{latency}_sum", route=route) > 0, route

    rows = "mlops_nb_rows_scored_total"
    assert moved(after, before, rows, route="/predict") == 26
    assert moved(after, before, rows, route="/invocations") == 4
    assert moved(after, before, rows, route=infer_route) == 2

    # one call of the model per scored request: they were sent one after the other
    assert moved(after, before, "mlops_nb_batch_requests_count") == 5
    assert moved(after, before, "mlops_nb_batch_requests_sum") == 5
    assert moved(after, before, "mlops_nb_batch_rows_count") == 5
    assert moved(after, before, "mlops_nb_batch_rows_sum") == 26 + 4 + 2
    assert moved(after, before, "mlops_nb_batch_rows_bucket", le="16.0") == 4  # all but the 20
    assert moved(after, before, "mlops_nb_batch_rows_bucket", le="32.0") == 5

    refusals = {
        dict(labels)["check"]: count - before.get((name, labels), 0.0)
        for (name, labels), count in after.items()
        if name == "mlops_nb_refusals_total" and count != before.get((name, labels), 0.0)
    }
    assert refusals == {
        IN_RANGE_AGE: 2,  # once per request, whatever the failing rows
        ISIN_CONTRACT: 1,
        "not_nullable": 1,
    }

    assert value(after, "mlops_nb_worker_restarts_total") == 0
    assert ("mlops_nb_worker_restarts_total", ()) in after
    assert value(after, "mlops_nb_model_info", model="churn", version="1") == 1


def test_metrics_families_are_typed(server):
    response = httpx.get(f"{server.url}/metrics")
    types = {f.name: f.type for f in text_string_to_metric_families(response.text)}
    assert {
        name: types.get(name)
        for name in (
            "mlops_nb_requests",
            "mlops_nb_request_duration_seconds",
            "mlops_nb_rows_scored",
            "mlops_nb_refusals",
            "mlops_nb_batch_rows",
            "mlops_nb_batch_requests",
            "mlops_nb_worker_restarts",
            "mlops_nb_model_info",
        )
    } == {
        "mlops_nb_requests": "counter",
        "mlops_nb_request_duration_seconds": "histogram",
        "mlops_nb_rows_scored": "counter",
        "mlops_nb_refusals": "counter",
        "mlops_nb_batch_rows": "histogram",
        "mlops_nb_batch_requests": "histogram",
        "mlops_nb_worker_restarts": "counter",
        "mlops_nb_model_info": "gauge",
    }


def test_metrics_are_open_without_metrics_token_but_the_rest_is_guarded(server):
    assert httpx.get(f"{server.url}/metrics").status_code == 200
    assert httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer no"}).is_success
    assert httpx.get(f"{server.url}/metadata").status_code == 401


# --- a server with metrics_token and the JSON access log ----------------------------------------


class Lines(logging.Handler):
    """Keeps the messages of the access logger."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def wait(self, count: int) -> list[str]:
        """The messages once there are ``count`` (or after 10 s): a line is written just after
        its answer is sent, on the server's thread, so it may trail the client by a moment."""
        deadline = time.monotonic() + 10
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)  # a line too many would show up now
        return list(self.messages)


@pytest.fixture(scope="module")
def lines() -> Iterator[Lines]:
    """The access log's lines (the logger writes to stderr when nothing else handles it)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    handler, level = Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture(scope="module")
def logged(serving_project: ServingProject, lines: Lines) -> Iterator[ServerHandle]:
    """churn@production with a token that /metrics needs too, and the JSON access log."""
    with start_server(
        "churn@production",
        serving_project.settings,
        token=TOKEN,
        metrics_token=True,
        access_log="json",
        log_predictions=False,
        model_process=False,
    ) as handle:
        yield handle


def test_metrics_token_guards_metrics(logged):
    assert httpx.get(f"{logged.url}/metrics").status_code == 401
    wrong = httpx.get(f"{logged.url}/metrics", headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401
    samples = scrape(logged.url, AUTH)
    assert value(samples, "mlops_nb_requests_total", route="/metrics", method="GET", status="401")
    assert httpx.get(f"{logged.url}/health").status_code == 200  # still open
    document = httpx.get(f"{logged.url}/openapi.json", headers=AUTH).json()
    operation = document["paths"]["/metrics"]["get"]
    assert operation["security"] == [{"bearer": []}] and "401" in operation["responses"]


def test_the_json_access_log_has_one_line_per_request_and_no_secrets(
    logged, lines, serving_project
):
    secret = "C-SECRET-" + os.urandom(6).hex()
    query = "q" + os.urandom(6).hex()
    wrong = "wrong-" + os.urandom(6).hex()
    record = {**serving_project.records[0], "customer_id": secret}
    lines.messages.clear()
    with httpx.Client(base_url=logged.url, timeout=30.0) as http:
        answered = http.post(f"/predict?{query}=1", json={"records": [record]}, headers=AUTH)
        refused = http.post("/predict", json={"records": [{**record, "age": 7}]}, headers=AUTH)
        denied = http.post("/predict", json={"records": [record]}, headers={"Authorization": wrong})
        infer = http.post(
            "/v2/models/churn/infer",
            json={"inputs": [{"name": "age", "shape": [1], "datatype": "INT64", "data": [30]}]},
            headers=AUTH,
        )
        health = http.get("/v2/health/live")
    responses = [answered, refused, denied, infer, health]
    assert [r.status_code for r in responses] == [200, 422, 401, 422, 200]

    messages = lines.wait(len(responses))
    assert len(messages) == len(responses)  # one line per request, nothing else
    entries = [json.loads(line) for line in messages]
    assert all(set(entry) == set(entries[0]) for entry in entries)
    assert set(entries[0]) == {
        "time",
        "method",
        "path",
        "status",
        "duration_ms",
        "rows",
        "request_id",
        "client",
    }
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", "/predict", 200),
        ("POST", "/predict", 422),
        ("POST", "/predict", 401),
        ("POST", "/v2/models/churn/infer", 422),
        ("GET", "/v2/health/live", 200),
    ]
    first = entries[0]
    assert (first["rows"], first["request_id"]) == (1, answered.json()["request_id"])
    assert all((e["rows"], e["request_id"]) == (None, None) for e in entries[1:])
    assert all(e["client"].startswith("127.0.0.1:") for e in entries)
    assert all(isinstance(e["duration_ms"], float) and e["duration_ms"] >= 0 for e in entries)
    assert all(e["time"].endswith("Z") and datetime.fromisoformat(e["time"]) for e in entries)

    text = "\n".join(messages)
    for leaked in (secret, query, wrong, TOKEN, "Bearer", '"age"', "customer_id"):
        assert leaked not in text, leaked


def test_access_log_lines_are_single_line_json(lines, logged):
    lines.messages.clear()
    odd = "/v2/models/" + "x\u2028\"y'" + "/ready"
    assert httpx.get(f"{logged.url}{odd}", headers=AUTH).status_code == 404
    (line,) = lines.wait(1)
    assert "\n" not in line and "\u2028" not in line and line.isascii()
    assert json.loads(line)["path"] == odd
