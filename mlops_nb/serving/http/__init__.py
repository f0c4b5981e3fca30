"""The model server over HTTP: the FastAPI app, its state, and the uvicorn server running it.

* ``app``: :func:`create_app` and the routes (``/predict``, ``/health``, ``/metadata``);
* ``state``: what the routes share (scorer, micro-batcher, worker, inference log);
* ``body`` and ``auth``: size limits, strict JSON, refusals, bearer tokens;
* ``openapi`` and ``payloads``: the input contract as JSON Schema, the response models;
* ``batching``: requests waiting for the model are scored together;
* ``binding`` and ``server``: where it listens, :func:`serve` and :func:`start_server`.

Names are imported on first use (PEP 562): importing one module of this package
(``binding``, say) does not load fastapi and uvicorn.
"""

from __future__ import annotations

from mlops_nb.exports import lazy_getattr

_EXPORTS = {
    "ServerHandle": "mlops_nb.serving.http.server",
    "app_for": "mlops_nb.serving.http.app",
    "create_app": "mlops_nb.serving.http.app",
    "record_schema": "mlops_nb.serving.http.openapi",
    "serve": "mlops_nb.serving.http.server",
    "start_server": "mlops_nb.serving.http.server",
}

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = ["ServerHandle", "app_for", "create_app", "record_schema", "serve", "start_server"]
