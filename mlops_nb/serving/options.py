"""What a model server is started with: its limits, token variable and default address.

A leaf module (it imports only the error classes), so that the HTTP app, the
server, the bundle's Dockerfile and README and the CLI share these names
without importing one another.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from mlops_nb.errors import ServingError

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "MAX_BODY_BYTES",
    "MAX_ROWS",
    "TOKEN_ENV",
    "ServeOptions",
    "check_limit",
    "resolve_token",
]

TOKEN_ENV = "MLOPS_NB_TOKEN"
"""The environment variable holding the bearer token."""
MAX_BODY_BYTES = 1_048_576
MAX_ROWS = 10_000
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def check_limit(name: str, value: object) -> int:
    """``value`` if it is a whole number of at least 1, else :class:`ServingError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ServingError(f"{name}={value!r} must be a whole number of at least 1.")
    return value


def resolve_token(token: str | None) -> str | None:
    """``token``, else ``$MLOPS_NB_TOKEN``; an empty token means none."""
    value = token if token is not None else os.environ.get(TOKEN_ENV)
    return value or None


@dataclass(frozen=True)
class ServeOptions:
    """How the application serves a model (the options of ``create_app`` and ``serve``).

    Attributes:
        max_body_bytes: Largest request body accepted (413 beyond).
        max_rows: Most records per request (413 beyond).
        log_predictions: Append every prediction to the inference log.
        model_process: Score in a worker process; False: on a thread of the server.
        bundle: The model reference is a deployment bundle's folder.
    """

    max_body_bytes: int = MAX_BODY_BYTES
    max_rows: int = MAX_ROWS
    log_predictions: bool = True
    model_process: bool = True
    bundle: bool = False

    def limits(self) -> tuple[int, int]:
        """``(max_body_bytes, max_rows)``, checked.

        Raises:
            ServingError: A limit that is not a whole number of at least 1.
        """
        return check_limit("max_body_bytes", self.max_body_bytes), check_limit(
            "max_rows", self.max_rows
        )
