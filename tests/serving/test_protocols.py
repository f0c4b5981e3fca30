"""Every scoring protocol of the server answers the same rows the same way, against a live server.

One server (real uvicorn on 127.0.0.1, a bearer token, the model worker
process) answers ``/predict``, MLflow's ``/invocations`` in its four JSON
shapes and as CSV, and the Open Inference Protocol's ``infer`` (hand-built
JSON tensors and ``tritonclient.http``, the protocol's official client): the
same rows get the same predictions and probabilities, and a row breaking the
contract gets the same 422 (``detail``, and each failing row, column, check
and value) on each. The OpenAPI document declares the bearer scheme on every
guarded operation and on none of the health checks.
"""

from __future__ import annotations

import csv
import io
import json
import os
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from mlops_nb.serving import ServerHandle, start_server

from .conftest import ServingProject

TOKEN = "protocols-" + os.urandom(6).hex()
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROWS = 20
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
"""The tensor datatypes of the churn signature, as the protocol documents them."""
INFER = "/v2/models/churn/infer"

Records = list[dict[str, Any]]


@pytest.fixture(scope="module")
def server(serving_project: ServingProject) -> Iterator[ServerHandle]:
    """churn@production with a token, its model worker process, no inference log."""
    with start_server(
        "churn@production", serving_project.settings, token=TOKEN, log_predictions=False
    ) as handle:
        yield handle


@pytest.fixture(scope="module")
def client(server: ServerHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30.0) as http:
        yield http


@pytest.fixture(scope="module")
def rows(serving_project: ServingProject) -> tuple[pd.DataFrame, Records]:
    """Valid rows, nulls in the nullable columns included (as the sample has them)."""
    nulls = serving_project.frame.isna().any(axis=1).to_numpy()
    chosen = sorted([*np.flatnonzero(nulls)[:5], *np.flatnonzero(~nulls)[: ROWS - 5]])
    assert len(chosen) == ROWS and nulls[chosen].sum() == 5
    return serving_project.frame.iloc[chosen], [dict(serving_project.records[i]) for i in chosen]


# --- the payload of each protocol for a list of records -------------------------------------


def _columns(records: Records) -> list[str]:
    names: list[str] = []
    for record in records:
        names += [name for name in record if name not in names]
    return names


def as_split(records: Records) -> dict[str, Any]:
    columns = _columns(records)
    data = [[record.get(name) for name in columns] for record in records]
    return {"dataframe_split": {"columns": columns, "data": data}}


def as_columns(records: Records) -> dict[str, list[Any]]:
    return {name: [record.get(name) for record in records] for name in _columns(records)}


def as_csv(records: Records) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = _columns(records)
    writer.writerow(columns)
    for record in records:
        writer.writerow(["" if record.get(c) is None else record[c] for c in columns])
    return out.getvalue()


def as_tensors(records: Records) -> dict[str, Any]:
    """The protocol's documented request: one tensor per column, shape [n]."""
    return {
        "id": "parity",
        "inputs": [
            {
                "name": name,
                "shape": [len(values)],
                "datatype": DATATYPES.get(name, "BYTES"),
                "data": values,
            }
            for name, values in as_columns(records).items()
        ],
    }


def invocations_json(key: str, make: Callable[[Records], Any]) -> Callable[..., httpx.Response]:
    def send(client: httpx.Client, records: Records) -> httpx.Response:
        return client.post("/invocations", json={key: make(records)})

    return send


def invocations_csv(client: httpx.Client, records: Records) -> httpx.Response:
    return client.post(
        "/invocations", content=as_csv(records), headers={"Content-Type": "text/csv"}
    )


def infer(path: str) -> Callable[..., httpx.Response]:
    def send(client: httpx.Client, records: Records) -> httpx.Response:
        return client.post(path, json=as_tensors(records))

    return send


PROTOCOLS: dict[str, Callable[[httpx.Client, Records], httpx.Response]] = {
    "dataframe_split": lambda client, records: client.post("/invocations", json=as_split(records)),
    "dataframe_records": invocations_json("dataframe_records", list),
    "instances (records)": invocations_json("instances", list),
    "inputs (columns)": invocations_json("inputs", as_columns),
    "csv": invocations_csv,
    "v2 infer": infer(INFER),
    "v2 infer, versioned": infer("/v2/models/churn/versions/1/infer"),
}


def predict(client: httpx.Client, records: Records) -> httpx.Response:
    return client.post("/predict", json={"records": records})


