"""The routes of the other serving protocols: MLflow's ``/invocations``, KServe v2, ``/metrics``.

* ``POST /invocations``: MLflow's scoring protocol (see ``mlflow_payloads``),
  answered as MLflow's scoring server does: ``{"predictions": [...]}``.
* The Open Inference Protocol (KServe v2, see ``v2_payloads``): ``GET /v2``,
  ``GET /v2/health/live``, ``GET /v2/health/ready``, and for the served model
  (optionally under ``/versions/{version}``) ``GET /v2/models/{name}``,
  ``GET /v2/models/{name}/ready`` and ``POST /v2/models/{name}/infer``. Its
  errors carry the protocol's ``{"error": "..."}`` (with ``detail`` and, for
  the contract, ``errors`` as ``/predict`` has them); another model name or
  version is 404. Tensors are JSON: a body in Triton's binary tensor
  extension (``GET /v2`` lists no extension) is a 400 saying so.
* ``GET /metrics``: Prometheus' text format (see ``metrics``).

Every scoring route goes through ``scoring_path.score_records``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import PlainTextResponse, Response

from mlops_nb.errors import ModelWorkerError
from mlops_nb.serving.http.body import ApiError, json_response, parse_json, read_body
from mlops_nb.serving.http.metrics import CONTENT_TYPE, ServerMetrics
from mlops_nb.serving.http.mlflow_payloads import CSV, JSON, MLFLOW_FORMATS, mlflow_records
from mlops_nb.serving.http.scoring_path import (
    RETRY_AFTER_SECONDS,
    score_records,
    unavailable_detail,
)
from mlops_nb.serving.http.state import ServingState
from mlops_nb.serving.http.v2_payloads import (
    DATATYPES,
    infer_records,
    infer_response,
    label_datatype,
    model_metadata,
)

__all__ = ["V2_SHAPE", "add_protocol_routes"]

V2_SHAPE = '{"inputs": [{"name", "shape", "datatype", "data"}, ...]}'
BINARY_HEADER = "inference-header-content-length"
"""Marks a body in Triton's binary tensor extension (``tritonclient``'s default), not served."""
BINARY_DETAIL = (
    "binary tensor data (Triton's extension, marked by Inference-Header-Content-Length) is not "
    f"supported; send JSON tensors {V2_SHAPE} (tritonclient: "
    "set_data_from_numpy(..., binary_data=False))."
)

Errors = dict[int | str, dict[str, Any]]


def _v2_error(status: int, detail: str, extra: dict[str, Any] | None = None) -> Response:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return json_response({"error": detail, "detail": detail, **(extra or {})}, status, headers)


async def _v2(call: Callable[[], Awaitable[Response]]) -> Response:
    """``call()``, its refusals answered in the protocol's ``{"error": ...}`` shape."""
    try:
        return await call()
    except ApiError as exc:
        extra = {}
        if exc.errors is not None:
            extra = {"errors": exc.errors, "error_count": exc.error_count}
        response = _v2_error(exc.status, exc.detail, extra)
        if exc.close:
            response.headers["Connection"] = "close"
        return response
    except ModelWorkerError as exc:
        return _v2_error(503, unavailable_detail(exc))


def _schemas(state: ServingState) -> dict[str, Any]:
    """Request body schemas of /invocations and /v2 infer (added to the document's components)."""
    records = {
        "type": "array",
        "items": {"$ref": "#/components/schemas/InputRecord"},
        "minItems": 1,
        "maxItems": state.max_rows,
    }
    names = list(state.scorer.checker.names)
    split = {
        "type": "object",
        "description": "pandas' orient='split': column names, then one list of values per row "
        "(in the order of columns, which may be any order of the signature's columns).",
        "properties": {
            "columns": {"type": "array", "items": {"type": "string", "enum": names}},
            "data": {"type": "array", "items": {"type": "array"}, "minItems": 1},
            "index": {"type": "array"},
        },
        "required": ["columns", "data"],
        "additionalProperties": False,
    }
    columns = {
        "type": "object",
        "description": "An object of columns: {column: [values...]}, all of one length.",
        "additionalProperties": {"type": "array"},
    }
    one_of = [
        {
            "type": "object",
            "properties": {name: shape},
            "required": [name],
            "additionalProperties": False,
        }
        for name, shape in (
            ("dataframe_split", split),
            ("dataframe_records", records),
            ("instances", {"oneOf": [records, columns]}),
            ("inputs", {"oneOf": [records, columns]}),
        )
    ]
    tensor = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "enum": names},
            "shape": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1},
                "minItems": 1,
                "maxItems": 2,
            },
            "datatype": {"type": "string", "enum": sorted(DATATYPES)},
            "data": {"type": "array", "minItems": 1},
            "parameters": {"type": "object"},
        },
        "required": ["name", "shape", "datatype", "data"],
        "additionalProperties": False,
    }
    infer = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "inputs": {"type": "array", "items": tensor, "minItems": 1},
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}},
                    "required": ["name"],
                },
            },
        },
        "required": ["inputs"],
        "additionalProperties": False,
    }
    return {"InvocationsRequest": {"oneOf": one_of}, "InferRequest": infer}


