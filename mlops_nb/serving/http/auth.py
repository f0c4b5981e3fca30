"""Bearer tokens: every path of the model server but the health checks needs the token.

The open paths are :data:`OPEN_PATHS` (``/health`` and the Open Inference
Protocol's ``/v2/health/live`` and ``/v2/health/ready``, which orchestrators
probe without secrets), plus ``/metrics`` unless the server is told to protect
it (see ``ServeOptions.metrics_token``).

A refusal answers 401 with ``{"detail": ...}``, like every error of the
server; on the Open Inference Protocol's paths the body also holds the same
text as ``error``, the key that protocol's clients (``tritonclient``) read.

:class:`BearerAuth` is ASGI middleware; it compares SHA-256 digests of the
given and the expected token in constant time, so neither the token's length
nor its content leaks through timing.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from mlops_nb.serving.http.body import json_response
from mlops_nb.serving.options import TOKEN_ENV

__all__ = ["OPEN_PATHS", "BearerAuth"]

V2_PATH = "/v2"
"""The Open Inference Protocol's root: a 401 on it or under it also carries ``{"error": ...}``."""
OPEN_PATHS = frozenset({"/health", "/v2/health/live", "/v2/health/ready"})
"""Paths that never need the token: liveness and readiness checks."""


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


class BearerAuth:
    """ASGI middleware: every HTTP path except the ``open`` ones needs the bearer ``token``.

    Args:
        app: The application to protect.
        token: The shared secret.
        open_paths: Paths served without the token (default :data:`OPEN_PATHS`).
    """

    def __init__(self, app: ASGIApp, token: str, open_paths: frozenset[str] = OPEN_PATHS) -> None:
        self.app, self.open_paths = app, open_paths
        self._digest = _digest(token.encode("utf-8"))

    def allowed(self, scope: Scope) -> bool:
        """Whether the request in ``scope`` carries the right token."""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, given = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    return hmac.compare_digest(_digest(given.strip()), self._digest)
                return False
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths or self.allowed(scope):
            await self.app(scope, receive, send)
            return
        detail = (
            "missing or wrong bearer token: send Authorization: Bearer <token> "
            f"(the server's {TOKEN_ENV})."
        )
        body = {"detail": detail}
        path = scope["path"]
        if path == V2_PATH or path.startswith(f"{V2_PATH}/"):
            body["error"] = detail  # the protocol's error shape, which its clients read
        response = json_response(body, 401, {"WWW-Authenticate": 'Bearer realm="mlops-nb"'})
        await response(scope, receive, send)
