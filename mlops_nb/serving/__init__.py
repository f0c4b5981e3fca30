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

The server's names are imported on first use (PEP 562), so that the model
worker process (``python -m mlops_nb.serving.worker``) does not load the web stack.
"""

from __future__ import annotations

from mlops_nb.exports import lazy_getattr

_EXPORTS = {
    "MAX_BODY_BYTES": "mlops_nb.serving.app",
    "MAX_ROWS": "mlops_nb.serving.app",
    "TOKEN_ENV": "mlops_nb.serving.app",
    "InputChecker": "mlops_nb.serving.checks",
    "RowError": "mlops_nb.serving.checks",
    "Scorer": "mlops_nb.serving.scoring",
    "Scores": "mlops_nb.serving.scoring",
    "ServerHandle": "mlops_nb.serving.server",
    "create_app": "mlops_nb.serving.app",
    "inference_log_path": "mlops_nb.serving.inference_log",
    "read_inference_log": "mlops_nb.serving.inference_log",
    "record_schema": "mlops_nb.serving.schema",
    "serve": "mlops_nb.serving.server",
    "start_server": "mlops_nb.serving.server",
}


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "MAX_BODY_BYTES",
    "MAX_ROWS",
    "TOKEN_ENV",
    "InputChecker",
    "RowError",
    "Scorer",
    "Scores",
    "ServerHandle",
    "create_app",
    "inference_log_path",
    "read_inference_log",
    "record_schema",
    "serve",
    "start_server",
]

# --- batch scoring and bundles (mlops_nb/serving/batch.py, bundle.py) -----------------
# The other serving modules append below: their imports (e.g.
# ``from mlops_nb.serving.batch import predict_file``) and ``__all__ += [...]``.
# ---------------------------------------------------------------------------------------
# Added by the server's author so that tests/serving/test_bundle.py can import these
# (lazily, like the names above); replace or extend freely.
_EXPORTS |= {
    "Bundle": "mlops_nb.serving.bundle",
    "build_bundle": "mlops_nb.serving.bundle",
    "load_bundle": "mlops_nb.serving.bundle",
    "predict_file": "mlops_nb.serving.batch",
    "score_frame": "mlops_nb.serving.batch",
}
__all__ += ["Bundle", "build_bundle", "load_bundle", "predict_file", "score_frame"]