def add_protocol_routes(
    app: FastAPI, state: ServingState, metrics: ServerMetrics, errors: Errors
) -> dict[str, Any]:
    """Add the routes to ``app``; return the request schemas for the document's components."""
    scorer = state.scorer
    name, version = scorer.name, scorer.version
    kinds = {rule.name: rule.kind for rule in scorer.checker.rules}
    label_type = label_datatype(scorer.classes, scorer.probabilistic)
    not_json = {**errors[400], "description": "Not JSON or not CSV, or a body cut short"}

    @app.post(
        "/invocations",
        responses={
            **errors,
            400: not_json,
            415: {**errors[400], "description": f"Neither {JSON} nor {CSV}"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    JSON: {"schema": {"$ref": "#/components/schemas/InvocationsRequest"}},
                    CSV: {"schema": {"type": "string", "minLength": 1}},
                },
            },
            "responses": {
                "200": {
                    "description": "One prediction per row, in order",
                    "content": {
                        JSON: {
                            "schema": {
                                "type": "object",
                                "properties": {"predictions": {"type": "array"}},
                                "required": ["predictions"],
                            }
                        }
                    },
                }
            },
        },
        summary="Predict, in MLflow's scoring protocol",
        description=f"Takes exactly one of {', '.join(MLFLOW_FORMATS)} as JSON, or a CSV "
        'body; answers {"predictions": [...]} like `mlflow models serve`.',
    )
    async def invocations(request: Request) -> Response:
        body = await read_body(request, state.max_body_bytes)
        records = mlflow_records(body, request.headers.get("content-type"), kinds)
        request_id, answer = await score_records(
            state, metrics, request, state.bounded(records, "the payload")
        )
        return json_response(
            {"predictions": answer["predictions"]}, headers={"X-Request-ID": request_id}
        )

    v2_errors: Errors = {
        code: {
            "description": text,
            "content": {
                JSON: {
                    "schema": {
                        "type": "object",
                        "properties": {"error": {"type": "string"}},
                        "required": ["error"],
                    }
                }
            },
        }
        for code, text in [
            (400, "Not JSON, or not an inference request of the protocol"),
            (404, f"Another model than {name} (version {version})"),
            (413, errors[413]["description"]),
            (422, errors[422]["description"]),
            (503, errors[503]["description"]),
        ]
    }
    v2_errors[503]["headers"] = errors[503]["headers"]
    v2_errors[401] = errors[401]  # the bearer check answers before any protocol: its own body
    path_params = [
        {
            "name": "name",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "enum": [name]},
        }
    ]
    version_params = [
        *path_params,
        {
            "name": "version",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "enum": [str(version)]},
        },
    ]

    def served(model: str, number: str | None) -> None:
        if model != name or (number is not None and number != str(version)):
            asked = model if number is None else f"{model} version {number}"
            raise ApiError(
                404,
                f"model {asked!r} is not served here; this server serves {name} version {version}.",
            )

    @app.get("/v2", summary="Open Inference Protocol: the server", tags=["v2"])
    async def v2_server() -> Response:
        from mlops_nb import __version__

        return json_response({"name": "mlops-nb", "version": __version__, "extensions": []})

    @app.get("/v2/health/live", summary="Open Inference Protocol: liveness", tags=["v2"])
    async def v2_live() -> Response:
        return json_response({"live": True})

    @app.get("/v2/health/ready", summary="Open Inference Protocol: readiness", tags=["v2"])
    async def v2_ready() -> Response:
        return json_response({"ready": True})

    async def metadata(_: Request, model: str, number: str | None) -> Response:
        served(model, number)
        return json_response(
            model_metadata(
                name, version, scorer.checker.rules, scorer.classes, scorer.probabilistic
            )
        )

    async def ready(_: Request, model: str, number: str | None) -> Response:
        served(model, number)
        return json_response({"name": name, "ready": True})

    async def infer(request: Request, model: str, number: str | None) -> Response:
        served(model, number)
        if BINARY_HEADER in request.headers:
            raise ApiError(400, BINARY_DETAIL)
        payload = parse_json(await read_body(request, state.max_body_bytes), V2_SHAPE)
        asked = infer_records(payload, scorer.probabilistic)
        request_id, answer = await score_records(
            state, metrics, request, state.bounded(asked.records, '"inputs"')
        )
        body = infer_response(asked, name, version, answer, scorer.labels, label_type, request_id)
        return json_response(body, headers={"X-Request-ID": request_id})

    def endpoint(
        action: Callable[[Request, str, str | None], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        """A route calling ``action(request, name, version)``, answering in the v2 shape."""

        async def call(request: Request) -> Response:
            model, number = request.path_params["name"], request.path_params.get("version")
            return await _v2(lambda: action(request, model, number))

        return call

    for prefix, params in (
        ("/v2/models/{name}", path_params),
        ("/v2/models/{name}/versions/{version}", version_params),
    ):
        described: dict[str, Any] = {"parameters": params}
        app.add_api_route(
            prefix,
            endpoint(metadata),
            methods=["GET"],
            summary="Open Inference Protocol: model metadata",
            responses={404: v2_errors[404], 401: v2_errors[401]},
            openapi_extra=described,
            tags=["v2"],
        )
        app.add_api_route(
            f"{prefix}/ready",
            endpoint(ready),
            methods=["GET"],
            summary="Open Inference Protocol: model readiness",
            responses={404: v2_errors[404], 401: v2_errors[401]},
            openapi_extra=described,
            tags=["v2"],
        )
        app.add_api_route(
            f"{prefix}/infer",
            endpoint(infer),
            methods=["POST"],
            summary="Open Inference Protocol: infer",
            responses=v2_errors,
            openapi_extra={
                **described,
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": {"$ref": "#/components/schemas/InferRequest"}}},
                },
            },
            tags=["v2"],
        )

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        summary="Prometheus metrics",
        responses={
            200: {
                "content": {"text/plain": {"schema": {"type": "string"}}},
                "description": "Prometheus' text format",
            },
            401: errors[401],
        },
    )
    async def prometheus() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    return _schemas(state)
