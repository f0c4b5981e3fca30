"""Task-appropriate holdout metrics and the primary (model-selection) metric.

Metrics by task (keys of :func:`evaluate`, after ``n``, the number of rows):

* classification: ``accuracy``; ``f1`` -- for ``"binary"`` the F1 of the
  positive class, which is the second of the sorted labels (``1`` of 0/1,
  ``True`` of False/True, ``"yes"`` of "no"/"yes"), for ``"multiclass"`` the
  macro average over classes; ``roc_auc`` -- binary, or one-vs-rest macro
  average for multiclass; ``log_loss`` over the model's classes.
* regression: ``rmse``, ``mae``, ``r2``.

A metric that is undefined on the given rows is NaN, never an error: no
rows at all; ``roc_auc`` when ``y`` holds a single class (or, multiclass,
misses one of the model's classes); ``f1`` when the positive class is
neither in ``y`` nor predicted; ``roc_auc``/``log_loss`` for a model without
``predict_proba``; ``r2`` with fewer than two rows or a constant ``y``.

Primary metric (what tuning optimises and the champion/challenger margin is
measured in), see :func:`primary_metric`:

* ``"binary"``: ``roc_auc`` -- threshold-free and insensitive to the class
  balance, so it ranks candidates on how well they separate the classes;
* ``"multiclass"``: ``f1`` (macro) -- every class counts equally however
  rare, and it needs no probabilities;
* ``"regression"``: ``rmse`` -- lower is better (scikit-learn's scorer is
  ``neg_root_mean_squared_error``; tables show the positive RMSE).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

from mlops_nb.errors import ModelingError
from mlops_nb.modeling._checks import check_task, is_classification
from mlops_nb.modeling.predictions import Predictions, predict

__all__ = [
    "HIGHER_IS_BETTER",
    "Metric",
    "check_metric",
    "evaluate",
    "metric_names",
    "metric_values",
    "primary_metric",
]

HIGHER_IS_BETTER: dict[str, bool] = {
    "accuracy": True,
    "f1": True,
    "roc_auc": True,
    "log_loss": False,
    "rmse": False,
    "mae": False,
    "r2": True,
}


@dataclass(frozen=True)
class Metric:
    """The metric that ranks candidates.

    Attributes:
        name: Key of the metric in :func:`evaluate`'s result.
        higher_is_better: Direction of improvement.
        scorer: scikit-learn ``scoring`` string for cross-validation (its
            values are negated when ``higher_is_better`` is false).
    """

    name: str
    higher_is_better: bool
    scorer: str

    @property
    def sign(self) -> int:
        """``+1`` if higher is better, else ``-1`` (scorer value × sign = metric)."""
        return 1 if self.higher_is_better else -1


_PRIMARY = {
    "binary": Metric("roc_auc", True, "roc_auc"),
    "multiclass": Metric("f1", True, "f1_macro"),
    "regression": Metric("rmse", False, "neg_root_mean_squared_error"),
}


def primary_metric(task: str) -> Metric:
    """Return the primary metric of ``task`` (see the module docstring)."""
    return _PRIMARY[check_task(task)]


def metric_names(task: str) -> list[str]:
    """Names of the metrics :func:`evaluate` returns for ``task``, without ``n``."""
    if is_classification(task):
        return ["accuracy", "f1", "roc_auc", "log_loss"]
    return ["rmse", "mae", "r2"]


def evaluate(model: Any, X: Any, y: Any, task: str) -> dict[str, float]:
    """Score a fitted ``model`` on labelled rows (e.g. the holdout).

    Args:
        model: A fitted pipeline (or estimator) taking the raw columns of ``X``.
        X: Feature rows (DataFrame).
        y: True target, one value per row.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.

    Returns:
        ``{"n": rows, <metric>: value, ...}`` in :func:`metric_names` order;
        undefined metrics are NaN (see the module docstring).

    Raises:
        ModelingError: unknown task, bad ``X``/``y``, or the model cannot
            predict ``X``.
    """
    return metric_values(predict(model, X, y, task))


def metric_values(predictions: Predictions) -> dict[str, float]:
    """The metrics of :func:`evaluate`, from predictions already made."""
    values: dict[str, float] = {"n": len(predictions)}
    if is_classification(predictions.task):
        values.update(_classification(predictions))
    else:
        values.update(_regression(predictions.y_true, predictions.y_pred))
    return values


def _classification(p: Predictions) -> dict[str, float]:
    classes = p.classes if p.classes is not None else np.unique(np.r_[p.y_true, p.y_pred])
    return {
        "accuracy": _safe(lambda: accuracy_score(p.y_true, p.y_pred), len(p) > 0),
        "f1": _safe(lambda: _f1(p, classes), len(p) > 0),
        "roc_auc": _safe(lambda: _roc_auc(p, classes), _auc_defined(p, classes)),
        "log_loss": _safe(
            lambda: log_loss(p.y_true, p.proba, labels=classes),
            len(p) > 0 and p.proba is not None,
        ),
    }


def _f1(p: Predictions, classes: np.ndarray) -> float:
    if p.task == "binary":
        return float(f1_score(p.y_true, p.y_pred, pos_label=classes[-1], zero_division=np.nan))
    macro = f1_score(p.y_true, p.y_pred, labels=classes, average="macro", zero_division=np.nan)
    return float(macro)


def _auc_defined(p: Predictions, classes: np.ndarray) -> bool:
    if p.proba is None or len(np.unique(p.y_true)) < 2:
        return False
    return p.task == "binary" or bool(np.isin(classes, p.y_true).all())


def _roc_auc(p: Predictions, classes: np.ndarray) -> float:
    if p.proba is None:  # not reached: _auc_defined is false without probabilities
        return float("nan")
    if p.task == "binary":
        return float(roc_auc_score(p.y_true == classes[-1], p.proba[:, -1]))
    return float(
        roc_auc_score(p.y_true, p.proba, multi_class="ovr", average="macro", labels=classes)
    )


def _regression(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    y_true = np.asarray(y_true, dtype=float)
    has_rows = len(y_true) > 0
    return {
        "rmse": _safe(lambda: root_mean_squared_error(y_true, y_pred), has_rows),
        "mae": _safe(lambda: mean_absolute_error(y_true, y_pred), has_rows),
        "r2": _safe(lambda: r2_score(y_true, y_pred), len(y_true) > 1 and np.ptp(y_true) > 0),
    }


def _safe(compute: Callable[[], Any], defined: bool) -> float:
    """``compute()`` as a float, or NaN when undefined (no warning either way)."""
    if not defined:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return float(compute())


def check_metric(metric: Metric | str) -> Metric:
    """Return ``metric`` as a :class:`Metric` (a name is looked up by direction)."""
    if isinstance(metric, Metric):
        return metric
    if metric not in HIGHER_IS_BETTER:
        raise ModelingError(
            f"Unknown metric {metric!r}; use one of {', '.join(HIGHER_IS_BETTER)} "
            "or a Metric from primary_metric(task).",
            parameter="metric",
        )
    return Metric(metric, HIGHER_IS_BETTER[metric], metric)