def v2_outputs(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {output["name"]: output for output in body["outputs"]}


# --- parity ----------------------------------------------------------------------------------


def test_predict_answers_what_the_model_predicts(client, rows, serving_project):
    frame, records = rows
    body = predict(client, records).json()
    assert body["predictions"] == serving_project.model.predict(frame).tolist()
    probabilities = [[row["0"], row["1"]] for row in body["probabilities"]]
    np.testing.assert_allclose(probabilities, serving_project.model.predict_proba(frame), 1e-9)


@pytest.mark.parametrize("protocol", [p for p in PROTOCOLS if not p.startswith("v2")])
def test_invocations_predicts_what_predict_does(client, rows, protocol):
    _, records = rows
    expected = predict(client, records).json()["predictions"]
    response = PROTOCOLS[protocol](client, records)
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": expected}
    assert len(response.headers["x-request-id"]) == 32


@pytest.mark.parametrize("protocol", ["v2 infer", "v2 infer, versioned"])
def test_v2_infer_predicts_what_predict_does(client, rows, protocol):
    _, records = rows
    expected = predict(client, records).json()
    response = PROTOCOLS[protocol](client, records)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model_name"], body["model_version"], body["id"]) == ("churn", "1", "parity")
    assert body["parameters"]["request_id"] == response.headers["x-request-id"]
    outputs = v2_outputs(body)
    assert set(outputs) == {"predictions", "probabilities"}
    labels = outputs["predictions"]
    assert (labels["datatype"], labels["shape"]) == ("INT64", [ROWS])
    assert labels["data"] == expected["predictions"]
    probs = outputs["probabilities"]
    assert (probs["datatype"], probs["shape"]) == ("FP64", [ROWS, 2])
    assert json.loads(probs["parameters"]["classes"]) == ["0", "1"]
    flat = [row[label] for row in expected["probabilities"] for label in ("0", "1")]
    np.testing.assert_allclose(probs["data"], flat, rtol=1e-9)


def test_v2_outputs_can_be_chosen_and_shape_n_1_is_read(client, rows):
    _, records = rows
    expected = predict(client, records[:3]).json()["predictions"]
    payload = as_tensors(records[:3])
    for tensor in payload["inputs"]:
        tensor["shape"], tensor["data"] = [3, 1], [[value] for value in tensor["data"]]
    payload["outputs"] = [{"name": "predictions"}]
    body = client.post(INFER, json=payload).json()
    assert [o["name"] for o in body["outputs"]] == ["predictions"]
    assert body["outputs"][0]["data"] == expected


def test_mlflow_s_own_serializer_is_understood(client, rows):
    """MLflow's client helpers (as ``ScoringServerClient.invoke`` sends a frame) build the body."""
    pytest.importorskip("mlflow", reason="MLflow is not installed: pip install -e '.[mlflow]'")
    from mlflow.models import convert_input_example_to_serving_input
    from mlflow.utils.proto_json_utils import dump_input_data

    frame, records = rows
    expected = {"predictions": predict(client, records).json()["predictions"]}
    with warnings.catch_warnings():  # MLflow's own ``columns == range(...)``, under pandas 3
        warnings.filterwarnings("ignore", "Operation with range is deprecated")
        example = convert_input_example_to_serving_input(frame)
    for body in (dump_input_data(frame), example):
        assert body is not None
        response = client.post(
            "/invocations", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200, (response.text, body[:300])
        assert response.json() == expected


def test_invocations_reads_a_bare_nan_as_a_missing_value_as_mlflow_does(client, rows):
    _, records = rows
    record = next(r for r in records if r["total_charges"] is None)
    expected = predict(client, [record]).json()["predictions"]
    text = json.dumps({"dataframe_records": [record]}).replace("null", "NaN")
    assert "NaN" in text
    headers = {"Content-Type": "application/json"}
    response = client.post("/invocations", content=text, headers=headers)
    assert response.json() == {"predictions": expected}
    for constant in ("Infinity", "-Infinity"):
        response = client.post(
            "/invocations", content=text.replace("NaN", constant), headers=headers
        )
        assert response.status_code == 400 and f"{constant} is not valid JSON" in response.text
    response = client.post("/predict", content=text.replace("dataframe_records", "records"))
    assert response.status_code == 400 and "NaN is not valid JSON" in response.text  # /predict


# --- the same refusal --------------------------------------------------------------------------


def _without(record: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key != name}


BROKEN: dict[str, Callable[[dict[str, Any]], Records]] = {
    "missing column": lambda r: [_without(r, "tenure_months")],
    "wrong types": lambda r: [r, {**r, "age": "thirty", "support_calls": 2.5}],
    "outside checks": lambda r: [r, r, {**r, "age": -5, "contract": "weekly"}],
    "null in a non-nullable column": lambda r: [{**r, "region": None}],
}
EXPECTED = {
    "missing column": [(0, "tenure_months", "column_in_dataframe", None)],
    "wrong types": [
        (1, "age", "coerce_dtype('int64')", "thirty"),
        (1, "support_calls", "coerce_dtype('int64')", 2.5),
    ],
    "outside checks": [
        (2, "age", "in_range(18, 100)", -5),
        (2, "contract", "isin(['month-to-month', 'one-year', 'two-year'])", "weekly"),
    ],
    "null in a non-nullable column": [(0, "region", "not_nullable", None)],
}


@pytest.fixture(scope="module")
def complete(serving_project: ServingProject) -> dict[str, Any]:
    """A valid record with no nulls (a CSV cell or a tensor can carry each of its values)."""
    return next(dict(r) for r in serving_project.records if None not in r.values())


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_row_gets_the_same_422_on_every_protocol(client, complete, case):
    records = BROKEN[case](complete)
    reference = predict(client, records)
    assert reference.status_code == 422, reference.text
    expected = reference.json()
    found = [(e["row"], e["column"], e["check"], e["value"]) for e in expected["errors"]]
    assert found == EXPECTED[case]
    assert expected["detail"].startswith(f"1 of {len(records)} record(s) break the input contract")
    for protocol, send in PROTOCOLS.items():
        response = send(client, records)
        assert response.status_code == 422, (protocol, response.text)
        body = response.json()
        if protocol.startswith("v2"):
            assert body.pop("error") == expected["detail"], protocol  # the protocol's own key
        assert body == expected, protocol  # detail, errors (row, column, check, value), count


def test_shape_errors_are_told_apart_from_contract_errors(client, complete):
    """A body the protocol cannot read is 400 (v2) or 422 (MLflow), never a contract 422."""
    response = client.post(INFER, json={"inputs": [{"name": "age", "data": [30]}]})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == body["detail"] and "lacks shape, datatype" in body["error"]
    assert "errors" not in body
    response = client.post("/invocations", json={"records": [complete]})
    assert response.status_code == 422 and "unknown field(s) records" in response.json()["detail"]
    response = client.post("/invocations", content=b"age\n30", headers={"Content-Type": "x/y"})
    assert response.status_code == 415


def test_another_model_or_version_is_a_v2_404(client, complete):
    for path in ("/v2/models/other/infer", "/v2/models/churn/versions/2/infer"):
        response = client.post(path, json=as_tensors([complete]))
        assert response.status_code == 404
        assert "this server serves churn version 1" in response.json()["error"]


# --- tritonclient, the protocol's official client -----------------------------------------------


@pytest.fixture(scope="module")
def triton(server: ServerHandle) -> Iterator[tuple[Any, Any]]:
    http = pytest.importorskip(
        "tritonclient.http",
        reason="tritonclient is not installed: pip install -e '.[test]' (tritonclient[http])",
    )
    client = http.InferenceServerClient(url=f"127.0.0.1:{server.port}", network_timeout=30.0)
    yield http, client
    client.close()


def triton_inputs(http: Any, frame: pd.DataFrame, binary: bool = False) -> list[Any]:
    """One ``InferInput`` per column: BYTES for text, INT64/FP64 for numbers."""
    inputs = []
    for name in frame.columns:
        column = frame[name]
        if column.dtype.kind in "iu":
            values, datatype = column.to_numpy(np.int64), "INT64"
        elif column.dtype.kind == "f":
            values, datatype = column.to_numpy(np.float64), "FP64"
        else:
            values, datatype = np.array([str(v).encode() for v in column], np.object_), "BYTES"
        tensor = http.InferInput(name, [len(frame)], datatype)
        tensor.set_data_from_numpy(values, binary_data=binary)
        inputs.append(tensor)
    return inputs


def test_tritonclient_health_and_metadata(triton):
    _, client = triton
    assert client.is_server_live() and client.is_server_ready()  # open: no token
    assert client.get_server_metadata(headers=AUTH)["name"] == "mlops-nb"
    assert client.is_model_ready("churn", headers=AUTH)
    assert client.is_model_ready("churn", model_version="1", headers=AUTH)
    assert not client.is_model_ready("churn", model_version="2", headers=AUTH)
    assert not client.is_model_ready("churn")  # 401 without the token
    meta = client.get_model_metadata("churn", headers=AUTH)
    assert meta["name"] == "churn" and meta["versions"] == ["1"]
    assert {i["name"]: i["datatype"] for i in meta["inputs"]} == DATATYPES
    assert meta["outputs"] == [
        {"name": "predictions", "datatype": "INT64", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]},
    ]


def test_tritonclient_infer_predicts_what_predict_does(triton, client, serving_project):
    http, triton_client = triton
    frame = serving_project.frame.dropna().iloc[:ROWS]
    records = json.loads(frame.to_json(orient="records"))
    expected = predict(client, records).json()
    result = triton_client.infer(
        "churn", triton_inputs(http, frame), headers=AUTH, request_id="triton-1"
    )
    assert result.get_response()["id"] == "triton-1"
    assert result.as_numpy("predictions").tolist() == expected["predictions"]
    np.testing.assert_allclose(
        result.as_numpy("probabilities"),
        [[row["0"], row["1"]] for row in expected["probabilities"]],
        rtol=1e-9,
    )
    only = triton_client.infer(
        "churn",
        triton_inputs(http, frame.iloc[:2]),
        model_version="1",
        outputs=[http.InferRequestedOutput("predictions")],
        headers=AUTH,
    )
    assert only.as_numpy("predictions").tolist() == expected["predictions"][:2]
    assert only.as_numpy("probabilities") is None


def test_tritonclient_sees_the_contract_refusal_and_the_token_check(triton, client, complete):
    http, triton_client = triton
    from tritonclient.utils import InferenceServerException

    records = BROKEN["outside checks"](complete)
    detail = predict(client, records).json()["detail"]
    frame = pd.DataFrame(records)
    with pytest.raises(InferenceServerException) as refused:
        triton_client.infer("churn", triton_inputs(http, frame), headers=AUTH)
    assert (refused.value.status(), refused.value.message()) == ("422", detail)
    with pytest.raises(InferenceServerException) as unauthorized:
        triton_client.infer("churn", triton_inputs(http, frame))
    assert unauthorized.value.status() == "401"
    assert unauthorized.value.message().startswith("missing or wrong bearer token")


def test_tritonclient_binary_tensors_get_a_400_that_says_how_to_send_json(triton, complete):
    """Triton's binary tensor extension (the client's default) is not served; GET /v2 lists none."""
    http, client = triton
    from tritonclient.utils import InferenceServerException

    assert client.get_server_metadata(headers=AUTH)["extensions"] == []
    with pytest.raises(InferenceServerException) as refused:
        client.infer("churn", triton_inputs(http, pd.DataFrame([complete]), True), headers=AUTH)
    assert refused.value.status() == "400"
    assert "binary_data=False" in refused.value.message()


# --- OpenAPI: the bearer scheme -----------------------------------------------------------------


GUARDED = [
    ("/predict", "post"),
    ("/metadata", "get"),
    ("/invocations", "post"),
    ("/v2", "get"),
    ("/v2/models/{name}", "get"),
    ("/v2/models/{name}/infer", "post"),
    ("/v2/models/{name}/versions/{version}/infer", "post"),
]
OPEN = [("/health", "get"), ("/v2/health/live", "get"), ("/v2/health/ready", "get")]


def test_openapi_declares_the_bearer_scheme_on_guarded_operations_only(client, server):
    assert httpx.get(f"{server.url}/openapi.json").status_code == 401  # the document too
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"] == {
        "bearer": {"type": "http", "scheme": "bearer"}
    }
    paths = document["paths"]
    for path, method in GUARDED:
        operation = paths[path][method]
        assert operation["security"] == [{"bearer": []}], path
        assert "401" in operation["responses"], path
    for path, method in OPEN:
        operation = paths[path][method]
        assert "security" not in operation and "401" not in operation["responses"], path
        assert httpx.get(f"{server.url}{path}").status_code == 200, path
    metrics = paths["/metrics"]["get"]  # open unless --metrics-token
    assert "security" not in metrics and "401" not in metrics["responses"]
    secured = {
        path
        for path, operations in paths.items()
        for operation in operations.values()
        if "security" in operation
    }
    assert secured == set(paths) - {path for path, _ in OPEN} - {"/metrics"}  # all the others
