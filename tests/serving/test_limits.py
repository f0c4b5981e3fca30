"""Request limits derived from the signature: what the schema declares, the server accepts."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pandera.pandas as pa
import pytest

from mlops_nb.errors import ServingError
from mlops_nb.serving import MAX_ROWS, MAX_TEXT_CHARS, ServerHandle, record_schema, start_server
from mlops_nb.serving.http.limits import (
    ENVELOPE_BYTES,
    MAX_DERIVED_BODY_BYTES,
    record_allowance,
    request_limits,
)

from .conftest import ServingProject
from .test_fuzz import SIGNATURE


@pytest.fixture(scope="module")
def server(serving_project: ServingProject) -> Iterator[ServerHandle]:
    with start_server(
        "churn@production", serving_project.settings, log_predictions=False, model_process=False
    ) as handle:
        yield handle


def declared(server: ServerHandle) -> dict:
    return server.app.openapi()["components"]["schemas"]


def test_the_largest_record_the_schema_admits_fits_the_derived_body_limit():
    record = record_schema(SIGNATURE)
    limits = request_limits(record, None, MAX_ROWS, MAX_TEXT_CHARS)
    assert limits.text_columns == ("customer_id",)  # the one string without enum or length
    worst = {}
    for name, schema in record["properties"].items():
        if "enum" in schema:
            worst[name] = max(schema["enum"], key=lambda v: len(json.dumps(v)))
        elif name == "customer_id":
            worst[name] = "\U0001f600" * MAX_TEXT_CHARS  # 12 bytes each as \\ud83d\\ude00
        elif "integer" in str(schema["type"]):
            worst[name] = schema.get("minimum", -(2**63))
        else:
            worst[name] = -2.2250738585072014e-308
    body = json.dumps({"records": [worst] * MAX_ROWS}, indent=4).encode()
    assert len(body) <= limits.max_body_bytes
    assert record_allowance(record, MAX_TEXT_CHARS) == limits.record_bytes


def test_ten_thousand_typical_records_are_no_longer_refused(server, serving_project):
    records = (serving_project.records * 60)[: MAX_ROWS - 1]
    body = json.dumps({"records": records}).encode()
    assert len(body) > 2_000_000  # over the old 1 MiB limit, under maxItems
    response = httpx.post(f"{server.url}/predict", content=body, timeout=120)
    assert response.status_code == 200, response.text[:300]
    assert len(response.json()["predictions"]) == MAX_ROWS - 1


def test_the_schema_declares_the_limits_the_server_enforces(server):
    schemas = declared(server)
    records = schemas["PredictRequest"]["properties"]["records"]
    assert records["maxItems"] == MAX_ROWS
    limits = server.app.state.serving.limits
    assert schemas["PredictRequest"]["x-max-body-bytes"] == limits.max_body_bytes
    assert schemas["InputRecord"]["properties"]["customer_id"]["maxLength"] == MAX_TEXT_CHARS
    metadata = httpx.get(f"{server.url}/metadata").json()["limits"]
    assert metadata["max_rows"] == MAX_ROWS and metadata["max_text_chars"] == MAX_TEXT_CHARS


def test_text_over_the_cap_is_a_422_naming_the_row_and_the_limit(server, serving_project):
    ok, long = dict(serving_project.records[0]), dict(serving_project.records[1])
    long["customer_id"] = "C" * (MAX_TEXT_CHARS + 1)
    ok["customer_id"] = "C" * MAX_TEXT_CHARS
    response = httpx.post(f"{server.url}/predict", json={"records": [ok, long]})
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["row"], error["column"]) == (1, "customer_id")
    assert error["check"] == f"max_text_chars({MAX_TEXT_CHARS})"
    one_more = {"records": serving_project.records[:1] * (MAX_ROWS + 1)}
    response = httpx.post(f"{server.url}/predict", json=one_more, timeout=60)
    assert response.status_code == 422 and "limit of 10,000" in response.json()["detail"]


def test_an_explicit_byte_limit_shrinks_the_row_limit_or_is_refused():
    record = record_schema(SIGNATURE)
    size = record_allowance(record, MAX_TEXT_CHARS)
    assert request_limits(record, 64 + 3 * size, MAX_ROWS, MAX_TEXT_CHARS).max_rows == 3
    with pytest.raises(ServingError, match=r"max_body_bytes=100 cannot hold one record"):
        request_limits(record, 100, MAX_ROWS, MAX_TEXT_CHARS)


def test_a_wide_text_signature_stops_at_the_ceiling_and_shrinks_the_row_limit():
    wide = pa.DataFrameSchema({f"text_{i}": pa.Column(str) for i in range(20)}, name="wide")
    record = record_schema(wide)
    size = record_allowance(record, MAX_TEXT_CHARS)
    assert ENVELOPE_BYTES + MAX_ROWS * size > 200_000_000  # what deriving alone would allow
    limits = request_limits(record, None, MAX_ROWS, MAX_TEXT_CHARS)
    assert limits.max_body_bytes == MAX_DERIVED_BODY_BYTES == 64 * 1024 * 1024
    assert limits.max_rows == (MAX_DERIVED_BODY_BYTES - ENVELOPE_BYTES) // size < MAX_ROWS
    assert ENVELOPE_BYTES + limits.max_rows * size <= limits.max_body_bytes  # max_rows fit
    assert len(limits.text_columns) == 20
    explicit = request_limits(record, 2 * MAX_DERIVED_BODY_BYTES, MAX_ROWS, MAX_TEXT_CHARS)
    assert explicit.max_rows == 2 * limits.max_rows  # an explicit limit may exceed the ceiling
    narrow = request_limits(record_schema(SIGNATURE), None, MAX_ROWS, MAX_TEXT_CHARS)
    assert narrow.max_rows == MAX_ROWS < narrow.max_body_bytes < MAX_DERIVED_BODY_BYTES
    with pytest.raises(ServingError, match=r"a derived limit stops at .*lower max_text_chars"):
        request_limits(record, None, MAX_ROWS, 10_000_000)


def test_the_shrunk_row_limit_is_declared_and_enforced(serving_project):
    """Long texts allowed (``max_text_chars``): the ceiling shrinks maxItems; one more is 422."""
    with start_server(
        "churn@production",
        serving_project.settings,
        max_text_chars=100_000,
        log_predictions=False,
        model_process=False,
    ) as wide:
        limits = wide.app.state.serving.limits
        assert limits.max_body_bytes == MAX_DERIVED_BODY_BYTES
        assert 1 < limits.max_rows < MAX_ROWS
        schemas = declared(wide)
        assert schemas["PredictRequest"]["properties"]["records"]["maxItems"] == limits.max_rows
        text = schemas["InputRecord"]["properties"]["customer_id"]
        assert text["maxLength"] == 100_000
        long = {**serving_project.records[0], "customer_id": "C" * 5_000}  # over the old cap
        at_limit = {"records": [long] * limits.max_rows}
        response = httpx.post(f"{wide.url}/predict", json=at_limit, timeout=120)
        assert response.status_code == 200, response.text[:300]
        over = {"records": serving_project.records[:1] * (limits.max_rows + 1)}
        response = httpx.post(f"{wide.url}/predict", json=over, timeout=60)
        assert response.status_code == 422, response.text[:300]
        assert f"limit of {limits.max_rows:,}" in response.json()["detail"]
