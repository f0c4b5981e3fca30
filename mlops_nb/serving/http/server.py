"""Run the model server: :func:`serve` (blocking, for the CLI) or :func:`start_server`.

Both listen on loopback (127.0.0.1) by default. Binding any other address
needs a bearer token (``token=`` or ``$MLOPS_NB_TOKEN``), or
``force_insecure=True`` to accept an open server knowingly. uvicorn runs one
worker; it uses uvloop and httptools when they are installed, and the pure
Python event loop and HTTP parser otherwise.

>>> server = start_server("churn@production", settings)   # background thread, free port
>>> httpx.post(f"{server.url}/predict", json={"records": [...]}).json()
>>> server.stop()                                         # also flushes the inference log
"""

from __future__ import annotations

import gc
import logging
import socket
import threading
import time
from typing import Self

import httpx
import uvicorn
from fastapi import FastAPI

from mlops_nb.config import Settings
from mlops_nb.errors import ServingError
from mlops_nb.serving.http.app import app_for
from mlops_nb.serving.http.binding import check_bind, is_loopback, listen, url_of
from mlops_nb.serving.options import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    MAX_ROWS,
    MAX_TEXT_CHARS,
    ServeOptions,
    resolve_token,
)

__all__ = ["ServerHandle", "check_bind", "is_loopback", "serve", "start_server"]

logger = logging.getLogger("mlops_nb.serving.server")  # its name before the http/ split


def _config(
    app: FastAPI, host: str, port: int, log_level: str, own_logging: bool
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        workers=1,
        ws="none",
        lifespan="on",
        access_log=False,
        server_header=False,
        log_level=log_level,
        log_config=uvicorn.config.LOGGING_CONFIG if own_logging else None,
        timeout_graceful_shutdown=10,
    )


def _prepare(
    model_ref: str,
    settings: Settings | None,
    host: str,
    port: int,
    token: str | None,
    force_insecure: bool,
    options: ServeOptions,
) -> tuple[FastAPI, socket.socket]:
    """Check the address, listen on it, then build the app (the socket is closed on failure)."""
    secret = resolve_token(token)
    check_bind(host, secret, force_insecure)
    sock = listen(host, port)
    try:
        return app_for(model_ref, settings, options, secret), sock
    except BaseException:
        sock.close()
        raise


def serve(
    model_ref: str,
    settings: Settings | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    force_insecure: bool = False,
    max_body_bytes: int | None = None,
    max_rows: int = MAX_ROWS,
    max_text_chars: int = MAX_TEXT_CHARS,
    model_process: bool = True,
    bundle: bool = False,
    log_level: str = "info",
    access_log: str = "off",
    metrics_token: bool = False,
) -> None:
    """Serve ``model_ref`` until interrupted (Ctrl+C or SIGTERM); the inference log is flushed.

    Args:
        model_ref: ``NAME@ALIAS``, ``NAME:VERSION`` or ``NAME`` (latest version).
        settings: The project (default: found from the current folder).
        host: Address to listen on; non-loopback needs a token or ``force_insecure``.
        port: TCP port.
        token: Bearer token (default ``$MLOPS_NB_TOKEN``).
        force_insecure: Allow a non-loopback host without a token.
        max_body_bytes: Largest request body accepted (default: derived from
            ``max_rows`` and the signature, see ``limits``).
        max_rows: Most records per request.
        max_text_chars: Longest text in a string column without a length rule.
        model_process: Score in a worker process (two cores); False: on a thread.
        bundle: ``model_ref`` is a deployment bundle's folder, not a registry reference.
        log_level: uvicorn's log level.
        access_log: ``off``, ``text`` or ``json``: one line per request on
            stderr (see ``access_log``; uvicorn's own access log stays off).
        metrics_token: /metrics needs the token too (default: open, like /health).

    Raises:
        ModelNotFoundError: Unknown model, version or alias.
        ServingError: Unsafe host, port in use, bad limit.
    """
    options = ServeOptions(
        max_body_bytes=max_body_bytes,
        max_rows=max_rows,
        max_text_chars=max_text_chars,
        model_process=model_process,
        bundle=bundle,
        access_log=access_log,
        metrics_token=metrics_token,
    )
    app, sock = _prepare(model_ref, settings, host, port, token, force_insecure, options)
    server = uvicorn.Server(_config(app, host, sock.getsockname()[1], log_level, True))
    state = app.state.serving
    logger.info(
        "serving %s:%s at %s",
        state.scorer.name,
        state.scorer.version,
        url_of(host, sock.getsockname()[1]),
    )
    gc.collect()
    gc.freeze()  # a process of its own: spare every collection a scan of the loaded libraries
    try:
        server.run(sockets=[sock])
    finally:
        state.close()
        sock.close()


