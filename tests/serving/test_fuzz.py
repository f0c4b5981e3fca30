"""Property-based tests: the API never fails with a 500, and the fast checks agree with pandera."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_nb.serving import InputChecker, ServerHandle, start_server
from mlops_nb.validation import input_contract, load_contract
from mlops_nb.validation._passes import run_passes

from .conftest import CONTRACT, ServingProject

SIGNATURE = input_contract(load_contract(CONTRACT), "churned")
COLUMNS = list(SIGNATURE.columns)
ANSWERS = {200, 400, 413, 422}
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

nasty_text = st.one_of(
    st.text(),
    st.sampled_from(
        ["", " ", "\x00", "\ud800", "\u2028", "NaN", "1e400", "'; DROP TABLE x; --", "é" * 300]
    ),
    st.sampled_from(["north", "dsl", "one-year", "credit-card", "C1"]),
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, 18, 100, 101, -1, 2**63, -(2**63) - 1, 1e308, 5e-324, -0.0]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, nasty_text)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
keys = st.one_of(st.sampled_from(COLUMNS), st.text(max_size=12))
records = st.one_of(
    st.dictionaries(keys, json_values, max_size=14),
    st.fixed_dictionaries({c: scalars for c in COLUMNS}),
    json_values,
)
bodies = st.one_of(
    st.fixed_dictionaries({"records": st.lists(records, max_size=6)}),
    st.dictionaries(st.sampled_from(["records", "extra"]), json_values, max_size=2),
    json_values,
)
raw_texts = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [
            b'{"records": [{"age": NaN}]}',
            b'{"records": [{"age": -Infinity}]}',
            b'{"records": [{"age": 1e99999}]}',
            b'{"records": [{"age": ' + b"9" * 5000 + b"}]}",
            b'{"records": [' + b"[" * 50_000 + b"]}",
            b'{"records": [{"region": "\\ud800"}]}',
            b'{"records": "' + b"\\u0000" * 100 + b'"}',
        ]
    ),
)


@pytest.fixture(scope="module")
def server(serving_project: ServingProject) -> Iterator[ServerHandle]:
    with start_server("churn@production", serving_project.settings, log_predictions=False) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: ServerHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30.0) as http:
        yield http


def check_answer(response: httpx.Response) -> None:
    assert response.status_code in ANSWERS, (response.status_code, response.text)
    body = response.json()
    if response.status_code != 200:
        assert isinstance(body["detail"], str) and body["detail"]
    for error in body.get("errors", []):
        assert set(error) == {"row", "column", "check", "value"}


@FUZZ
@given(body=bodies)
def test_json_bodies_never_cause_a_server_error(client, body):
    check_answer(client.post("/predict", content=json.dumps(body).encode()))


@FUZZ
@given(content=raw_texts)
def test_raw_bytes_never_cause_a_server_error(client, content):
    check_answer(client.post("/predict", content=content))


@FUZZ
@given(record=st.fixed_dictionaries({c: scalars for c in COLUMNS}))
def test_records_with_every_column_are_answered_or_explained(client, record):
    response = client.post("/predict", content=json.dumps({"records": [record]}).encode())
    check_answer(response)
    if response.status_code == 422:
        assert all(e["row"] == 0 and e["column"] in COLUMNS for e in response.json()["errors"])


def typed_value(column: str) -> st.SearchStrategy[Any]:
    """Values of the column's JSON type, in and out of its checks, nulls included."""
    kind = str(SIGNATURE.columns[column].dtype)
    if kind == "int64":
        base: st.SearchStrategy[Any] = st.integers(min_value=-20, max_value=200)
    elif kind == "float64":
        base = st.floats(min_value=-50, max_value=1100, allow_nan=False)
    else:
        checks = SIGNATURE.columns[column].checks
        allowed = list(checks[0].statistics["allowed_values"]) if checks else ["C1"]
        base = st.one_of(st.sampled_from(allowed), st.text(max_size=5))
    return st.one_of(base, st.none())


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries({c: typed_value(c) for c in COLUMNS}), max_size=8))
def test_fast_checks_report_what_pandera_reports(rows):
    checker = InputChecker(SIGNATURE)
    fast = {(e.row, e.column, e.check) for e in checker.check_records(rows).errors}
    frame = pd.DataFrame(rows, columns=COLUMNS)
    for column in COLUMNS:
        if str(SIGNATURE.columns[column].dtype) == "float64":
            frame[column] = frame[column].astype("float64")
    outcome = run_passes(frame, SIGNATURE) if rows else None
    slow = set()
    if outcome is not None:
        slow = {(int(c.pos), str(c.column), str(c.check)) for c in outcome.rows.itertuples()}
    assert fast == slow


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries({c: typed_value(c) for c in COLUMNS}), min_size=1, max_size=30
    )
)
def test_frame_checks_report_what_pandera_reports(rows):
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame = frame.astype({c: "float64" for c in ("monthly_charges", "total_charges")})
    valid, errors = InputChecker(SIGNATURE).check_frame(frame)
    outcome = run_passes(frame, SIGNATURE)
    slow = {(int(c.pos), str(c.column), str(c.check)) for c in outcome.rows.itertuples()}
    assert {(e.row, e.column, e.check) for e in errors} == slow
    assert sorted(valid.index) == sorted(set(range(len(frame))) - {row for row, _, _ in slow})
