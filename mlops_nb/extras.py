"""The optional extras: which modules each one brings, and the error when one is missing.

``pip install mlops-nb`` is the core: pipelines, data, validation, modeling,
tracking, the registry and the command line. The rest is opt-in:

========  ===============================================  ======================================
extra     modules imported by mlops-nb                     needed by
========  ===============================================  ======================================
serve     fastapi, starlette, pydantic, uvicorn, httpx,    the HTTP server (``mlops-nb serve``,
          prometheus_client                                ``start_server``, ``create_app``)
lab       jupyterlab, jupyter_server, tornado, ipywidgets  JupyterLab, the run-report route, the
                                                           widgets (``mlops_nb.widgets``)
dask      dask, distributed, fsspec                        the Dask executor, partitioned datasets
s3        s3fs, fsspec                                     ``s3://`` artifact locations and data
postgres  psycopg                                          a PostgreSQL store
mlflow    mlflow, httpx                                    the MLflow bridge (``mlops_nb.interop``)
========  ===============================================  ======================================

The table is :data:`EXTRA_MODULES`; ``tests/test_dependencies.py`` checks it
against ``pyproject.toml``. :func:`guard_exports` wraps a package's lazy
``__getattr__`` so that a name whose module needs an absent extra raises
:class:`~mlops_nb.errors.MissingExtraError` naming the ``pip install`` command,
instead of a bare ``ModuleNotFoundError`` from deep inside the import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mlops_nb.errors import MissingExtraError

__all__ = ["EXTRA_MODULES", "guard_exports", "install_hint", "missing_module"]

EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "serve": ("fastapi", "starlette", "pydantic", "uvicorn", "httpx", "prometheus_client"),
    "lab": ("jupyterlab", "jupyter_server", "tornado", "ipywidgets"),
    "dask": ("dask", "distributed", "fsspec"),
    "s3": ("s3fs", "fsspec"),
    "postgres": ("psycopg",),
    "mlflow": ("mlflow", "httpx"),
}
"""Extra → the top-level modules of its packages (those mlops-nb imports or installs for)."""


def install_hint(extra: str) -> str:
    """``pip install 'mlops-nb[EXTRA]'``."""
    return f"pip install 'mlops-nb[{extra}]'"


def missing_module(exc: ModuleNotFoundError, extra: str) -> str | None:
    """The module of ``extra`` whose absence raised ``exc``; None when it is another module."""
    top = (exc.name or "").partition(".")[0]
    return top if top in EXTRA_MODULES[extra] else None


def guard_exports(
    getattr_: Callable[[str], Any], extra: str, needed_by: str, package: str
) -> Callable[[str], Any]:
    """A module ``__getattr__``: ``getattr_``, but an absent ``extra`` is our error.

    Args:
        getattr_: The package's lazy ``__getattr__`` (:func:`mlops_nb.exports.lazy_getattr`).
        extra: The extra its names may need (a key of :data:`EXTRA_MODULES`).
        needed_by: What needs it, for the message: ``"the HTTP server"``.
        package: The package, for the message: ``"mlops_nb.serving"``.

    A ``ModuleNotFoundError`` of any other module is raised unchanged: it is
    not a missing extra but a broken install, and its own message says which.
    """
    if extra not in EXTRA_MODULES:
        raise KeyError(f"unknown extra {extra!r}; known: {', '.join(EXTRA_MODULES)}")

    def __getattr__(name: str) -> Any:
        try:
            return getattr_(name)
        except ModuleNotFoundError as exc:
            module = missing_module(exc, extra)
            if module is None:
                raise
            raise MissingExtraError(
                f"{package}.{name} is part of {needed_by}, which needs the [{extra}] extra: "
                f"{module} is not installed in this environment. Install it with "
                f"{install_hint(extra)}",
                extra=extra,
                module=module,
            ) from exc

    return __getattr__
