"""Predictions of a fitted model on labelled rows, computed once and reused.

Metrics, slices and plots all read a :class:`Predictions`, so a model
predicts each holdout only once however many tables and figures follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mlops_nb.errors import MlopsNbError, ModelingError
from mlops_nb.modeling._checks import check_data, is_classification

__all__ = ["Predictions", "predict"]


@dataclass(frozen=True)
class Predictions:
    """True values and a model's predictions for the same rows.

    Attributes:
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        y_true: True target values.
        y_pred: Predicted labels (classification) or values (regression).
        proba: Class probabilities, one column per entry of ``classes``;
            ``None`` for regression or a model without ``predict_proba``.
        classes: The model's classes in its column order (sorted), or
            ``None`` for regression.
    """

    task: str
    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray | None = None
    classes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y_true)

    def subset(self, mask: np.ndarray) -> Predictions:
        """The same predictions restricted to the rows where ``mask`` is true."""
        proba = None if self.proba is None else self.proba[mask]
        return Predictions(self.task, self.y_true[mask], self.y_pred[mask], proba, self.classes)


def predict(model: Any, X: Any, y: Any, task: str, *, name: str = "model") -> Predictions:
    """Predict the rows of ``X`` with a fitted ``model`` and pair them with ``y``.

    Args:
        model: A fitted estimator or pipeline taking the raw columns of ``X``.
        X: Feature rows (DataFrame).
        y: True target, one value per row.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        name: What to call the model in error messages.

    Raises:
        ModelingError: bad ``X``/``y``, or the model cannot predict ``X``.
    """
    classification = is_classification(task)
    X, y_true = check_data(X, y, where=f"predictions of {name}")
    if len(X) == 0:
        return _empty(task, y_true, model if classification else None)
    try:
        y_pred = np.asarray(model.predict(X))
        proba = _proba(model, X) if classification else None
    except MlopsNbError:
        raise
    except Exception as error:
        raise ModelingError(
            f"{name} cannot predict the {len(X)} rows given: {type(error).__name__}: "
            f"{error}. Check it was fitted on the same feature columns ({len(X.columns)} "
            "given here) and the same task.",
            model=name,
        ) from error
    classes = _classes(model, y_true, y_pred) if classification else None
    return Predictions(task, y_true, y_pred, proba, classes)


def _proba(model: Any, X: Any) -> np.ndarray | None:
    if not hasattr(model, "predict_proba"):
        return None
    return np.asarray(model.predict_proba(X), dtype=float)


def _classes(model: Any, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    classes = getattr(model, "classes_", None)
    if classes is not None:
        return np.asarray(classes)
    return np.unique(np.concatenate([y_true, y_pred]))


def _empty(task: str, y_true: np.ndarray, model: Any) -> Predictions:
    classes = None if model is None else getattr(model, "classes_", None)
    classes = None if classes is None else np.asarray(classes)
    proba = None if classes is None else np.empty((0, len(classes)))
    return Predictions(task, y_true, y_true.copy(), proba, classes)
