"""The model server as a FastAPI application: ``create_app("churn@production")``.

Endpoints:

* ``POST /predict`` takes ``{"records": [{column: value, ...}, ...]}`` (a JSON
  object whose only key is ``records``, a non-empty list of objects with
  exactly the signature's columns; row numbers in errors are 0-based
  positions in that list). It answers ``{"model", "version", "request_id",
  "predictions": [...], "probabilities": [{class: p}, ...]}`` (classifiers
  only for ``probabilities``). Errors: 400 not JSON, 413 over the byte limit,
  422 a body breaking the declared schema (more records than ``maxItems``
  included) or records breaking the contract, each failure listed as
  ``{"row", "column", "check", "value"}``; 503 with ``Retry-After`` when the
  model worker died while scoring (a new one is starting). The limits are
  derived from the signature so that the schema and they agree (``limits``).
* ``GET /health``: ``{"status": "ok", "model", "version"}``; never needs a token.
* ``GET /metadata``: name, version, task, target, signature, metrics, lineage.
* ``POST /invocations`` (MLflow's scoring protocol), the Open Inference
  Protocol's ``/v2/...`` routes and ``GET /metrics`` (Prometheus): see
  ``protocols``. Every scoring route checks, batches, scores and logs its
  rows the same way (``scoring_path``).

Every answered prediction is appended to the inference log (see
``inference_log``). A set token (``MLOPS_NB_TOKEN``) protects every path but
the health checks (/health, /v2/health/live, /v2/health/ready) and, unless
``metrics_token``, /metrics; /docs and /openapi.json included. The OpenAPI
document then declares the bearer scheme, so /docs has an Authorize button.
Unexpected errors answer 500 with a generic message and a reference; the
detail goes to the server log only. Optionally, each request is written to
the access log (``access_log``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from mlops_nb.config import Settings
from mlops_nb.errors import ModelWorkerError
from mlops_nb.serving.http.access_log import AccessLog
from mlops_nb.serving.http.auth import OPEN_PATHS, BearerAuth
from mlops_nb.serving.http.body import ApiError, json_response, parse_json, read_body
from mlops_nb.serving.http.metrics import Finished, RequestObserver, ServerMetrics, route_of
from mlops_nb.serving.http.payloads import (
    ErrorResponse,
    HealthResponse,
    MetadataResponse,
    PredictResponse,
)
from mlops_nb.serving.http.protocols import add_protocol_routes
from mlops_nb.serving.http.scoring_path import (
    OFFLOAD_ROWS,
    RETRY_AFTER_SECONDS,
    score_records,
    unavailable_detail,
)
from mlops_nb.serving.http.state import ServingState, open_state
from mlops_nb.serving.options import MAX_ROWS, MAX_TEXT_CHARS, ServeOptions, resolve_token

__all__ = ["OFFLOAD_ROWS", "RETRY_AFTER_SECONDS", "app_for", "create_app"]

logger = logging.getLogger("mlops_nb.serving.app")  # its name before the http/ split

METRICS_PATH = "/metrics"
BEARER = {"bearer": {"type": "http", "scheme": "bearer"}}


UNAUTHORIZED = {
    "description": "Missing or wrong bearer token",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
}
"""The 401 every guarded operation declares: the bearer check answers it before any route."""


def _openapi(
    app: FastAPI,
    state: ServingState,
    secured: bool,
    open_paths: frozenset[str],
    protocol_schemas: dict[str, Any],
) -> dict[str, Any]:
    """The OpenAPI document, with the request body schemas made from the signature.

    With a token, every operation but those of ``open_paths`` declares the
    bearer scheme (and its 401); without one, none does, as the server then
    never answers 401.
    """
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = document.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        schemas["InputRecord"] = state.record_schema
        schemas["PredictRequest"] = {
            "title": "PredictRequest",
            "type": "object",
            "properties": {
                "records": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/InputRecord"},
                    "minItems": 1,
                    "maxItems": state.max_rows,
                }
            },
            "required": ["records"],
            "additionalProperties": False,
            "x-max-body-bytes": state.max_body_bytes,
        }
        schemas.update(protocol_schemas)
        if secured:
            components["securitySchemes"] = BEARER
        for path, operations in document["paths"].items():
            for operation in operations.values():
                if not secured or path in open_paths:
                    operation["responses"].pop("401", None)
                else:
                    operation["security"] = [{"bearer": []}]
                    operation["responses"].setdefault("401", UNAUTHORIZED)
        app.openapi_schema = document
    return app.openapi_schema


def _routes(app: FastAPI, state: ServingState, metrics: ServerMetrics) -> dict[str, Any]:
    """Add every route; return the protocols' request schemas (for the document)."""
    body = {"$ref": "#/components/schemas/PredictRequest"}
    errors: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorResponse, "description": text}
        for code, text in [
            (400, "Not JSON, not UTF-8, or a body cut short"),
            (401, "Missing or wrong bearer token"),
            (413, f"A body over {state.max_body_bytes:,} bytes"),
            (
                422,
                f"Breaks the schema or the contract: more than {state.max_rows:,} records, "
                "unknown or missing keys, wrong types, values outside their checks; errors "
                "lists each failing row, column and check",
            ),
            (503, f"The model worker died while scoring; retry after {RETRY_AFTER_SECONDS} s"),
        ]
    }
    errors[503]["headers"] = {
        "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
    }

    @app.post(
        "/predict",
        response_model=PredictResponse,
        responses=errors,
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}}
        },
        summary="Predict for a list of records",
    )
    async def predict(request: Request) -> Response:
        records = state.records(parse_json(await read_body(request, state.max_body_bytes)))
        request_id, scores = await score_records(state, metrics, request, records)
        answer = {
            "model": state.scorer.name,
            "version": state.scorer.version,
            "request_id": request_id,
            **scores,
        }
        return json_response(answer, headers={"X-Request-ID": request_id})

    @app.get("/health", response_model=HealthResponse, summary="Liveness and the served version")
    async def health() -> Response:
        return json_response(
            {"status": "ok", "model": state.scorer.name, "version": state.scorer.version}
        )

    @app.get(
        "/metadata",
        response_model=MetadataResponse,
        responses={401: errors[401]},
        summary="The served version: signature, metrics, lineage",
    )
    async def metadata() -> Response:
        return json_response(state.metadata())

    return add_protocol_routes(app, state, metrics, errors)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _unavailable(request: Request, exc: Exception) -> Response:
    logger.warning("503 on %s %s: %s", request.method, request.url.path, exc)
    return json_response(
        {"detail": unavailable_detail(exc)},
        503,
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _internal(request: Request, exc: Exception) -> Response:
    reference = uuid.uuid4().hex[:12]
    logger.error(
        "error %s on %s %s",
        reference,
        request.method,
        request.url.path,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return json_response(
        {
            "detail": f"internal server error (reference {reference}); the server log has "
            f"the details."
        },
        500,
    )


def create_app(
    model_ref: str,
    settings: Settings | None = None,
    *,
    token: str | None = None,
    max_body_bytes: int | None = None,
    max_rows: int = MAX_ROWS,
    max_text_chars: int = MAX_TEXT_CHARS,
    log_predictions: bool = True,
    model_process: bool = True,
    bundle: bool = False,
    access_log: str = "off",
    metrics_token: bool = False,
) -> FastAPI:
    """Build the server application for a registered model.

    Args:
        model_ref: ``NAME@ALIAS``, ``NAME:VERSION`` or ``NAME`` (latest version).
        settings: The project (default: found from the current folder).
        token: Bearer token required on every path but /health (default:
            ``$MLOPS_NB_TOKEN``; empty or unset: no token).
        max_body_bytes: Largest request body accepted (413 beyond); default:
            derived from ``max_rows`` and the signature (see ``limits``).
        max_rows: Most records per request (422 beyond).
        max_text_chars: Longest text in a string column without a length rule.
        log_predictions: Append every prediction to ``outputs/inference/<name>.db``.
        model_process: Score in a worker process (see ``worker``), so that HTTP
            and scoring use two cores; False scores on a thread of this process.
        bundle: ``model_ref`` is a deployment bundle's folder (or its ``model/``
            folder) rather than a registry reference; the inference log then goes
            to ``$MLOPS_NB_OUTPUTS/inference`` (default ``./outputs/inference``)
            unless ``settings`` is given.
        access_log: ``off``, ``text`` or ``json``: one line per request on the
            ``mlops_nb.serving.access`` logger (see ``access_log``).
        metrics_token: /metrics needs the token too (by default it is open,
            like the health checks: it holds counts and timings, no data).

    Raises:
        ModelNotFoundError: Unknown model, version or alias.
        RegistryError: A package that fails verification.
        ServingError: A bad limit or access log format, or a signature the
            server cannot check.
    """
    options = ServeOptions(
        max_body_bytes=max_body_bytes,
        max_rows=max_rows,
        max_text_chars=max_text_chars,
        log_predictions=log_predictions,
        model_process=model_process,
        bundle=bundle,
        access_log=access_log,
        metrics_token=metrics_token,
    )
    return app_for(model_ref, settings, options, resolve_token(token))


def app_for(
    model_ref: str, settings: Settings | None, options: ServeOptions, token: str | None
) -> FastAPI:
    """The application serving ``model_ref`` with ``options``; ``token`` None: no token."""
    state = open_state(model_ref, settings, options)
    scorer = state.scorer

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(state.close)

    app = FastAPI(
        title=f"{scorer.name} model server",
        version=str(scorer.version),
        description=f"Serves {scorer.loaded.version.ref} ({scorer.loaded.version.task}, "
        f"target {scorer.loaded.version.target!r}) from the mlops-nb registry.",
        lifespan=lifespan,
    )
    worker = state.worker
    metrics = ServerMetrics(
        scorer.name, scorer.version, lambda: 0 if worker is None else worker.restarts
    )
    state.batcher.observer = metrics.observe_batch
    app.state.serving, app.state.metrics = state, metrics
    schemas = _routes(app, state, metrics)
    open_paths = OPEN_PATHS if options.metrics_token else OPEN_PATHS | {METRICS_PATH}
    secured = token is not None
    app.openapi = lambda: _openapi(  # type: ignore[method-assign]
        app, state, secured, open_paths, schemas
    )
    app.add_exception_handler(ApiError, _refused)
    app.add_exception_handler(ModelWorkerError, _unavailable)
    app.add_exception_handler(Exception, _internal)
    if token is not None:
        app.add_middleware(BearerAuth, token=token, open_paths=open_paths)

    def count(scope: Any, status: int, seconds: float) -> None:
        metrics.observe(route_of(scope, app.router.routes), scope["method"], status, seconds)

    finished: list[Finished] = [count]
    if options.access_log != "off":
        finished.append(AccessLog(options.access_log))
    app.add_middleware(RequestObserver, finished=finished)  # outermost: 401s are counted too
    return app
