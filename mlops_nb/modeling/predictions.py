"""Predictions of a fitted model on labelled rows, computed once and reused.

Metrics, slices, plots and the champion comparison all read a
:class:`Predictions`, so a model predicts each holdout only once however many
tables and figures follow. :func:`predict` scores :data:`CHUNK_ROWS` rows at a
time (the model's transformed matrix never holds more), and a scikit-learn
``Pipeline`` transforms each chunk once for both its labels and its
probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from mlops_nb.errors import MlopsNbError, ModelingError
from mlops_nb.modeling._checks import check_data, is_classification

__all__ = ["CHUNK_ROWS", "Predictions", "check_predictions", "predict"]

CHUNK_ROWS = 250_000
"""Rows scored per model call by :func:`predict`."""


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
        outputs = [
            _outputs(model, X.iloc[start : start + CHUNK_ROWS], classification)
            for start in range(0, len(X), CHUNK_ROWS)
        ]
    except MlopsNbError:
        raise
    except Exception as error:
        raise ModelingError(
            f"{name} cannot predict the {len(X)} rows given: {type(error).__name__}: "
            f"{error}. Check it was fitted on the same feature columns ({len(X.columns)} "
            "given here) and the same task.",
            model=name,
        ) from error
    y_pred = np.concatenate([labels for labels, _ in outputs])
    proba = None if outputs[0][1] is None else np.concatenate([p for _, p in outputs])
    classes = _classes(model, y_true, y_pred) if classification else None
    return Predictions(task, y_true, y_pred, proba, classes)


def check_predictions(predictions: Any, y: Any, task: str, *, where: str) -> Predictions:
    """Return ``predictions`` if they are :class:`Predictions` of the rows labelled ``y``.

    Raises:
        ModelingError: another type, another task, or other rows (their
            number or their labels differ from ``y``).
    """
    if not isinstance(predictions, Predictions):
        raise ModelingError(
            f"{where}: predictions must come from mlops_nb.predict(model, X, y, task), got "
            f"{type(predictions).__name__}.",
        )
    labels = np.asarray(y)
    if predictions.task != task:
        problem = f"are for the task {predictions.task!r}, not {task!r}"
    elif len(predictions) != len(labels):
        problem = f"have {len(predictions)} row(s) for {len(labels)} labelled row(s)"
    elif not np.array_equal(predictions.y_true, labels):
        problem = "pair other labels with the rows than y holds"
    else:
        return predictions
    raise ModelingError(
        f"{where}: the predictions given {problem}; predict these same rows with "
        "mlops_nb.predict(model, X, y, task) and pass that.",
    )


def _outputs(model: Any, X: Any, classification: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Labels (or values) and, for a classifier that has them, probabilities of ``X``.

    A fitted ``Pipeline`` runs its transformers once and gives the result to its
    last step's ``predict`` and ``predict_proba``: the same outputs the pipeline's
    own methods give, at half the cost of transforming twice.
    """
    final, rows = model, X
    if isinstance(model, Pipeline) and len(model.steps) > 1 and model.steps[-1][1] != "passthrough":
        final, rows = model.steps[-1][1], model[:-1].transform(X)
    labels = np.asarray(final.predict(rows))
    if not classification or not hasattr(final, "predict_proba"):
        return labels, None
    return labels, np.asarray(final.predict_proba(rows), dtype=float)


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
