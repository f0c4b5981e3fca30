"""Reaching an MLflow tracking store: the optional import, the client, and the shared names.

MLflow is the optional extra ``[mlflow]``: it is imported only when a bridge
command runs, and its absence is an :class:`~mlops_nb.errors.InteropError`
naming the install command. A tracking URI is checked before anything is
written (an HTTP server must answer its health route, a SQLite file's folder
must exist), so an unreachable store fails in seconds with one message.

The tags below are how each side finds what it wrote on the other, so that
exporting or importing twice changes nothing the second time.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from mlops_nb.errors import InteropError

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "INSTALL",
    "MLFLOW_STATUS",
    "ORIGIN_RUN_TAG",
    "ORIGIN_URI_TAG",
    "OUR_MODEL_TAG",
    "OUR_RUN_TAG",
    "client_for",
    "display_uri",
    "import_mlflow",
    "quiet",
    "sqlite_path",
]

INSTALL = "pip install 'mlops-nb[mlflow]'"
OUR_RUN_TAG = "mlops_nb.run_id"
"""On an MLflow run: the id of the mlops-nb pipeline run it was exported from."""
OUR_MODEL_TAG = "mlops_nb.model_version"
"""On an MLflow run and model version: the registry version (``NAME:VERSION``) exported."""
ORIGIN_RUN_TAG = "origin.mlflow_run_id"
"""On an mlops-nb tracking run: the MLflow run it was imported from."""
ORIGIN_URI_TAG = "origin.mlflow_tracking_uri"
"""On an mlops-nb tracking run: the tracking URI it was imported from (without a password)."""
MLFLOW_STATUS = {"succeeded": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
"""A pipeline run's final status → the MLflow run status."""
HEALTH_TIMEOUT = 10.0


def import_mlflow() -> ModuleType:
    """The ``mlflow`` module, or an InteropError saying how to install it."""
    try:
        import mlflow
    except ImportError as exc:
        raise InteropError(
            f"MLflow is not installed in this environment ({sys.prefix}); install the "
            f"extra with {INSTALL} and run the command again",
        ) from exc
    return mlflow


def display_uri(uri: str) -> str:
    """``uri`` without a password, fit for messages and tags."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.username else "***@"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}{host}{port}"))


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///PATH`` tracking URI (None for other URIs)."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///")).expanduser()


def client_for(uri: str, *, must_exist: bool) -> MlflowClient:
    """An MLflow client of ``uri`` (tracking and registry), once the store is reachable.

    Args:
        uri: The tracking URI: ``sqlite:///PATH``, ``http(s)://HOST``, a database URL.
        must_exist: Refuse a SQLite file that does not exist yet (importing reads a
            store; exporting may create one).

    Raises:
        InteropError: MLflow is not installed, or the store cannot be reached.
    """
    if not isinstance(uri, str) or not uri.strip():
        raise InteropError(
            "no MLflow tracking URI given; pass --tracking-uri, e.g. sqlite:///mlflow.db "
            "or http://localhost:5000"
        )
    shown = display_uri(uri)
    database = sqlite_path(uri)
    if database is not None:
        if must_exist and not database.is_file():
            raise InteropError(
                f"no MLflow store at {shown}: {database} does not exist; check the path "
                f"(sqlite:/// and an absolute path has four slashes)",
                uri=shown,
            )
        if not database.parent.is_dir():
            raise InteropError(
                f"cannot create the MLflow store {shown}: the folder {database.parent} does "
                f"not exist; create it or pass another --tracking-uri",
                uri=shown,
            )
    elif uri.startswith(("http://", "https://")):
        _check_server(uri, shown)
    elif "://" not in uri:
        raise InteropError(
            f"{shown!r} is not a tracking URI; write sqlite:///PATH for a database file, "
            f"http://HOST:PORT for an MLflow server, or postgresql://... for a database",
            uri=shown,
        )
    mlflow = import_mlflow()
    with quiet():
        try:
            client: MlflowClient = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
            client.search_experiments(max_results=1)
        except Exception as exc:  # MLflow raises its own and its drivers' errors
            raise InteropError(
                f"cannot open the MLflow store {shown}: {type(exc).__name__}: "
                f"{_first_line(exc)}; check --tracking-uri and that the store is reachable",
                uri=shown,
            ) from exc
    return client


def _check_server(uri: str, shown: str) -> None:
    """Refuse an MLflow server that does not answer ``/health`` (MLflow would retry minutes)."""
    import httpx

    try:
        answer = httpx.get(f"{uri.rstrip('/')}/health", timeout=HEALTH_TIMEOUT)
    except httpx.HTTPError as exc:
        raise InteropError(
            f"the MLflow server {shown} does not answer ({type(exc).__name__}: {exc}); start "
            f"it (mlflow server) or pass the right --tracking-uri",
            uri=shown,
        ) from exc
    if answer.status_code >= 400:
        raise InteropError(
            f"{shown} answered {answer.status_code} on /health: it is not a reachable MLflow "
            f"server; pass the right --tracking-uri (and credentials in MLFLOW_TRACKING_TOKEN)",
            uri=shown,
        )


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


@contextmanager
def quiet() -> Iterator[None]:
    """MLflow without its progress bars, INFO lines and advice warnings, for one block.

    The bridge passes signatures and requirements itself, so MLflow's advice
    (add an input example, add type hints) and its drivers' deprecation
    warnings are noise on the command line.
    """
    saved = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"mlflow(\.|$)")
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"sqlalchemy")
            warnings.filterwarnings("ignore", message=r".*noload.*")
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        if saved is None:
            os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
        else:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = saved
