"""Batch scoring: a CSV or Parquet file, a frame, or a partitioned dataset.

* ``predict``: :func:`predict_file` and :func:`score_frame` (validate, then score the valid rows);
* ``files``: chunked readers and atomic, incremental writers of CSV and Parquet;
* ``partitioned``: :func:`predict_dataset`, a Parquet dataset (folder, glob, URL) scored
  partition by partition here or on a Dask cluster (``cluster``; one partition: ``parts``;
  input and output folders: ``datasets``).

Names are imported on first use (PEP 562).
"""

from __future__ import annotations

from mlops_nb.exports import lazy_getattr

_EXPORTS = {
    "PREDICTION_COLUMN": "mlops_nb.serving.batch.predict",
    "PROBA_PREFIX": "mlops_nb.serving.batch.predict",
    "ROW_COLUMN": "mlops_nb.serving.batch.predict",
    "BatchResult": "mlops_nb.serving.batch.predict",
    "predict_dataset": "mlops_nb.serving.batch.partitioned",
    "predict_file": "mlops_nb.serving.batch.predict",
    "predict_rows": "mlops_nb.serving.batch.predict",
    "score_frame": "mlops_nb.serving.batch.predict",
}

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "PREDICTION_COLUMN",
    "PROBA_PREFIX",
    "ROW_COLUMN",
    "BatchResult",
    "predict_dataset",
    "predict_file",
    "predict_rows",
    "score_frame",
]