class ServerHandle:
    """A model server running on a background thread of this process.

    Attributes:
        url: Its base URL, e.g. ``http://127.0.0.1:53121``.
        host: The address it listens on.
        port: The port it listens on.
        model: The model name.
        version: The served version.
        app: The FastAPI application.
    """

    def __init__(
        self, app: FastAPI, server: uvicorn.Server, thread: threading.Thread, host: str, port: int
    ) -> None:
        self.app, self._server, self._thread = app, server, thread
        self.host, self.port, self.url = host, port, url_of(host, port)
        state = app.state.serving
        self.model, self.version = state.scorer.name, state.scorer.version
        self.error: BaseException | None = None

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread.is_alive()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop serving, finish the requests in flight and flush the inference log."""
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self.app.state.serving.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"ServerHandle({self.model}:{self.version} at {self.url}, {state})"


def _wait_healthy(handle: ServerHandle, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not handle.running:
                raise ServingError(
                    f"the server for {handle.model} stopped while starting: "
                    f"{handle.error!r}; see the log above.",
                ) from handle.error
            try:
                if client.get(f"{handle.url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.02)
    handle.stop()
    raise ServingError(f"the server at {handle.url} did not answer /health in {timeout:g} s.")


def start_server(
    model_ref: str,
    settings: Settings | None = None,
    host: str = DEFAULT_HOST,
    port: int = 0,
    *,
    token: str | None = None,
    force_insecure: bool = False,
    max_body_bytes: int | None = None,
    max_rows: int = MAX_ROWS,
    max_text_chars: int = MAX_TEXT_CHARS,
    log_predictions: bool = True,
    model_process: bool = True,
    bundle: bool = False,
    log_level: str = "warning",
    timeout: float = 30.0,
    access_log: str = "off",
    metrics_token: bool = False,
) -> ServerHandle:
    """Start serving ``model_ref`` on a background thread; return once /health answers.

    Arguments are those of :func:`serve`; ``port=0`` picks a free port (see
    ``handle.port``), ``log_predictions=False`` turns the inference log off, and
    ``timeout`` bounds the wait for /health.

    Raises:
        ModelNotFoundError: Unknown model, version or alias.
        ServingError: Unsafe host, port in use, bad limit, or no answer in ``timeout`` s.
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
    app, sock = _prepare(model_ref, settings, host, port, token, force_insecure, options)
    bound = sock.getsockname()[1]
    server = uvicorn.Server(_config(app, host, bound, log_level, False))
    holder: dict[str, ServerHandle] = {}

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # SystemExit on a failed startup included
            holder["handle"].error = exc
            logger.exception("model server on port %d failed", bound)
        finally:
            sock.close()

    thread = threading.Thread(target=run, name=f"mlops-nb-serve-{bound}", daemon=True)
    holder["handle"] = handle = ServerHandle(app, server, thread, host, bound)
    thread.start()
    _wait_healthy(handle, timeout)
    logger.info("serving %s:%s at %s", handle.model, handle.version, handle.url)
    return handle
