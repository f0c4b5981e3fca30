"""Request and response bodies of the model server: size limits, strict JSON, refusals.

* :func:`read_body` refuses a body over the limit with 413, from its
  ``Content-Length`` *and* by counting the bytes actually received, so a
  chunked body or a wrong header cannot get past it.
* :func:`parse_json` accepts standard JSON only: ``NaN``, ``Infinity`` and
  numbers beyond the float range are refused (400), as is nesting deep
  enough to exhaust the parser (MLflow's ``/invocations`` reads ``NaN`` as
  null: see ``mlflow_payloads``).
* :class:`ApiError` is a refused request; the app renders it as
  ``{"detail": ..., "errors": [...]}`` with its status.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

__all__ = ["RECORDS_SHAPE", "ApiError", "json_response", "parse_json", "read_body"]


class ApiError(Exception):
    """A request refused with ``status``; rendered as ``{"detail": ..., "errors": [...]}``."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: list[dict[str, Any]] | None = None,
        *,
        error_count: int | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors
        self.error_count, self.close = error_count, close

    def response(self) -> Response:
        body: dict[str, Any] = {"detail": self.detail}
        if self.errors is not None:
            body["errors"] = self.errors
            body["error_count"] = self.error_count
        headers = {"Connection": "close"} if self.close else None
        return json_response(body, self.status, headers)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``body`` as compact, ASCII-only JSON (any text, even lone surrogates, is safe)."""
    content = json.dumps(body, allow_nan=False, separators=(",", ":")).encode("ascii")
    return Response(content, status, headers, media_type="application/json")


def _limit_text(limit: int) -> str:
    return f"{limit:,} bytes"


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ApiError(400, f"Content-Length {declared[:40]!r} is not a number.", close=True)
        if int(declared) > limit:
            raise ApiError(
                413,
                f"request body of {int(declared):,} bytes is over the limit of "
                f"{_limit_text(limit)}; send fewer records per request.",
                close=True,
            )
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise ApiError(
                    413,
                    f"request body is over the limit of {_limit_text(limit)}; send fewer "
                    f"records per request.",
                    close=True,
                )
    except ClientDisconnect as exc:
        raise ApiError(400, "the client went away before sending the whole body.") from exc
    return bytes(body)


# The two hooks of json.loads below raise ValueError, as json's own errors are:
# parse_json turns every ValueError into a 400 ApiError, so none reaches a client.


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON; send null for a missing value")


def _nan_as_null(name: str) -> Any:
    if name == "NaN":
        return None
    return _refuse_constant(name)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of the float range")
    return value


RECORDS_SHAPE = '{"records": [{...}, ...]}'
"""What ``/predict`` takes, as error messages show it."""


def parse_json(body: bytes, shape: str = RECORDS_SHAPE, *, nan_is_null: bool = False) -> Any:
    """Parse a request body as standard JSON, or raise :class:`ApiError` 400 saying why.

    ``shape`` is the body the endpoint takes, as the errors show it;
    ``nan_is_null`` reads a bare ``NaN`` as null (a missing value), as
    MLflow's clients write one (``Infinity`` is refused all the same).
    """
    if not body.strip():
        raise ApiError(400, f"request body is empty; send JSON: {shape}.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"request body is not UTF-8 text: {exc}.") from exc
    try:
        constant = _nan_as_null if nan_is_null else _refuse_constant
        return json.loads(text, parse_constant=constant, parse_float=_finite)
    except RecursionError as exc:
        raise ApiError(400, "request body is not usable JSON: nested too deeply.") from exc
    except ValueError as exc:
        raise ApiError(
            400,
            f"request body is not valid JSON ({exc}); send {shape} "
            f"with Content-Type: application/json.",
        ) from exc
