"""Experiment tracking: runs, params, metrics with steps, tags and artifacts in the store.

::

    from mlops_nb.tracking import TrackingStore

    store = TrackingStore.from_settings()
    with store.start_run("rf", stage="train") as run:
        run.log_params({"max_depth": 5})
        run.log_metric("cv_roc_auc", 0.81, step=0)
    store.search_runs("metrics.cv_roc_auc > 0.8", order_by="metrics.cv_roc_auc desc")

The rows live in the project's store backend (:mod:`mlops_nb.store`).
"""

from mlops_nb.errors import FilterError, StoreError, TrackingError
from mlops_nb.tracking.runs import Run
from mlops_nb.tracking.store import TrackingStore

__all__ = [
    "FilterError",
    "Run",
    "StoreError",
    "TrackingError",
    "TrackingStore",
]
