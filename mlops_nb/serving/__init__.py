"""Serving: a registered model behind a small, safe HTTP API, and its inference log.

>>> server = start_server("churn@production", load_settings())  # loopback, free port
>>> httpx.post(f"{server.url}/predict", json={"records": [{"age": 42, ...}]}).json()
{'model': 'churn', 'version': 3, 'request_id': '...', 'predictions': [0],
 'probabilities': [{'0': 0.81, '1': 0.19}]}
>>> server.stop()
>>> read_inference_log(load_settings(), "churn").tail()

``POST /predict`` takes ``{"records": [...]}``, checks every value against the
model's pandera signature (unknown keys are refused, not dropped) and answers
422 with each failing row, column and check. ``GET /health`` and
``GET /metadata`` describe the served version; /docs shows the input contract.
Every prediction is appended to ``outputs/inference/<model>.db``.

One sub-package per concept:

* ``http``: the FastAPI app, its shared state, request bodies and tokens, the
  OpenAPI schema, micro-batching, and the uvicorn server (:func:`serve`,
  :func:`start_server`);
* ``worker``: the model worker process the server scores in
  (``python -m mlops_nb.serving.worker``);
* ``batch``: scoring CSV/Parquet files and frames (:func:`predict_file`, :func:`score_frame`;
  :func:`predict_dataset` for a partitioned Parquet dataset, locally or on Dask);
* ``bundle``: deployment bundles (:func:`build_bundle`, :func:`load_bundle`).

``scoring`` (the model with its input checker) is shared by the server and the
worker; ``options`` holds the limits and names they share; ``inference_log``
records every prediction. The input checks themselves are validation's fast
backend, :mod:`mlops_nb.validation.fast`.

Names are imported on first use (PEP 562), so that the model worker process
does not load the web stack. The HTTP server needs the ``[serve]`` extra: without
it, its names (``serve``, ``start_server``, ``create_app``...) raise
:class:`~mlops_nb.errors.MissingExtraError` naming ``pip install 'mlops-nb[serve]'``;
batch scoring and bundles work in the core install.
"""

from __future__ import annotations

from mlops_nb.exports import lazy_getattr
from mlops_nb.extras import guard_exports

_EXPORTS = {
    "MAX_ROWS": "mlops_nb.serving.options",
    "MAX_TEXT_CHARS": "mlops_nb.serving.options",
    "TOKEN_ENV": "mlops_nb.serving.options",
    "Bundle": "mlops_nb.serving.bundle.manifest",
    "InputChecker": "mlops_nb.validation.fast",
    "RowError": "mlops_nb.validation.fast",
    "Scorer": "mlops_nb.serving.scoring",
    "Scores": "mlops_nb.serving.scoring",
    "ServeOptions": "mlops_nb.serving.options",
    "ServerHandle": "mlops_nb.serving.http.server",
    "build_bundle": "mlops_nb.serving.bundle.build",
    "create_app": "mlops_nb.serving.http.app",
    "inference_log_path": "mlops_nb.serving.inference_log",
    "load_bundle": "mlops_nb.serving.bundle.load",
    "predict_dataset": "mlops_nb.serving.batch.partitioned",
    "predict_file": "mlops_nb.serving.batch.predict",
    "read_inference_log": "mlops_nb.serving.inference_log",
    "record_schema": "mlops_nb.serving.http.openapi",
    "score_frame": "mlops_nb.serving.batch.predict",
    "serve": "mlops_nb.serving.http.server",
    "smoke_records": "mlops_nb.validation.fast",
    "start_server": "mlops_nb.serving.http.server",
}


__getattr__ = guard_exports(
    lazy_getattr(__name__, _EXPORTS, globals()), "serve", "the HTTP server", __name__
)


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "MAX_ROWS",
    "MAX_TEXT_CHARS",
    "TOKEN_ENV",
    "Bundle",
    "InputChecker",
    "RowError",
    "Scorer",
    "Scores",
    "ServeOptions",
    "ServerHandle",
    "build_bundle",
    "create_app",
    "inference_log_path",
    "load_bundle",
    "predict_dataset",
    "predict_file",
    "read_inference_log",
    "record_schema",
    "score_frame",
    "serve",
    "smoke_records",
    "start_server",
]
