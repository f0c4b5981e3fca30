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
    "ACCESS_LOG_FORMATS",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "MAX_ROWS",
    "MAX_TEXT_CHARS",
    "MAX_TEXT_CHARS_ENV",
    "TOKEN_ENV",
    "ServeOptions",
    "check_access_log",
    "check_limit",
    "resolve_token",
]

TOKEN_ENV = "MLOPS_NB_TOKEN"
"""The environment variable holding the bearer token."""
MAX_ROWS = 10_000
"""Most records per request."""
MAX_TEXT_CHARS = 100
"""Longest text accepted in a string column whose contract sets no length (see ``http.limits``).

The signature records no lengths seen in training, so this is a fixed default,
enough for ids and codes; a model taking free text needs it raised:
``mlops-nb serve --max-text-chars N``, or ``$MLOPS_NB_MAX_TEXT_CHARS`` (how a
deployment bundle's container is given it), or a ``str_length`` check in the
contract, which then sets that column's length instead."""
MAX_TEXT_CHARS_ENV = "MLOPS_NB_MAX_TEXT_CHARS"
"""The environment variable ``mlops-nb serve`` reads ``--max-text-chars`` from."""
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
ACCESS_LOG_FORMATS = ("off", "text", "json")
"""How the server logs each request: not at all, a line of text, or a JSON object per line."""


def check_limit(name: str, value: object) -> int:
    """``value`` if it is a whole number of at least 1, else :class:`ServingError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ServingError(f"{name}={value!r} must be a whole number of at least 1.")
    return value


def check_access_log(value: object) -> str:
    """``value`` if it is one of :data:`ACCESS_LOG_FORMATS`, else :class:`ServingError`."""
    if value not in ACCESS_LOG_FORMATS:
        raise ServingError(
            f"access_log={value!r} is not a log format; use one of {', '.join(ACCESS_LOG_FORMATS)}."
        )
    return str(value)


def resolve_token(token: str | None) -> str | None:
    """``token``, else ``$MLOPS_NB_TOKEN``; an empty token means none."""
    value = token if token is not None else os.environ.get(TOKEN_ENV)
    return value or None


@dataclass(frozen=True)
class ServeOptions:
    """How the application serves a model (the options of ``create_app`` and ``serve``).

    Attributes:
        max_body_bytes: Largest request body accepted (413 beyond); None: derived
            from the signature so that ``max_rows`` records of the largest size
            the declared schema admits always fit (see ``http.limits``).
        max_rows: Most records per request (422 beyond, as the schema's ``maxItems``).
        max_text_chars: Longest text in a string column whose contract sets no
            length (422 beyond, as the schema's ``maxLength``).
        log_predictions: Append every prediction to the inference log.
        model_process: Score in a worker process; False: on a thread of the server.
        bundle: The model reference is a deployment bundle's folder.
        access_log: ``off``, ``text`` or ``json`` (one JSON object per line on the
            ``mlops_nb.serving.access`` logger; see ``http.access_log``).
        metrics_token: ``/metrics`` needs the bearer token too; by default it is
            open like the health checks (it holds counts and timings only).
    """

    max_body_bytes: int | None = None
    max_rows: int = MAX_ROWS
    max_text_chars: int = MAX_TEXT_CHARS
    log_predictions: bool = True
    model_process: bool = True
    bundle: bool = False
    access_log: str = "off"
    metrics_token: bool = False

    def limits(self) -> tuple[int | None, int, int]:
        """``(max_body_bytes, max_rows, max_text_chars)``, checked (``max_body_bytes`` may be None).

        Raises:
            ServingError: A limit that is not a whole number of at least 1, or an
                unknown access log format.
        """
        check_access_log(self.access_log)
        body = (
            None
            if self.max_body_bytes is None
            else check_limit("max_body_bytes", self.max_body_bytes)
        )
        return (
            body,
            check_limit("max_rows", self.max_rows),
            check_limit("max_text_chars", self.max_text_chars),
        )
