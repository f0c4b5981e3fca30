"""The access log of the model server: one line per request, as text or as a JSON object.

Turned on with ``mlops-nb serve --access-log json`` (or ``text``), or
``ServeOptions(access_log=...)``; off by default. Lines go to the
``mlops_nb.serving.access`` logger, which writes them to stderr as they are
when nothing else handles it. A JSON line holds::

    {"time": "2026-12-03T09:00:00.123Z", "method": "POST", "path": "/predict",
     "status": 200, "duration_ms": 3.21, "rows": 25, "request_id": "9f...",
     "client": "127.0.0.1:53122"}

``rows`` and ``request_id`` are null when the request scored nothing. The
path is logged without its query string, and neither the body nor any header
(the token included) is ever logged.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from starlette.types import Scope

from mlops_nb.serving.http.metrics import request_notes

__all__ = ["ACCESS_LOGGER", "AccessLog", "access_fields"]

ACCESS_LOGGER = "mlops_nb.serving.access"
logger = logging.getLogger(ACCESS_LOGGER)


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    if not client:
        return None
    host, port = client[0], client[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def access_fields(scope: Scope, status: int, seconds: float) -> dict[str, Any]:
    """What the access log says of one request."""
    notes = request_notes(scope)
    return {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "method": scope.get("method"),
        "path": scope.get("path"),
        "status": status,
        "duration_ms": round(seconds * 1000, 3),
        "rows": notes.get("rows"),
        "request_id": notes.get("request_id"),
        "client": _client(scope),
    }


def _text(fields: dict[str, Any]) -> str:
    words = [
        fields["time"],
        fields["client"] or "-",
        f'"{fields["method"]} {fields["path"]}"',
        str(fields["status"]),
        f"{fields['duration_ms']:.1f}ms",
    ]
    if fields["rows"] is not None:
        words.append(f"rows={fields['rows']}")
    if fields["request_id"] is not None:
        words.append(f"request_id={fields['request_id']}")
    return " ".join(words)


def _ensure_handler() -> None:
    """Write the lines to stderr, unformatted, unless the logger already has a handler."""
    if logger.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # a JSON line must not be wrapped by another formatter


class AccessLog:
    """Writes one access log line per request, as ``text`` or ``json``."""

    def __init__(self, form: str) -> None:
        self.form = form
        _ensure_handler()

    def __call__(self, scope: Scope, status: int, seconds: float) -> None:
        fields = access_fields(scope, status, seconds)
        if self.form == "json":
            line = json.dumps(fields, ensure_ascii=True, separators=(",", ":"))
        else:
            line = _text(fields)
        logger.info(line)
