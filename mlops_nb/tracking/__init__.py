"""Experiment tracking: runs, params, metrics with steps, tags and artifacts in SQLite.

::

    from mlops_nb.tracking import TrackingStore

    store = TrackingStore.from_settings()
    with store.start_run("rf", stage="train") as run:
        run.log_params({"max_depth": 5})
        run.log_metric("cv_roc_auc", 0.81, step=0)
    store.search_runs("metrics.cv_roc_auc > 0.8", order_by="metrics.cv_roc_auc desc")
"""

from typing import TYPE_CHECKING

from mlops_nb.exports import lazy_getattr
from mlops_nb.tracking.db import StoreError, connect, migrate, transaction
from mlops_nb.tracking.runs import Run
from mlops_nb.tracking.store import TrackingStore
from mlops_nb.tracking.values import TrackingError

# FilterError lives with the query parser, which needs pandas: loaded on first use
_EXPORTS = {"FilterError": "mlops_nb.tracking.search"}

__all__ = [
    "FilterError",
    "Run",
    "StoreError",
    "TrackingError",
    "TrackingStore",
    "connect",
    "migrate",
    "transaction",
]

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())

if TYPE_CHECKING:
    from mlops_nb.tracking.search import FilterError
