"""Reaching a Dask cluster: ``distributed`` imported when first needed, and a scheduler's client.

Four parts of the package use a cluster: the Dask executor (``pipeline``), the
distributed search (``modeling``), partitioned batch scoring (``serving``) and
partitioned drift (``monitoring``). Each raises its own error class and says
what it was doing and what the user can do instead (``parallel='local'``,
``--scheduler``); the import of the extra and the connection with its timeout
are here, once, below all of them.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from mlops_nb.errors import MlopsNbError

__all__ = ["CONNECT_TIMEOUT_S", "INSTALL_HINT", "connect", "distributed_module"]

INSTALL_HINT = "pip install 'mlops-nb[dask]'"
CONNECT_TIMEOUT_S = 5.0
"""Seconds to reach a scheduler before giving up: a wrong address fails fast."""


def distributed_module(
    error: type[MlopsNbError], needed_by: str, instead: str = "", **where: Any
) -> ModuleType:
    """``distributed``, or ``error`` saying that ``needed_by`` needs the ``[dask]`` extra.

    ``instead`` (e.g. ``" (or parallel='local')"``) follows the pip command.
    """
    try:
        import distributed
    except ImportError as exc:
        raise error(
            f"{needed_by} needs dask.distributed, which is not installed: {INSTALL_HINT}{instead}.",
            **where,
        ) from exc
    return distributed


def connect(
    address: str,
    error: type[MlopsNbError],
    needed_by: str,
    check: str,
    *,
    timeout: float = CONNECT_TIMEOUT_S,
    **where: Any,
) -> Any:
    """A client of the scheduler at ``address`` (not made the default client).

    Raises:
        error: The extra is missing (see :func:`distributed_module`), or the
            scheduler does not answer within ``timeout`` seconds; the message
            says how to start one and asks to ``check`` (where the address came from).
    """
    distributed = distributed_module(error, needed_by, **where)
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise error(
            f"{needed_by} cannot reach the Dask scheduler at {address} within {timeout:g} s "
            f"({type(exc).__name__}: {exc}); start one (`mlops-nb cluster local`, or `dask "
            f"scheduler`) or check {check}.",
            scheduler=address,
            **where,
        ) from exc
