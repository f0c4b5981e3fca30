"""The model server's HTTP API, against a live server on a loopback port (real HTTP)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from mlops_nb.serving import ServerHandle, read_inference_log, start_server
from mlops_nb.validation import input_contract, load_contract
from mlops_nb.validation.fast import smoke_records

from .conftest import CONTRACT, ServingProject

ISIN_CONTRACT = "isin(['month-to-month', 'one-year', 'two-year'])"


@pytest.fixture(scope="module")
def server(serving_project: ServingProject) -> Iterator[ServerHandle]:
    """churn@production served with the defaults: model worker process, inference log on."""
    handle = start_server("churn@production", serving_project.settings)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def client(server: ServerHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30.0) as http:
        yield http


@pytest.fixture
def record(serving_project: ServingProject) -> dict[str, Any]:
    return dict(serving_project.records[0])


def predict(client: httpx.Client, records: Any) -> httpx.Response:
    return client.post("/predict", json={"records": records})


def errors_of(response: httpx.Response) -> list[tuple[Any, ...]]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["detail"] and body["error_count"] == len(body["errors"])
    return [(e["row"], e["column"], e["check"], e["value"]) for e in body["errors"]]


def test_valid_records_get_predictions_probabilities_and_the_version(client, serving_project):
    records = serving_project.records[:25]
    response = predict(client, records)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model"], body["version"]) == ("churn", 1)
    assert response.headers["x-request-id"] == body["request_id"]
    frame, model = serving_project.frame.iloc[:25], serving_project.model
    assert body["predictions"] == model.predict(frame).tolist()
    probs = np.array([[row["0"], row["1"]] for row in body["probabilities"]])
    np.testing.assert_allclose(probs, model.predict_proba(frame), rtol=1e-9)
    assert all(set(row) == {"0", "1"} for row in body["probabilities"])


def test_a_single_record(client, record):
    body = predict(client, [record]).json()
    assert len(body["predictions"]) == 1 and body["predictions"][0] in (0, 1)
    assert sum(body["probabilities"][0].values()) == pytest.approx(1.0)


def test_wrong_json_types_name_the_row_and_column(client, record):
    bad = [record, {**record, "age": "thirty", "region": 5, "support_calls": 2.5}]
    assert errors_of(predict(client, bad)) == [
        (1, "age", "coerce_dtype('int64')", "thirty"),
        (1, "region", "coerce_dtype('str')", 5),
        (1, "support_calls", "coerce_dtype('int64')", 2.5),
    ]


def test_integral_numbers_are_accepted_for_int_columns(client, record):
    assert predict(client, [{**record, "age": 40.0, "monthly_charges": 50}]).status_code == 200


def test_booleans_are_not_numbers(client, record):
    assert errors_of(predict(client, [{**record, "age": True}])) == [
        (0, "age", "coerce_dtype('int64')", True)
    ]


def test_missing_column(client, record):
    del record["tenure_months"]
    assert errors_of(predict(client, [record])) == [
        (0, "tenure_months", "column_in_dataframe", None)
    ]


def test_extra_column_is_rejected_not_dropped(client, record):
    assert errors_of(predict(client, [{**record, "churned": 1}])) == [
        (0, "churned", "column_in_schema", 1)
    ]


def test_out_of_range_values_with_their_row(client, serving_project):
    records = [dict(r) for r in serving_project.records[:5]]
    records[3]["age"] = -5
    records[4]["monthly_charges"] = 1000.5
    assert errors_of(predict(client, records)) == [
        (3, "age", "in_range(18, 100)", -5),
        (4, "monthly_charges", "in_range(0, 1000)", 1000.5),
    ]


def test_bad_category(client, record):
    assert errors_of(predict(client, [{**record, "contract": "weekly"}])) == [
        (0, "contract", ISIN_CONTRACT, "weekly")
    ]


def test_null_in_a_non_nullable_column(client, record):
    assert errors_of(predict(client, [{**record, "region": None}])) == [
        (0, "region", "not_nullable", None)
    ]


def test_null_in_nullable_columns_is_fine(client, record):
    response = predict(client, [{**record, "total_charges": None, "payment_method": None}])
    assert response.status_code == 200, response.text


def test_every_failure_of_every_row_is_listed(client, record):
    bad = [{**record, "age": 5, "contract": "weekly"}, record, {"age": 30}, "not an object"]
    found = errors_of(predict(client, bad))
    assert found[:2] == [
        (0, "age", "in_range(18, 100)", 5),
        (0, "contract", ISIN_CONTRACT, "weekly"),
    ]
    assert {f[1] for f in found if f[0] == 2} == set(record) - {"age"}
    assert found[-1] == (3, None, "record_is_object", "not an object")
    assert "3 of 4 record(s)" in predict(client, bad).json()["detail"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"records": []}, "empty"),
        ([{"age": 1}], "JSON object"),
        ({"rows": []}, "JSON object"),
        ({"records": [], "extra": 1}, "unknown field"),
        ({"records": {"age": 1}}, "must be a list"),
    ],
)
def test_bodies_of_the_wrong_shape(client, body, words):
    response = client.post("/predict", json=body)
    assert response.status_code == 422 and words in response.json()["detail"]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b'{"records": [',
        b'{"records": [{"age": NaN}]}',
        b'{"records": [{"age": Infinity}]}',
        b'{"records": [{"monthly_charges": 1e400}]}',
        b"\xff\xfe{}",
        b"[" * 100_000,
    ],
)
def test_non_json_bodies_get_400_with_a_message(client, content):
    response = client.post("/predict", content=content)
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"] or "UTF-8" in response.json()["detail"]


def test_health(client):
    assert client.get("/health").json() == {"status": "ok", "model": "churn", "version": 1}


def test_metadata(client):
    meta = client.get("/metadata").json()
    assert (meta["name"], meta["version"], meta["task"], meta["target"]) == (
        "churn",
        1,
        "binary",
        "churned",
    )
    assert meta["aliases"] == ["production"] and meta["metrics"] == {"roc_auc": 0.8}
    assert set(meta["lineage"]) == {"data_version", "pipeline_run", "training_run"}
    assert meta["created_at"] and meta["classes"] == [0, 1]
    columns = {c["name"]: c for c in meta["signature"]["columns"]}
    assert columns["age"]["checks"] == ["in_range(18, 100)"] and columns["age"]["dtype"] == "int64"
    assert columns["total_charges"]["nullable"] and "churned" not in columns


def test_openapi_shows_the_input_contract(client):
    document = client.get("/openapi.json").json()
    body = document["paths"]["/predict"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/PredictRequest")
    record = document["components"]["schemas"]["InputRecord"]
    assert record["additionalProperties"] is False
    assert set(record["required"]) == set(record["properties"]) and len(record["required"]) == 10
    age, region = record["properties"]["age"], record["properties"]["region"]
    assert (age["type"], age["minimum"], age["maximum"]) == ("integer", 18, 100)
    assert region["enum"] == ["north", "south", "east", "west"]
    assert record["properties"]["total_charges"]["type"] == ["number", "null"]
    assert record["properties"]["payment_method"]["enum"][-1] is None
    assert "422" in document["paths"]["/predict"]["post"]["responses"]
    assert client.get("/docs").status_code == 200


def test_example_record_in_the_schema_is_accepted(client):
    example = client.get("/openapi.json").json()["components"]["schemas"]["InputRecord"]["example"]
    assert predict(client, [example]).status_code == 200


def test_inference_log_rows_are_written_and_read_back(client, server, serving_project):
    before = time.time()
    records = serving_project.records[:3]
    answer = predict(client, records).json()
    deadline = time.monotonic() + 10
    log = read_inference_log(serving_project.settings, "churn", since=before)
    while answer["request_id"] not in set(log["request_id"]) and time.monotonic() < deadline:
        time.sleep(0.05)
        log = read_inference_log(serving_project.settings, "churn", since=before)
    rows = log[log["request_id"] == answer["request_id"]]
    assert len(rows) == 3
    assert rows["prediction"].tolist() == answer["predictions"]
    assert rows["proba_1"].tolist() == pytest.approx([p["1"] for p in answer["probabilities"]])
    assert rows["age"].tolist() == [r["age"] for r in records]
    assert rows["contract"].tolist() == [r["contract"] for r in records]
    assert set(rows["version"]) == {1} and set(rows["model"]) == {"churn"}
    assert str(rows["timestamp"].dt.tz) == "UTC"
    assert (rows["timestamp"] >= pd.Timestamp(before, unit="s", tz="UTC")).all()


def test_refused_requests_are_not_logged(client, serving_project, record):
    before = time.time()
    predict(client, [{**record, "age": -1}])
    time.sleep(0.2)
    log = read_inference_log(serving_project.settings, "churn", since=before)
    assert -1 not in set(log.get("age", []))


def test_a_crashed_model_worker_is_restarted(client, server, record):
    worker = server.app.state.serving.worker
    worker._process.kill()
    worker._process.wait()
    response = predict(client, [record])
    assert response.status_code == 200, response.text


def test_concurrent_requests_all_get_their_own_answers(server, serving_project):
    records = serving_project.records[:40]
    model, frame = serving_project.model, serving_project.frame.iloc[:40]
    expected = model.predict_proba(frame)[:, 1]

    def one(i: int) -> float:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            return predict(http, [records[i]]).json()["probabilities"][0]["1"]

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(one, range(40)))
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_answers_are_ascii_json_even_for_odd_text(client, record):
    content = json.dumps({"records": [{**record, "region": "\ud800\u2028é"}]}).encode()
    response = client.post("/predict", content=content)
    assert response.status_code == 422
    assert response.content.isascii()
    assert response.json()["errors"][0]["value"] == "\ud800\u2028é"


def test_smoke_records_are_answered_and_refused_as_built(client, serving_project):
    signature = input_contract(load_contract(CONTRACT), "churned")
    smoke = smoke_records(signature, serving_project.frame, 3)
    assert predict(client, smoke.valid).status_code == 200
    errors = errors_of(predict(client, smoke.invalid))
    assert {(row, column, check) for row, column, check, _ in errors} == smoke.expected
    assert len(smoke.broken) == 4
