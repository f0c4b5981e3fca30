"""Evaluation figures, built with matplotlib's object API.

Every function returns a new :class:`matplotlib.figure.Figure` that is not
registered with ``pyplot``: no GUI backend is needed, nothing stays open,
and Jupyter shows a figure that is the last value of a cell (or passed to
``display``). Save one with ``fig.savefig(path)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay, confusion_matrix

from mlops_nb.modeling._checks import is_classification
from mlops_nb.modeling.predictions import Predictions, predict

if TYPE_CHECKING:
    from matplotlib.typing import LegendLocType

__all__ = [
    "confusion_matrix_figure",
    "evaluation_figures",
    "predictions_figures",
    "residuals_figure",
    "roc_pr_figure",
]


def evaluation_figures(model: Any, X: Any, y: Any, task: str) -> dict[str, Figure]:
    """All figures of a fitted ``model`` on labelled rows, by name.

    Classification: ``confusion_matrix`` and, when the model has
    ``predict_proba``, ``roc_pr``; regression: ``residuals``.
    """
    return predictions_figures(predict(model, X, y, task))


def predictions_figures(p: Predictions) -> dict[str, Figure]:
    """The figures of :func:`evaluation_figures`, from predictions already made."""
    if not is_classification(p.task):
        return {"residuals": residuals_figure(p.y_true, p.y_pred)}
    figures = {"confusion_matrix": confusion_matrix_figure(p.y_true, p.y_pred, labels=p.classes)}
    if p.proba is not None:
        figures["roc_pr"] = roc_pr_figure(p.y_true, p.proba, p.classes)
    return figures


def confusion_matrix_figure(y_true: Any, y_pred: Any, *, labels: Any = None) -> Figure:
    """Counts of true (rows) by predicted (columns) class, with row shares.

    Drawn here, not by ``ConfusionMatrixDisplay``: that one shows counts only and
    adds a colour bar axis; each cell here shows its count and its share of the
    row, one above the other, on one axis coloured by the share.

    Args:
        y_true: True labels.
        y_pred: Predicted labels.
        labels: Classes in display order (default: sorted labels seen).
    """
    labels = np.unique(np.r_[y_true, y_pred]) if labels is None else np.asarray(labels)
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    size = 2.5 + 0.6 * len(labels)
    figure = Figure(figsize=(size, size), layout="constrained")
    ax = figure.add_subplot()
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for (row, col), count in np.ndenumerate(counts):
        color = "white" if shares[row, col] > 0.5 else "black"
        text = f"{count}\n{shares[row, col]:.0%}"
        ax.text(col, row, text, ha="center", va="center", color=color, fontsize=9)
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, [str(label) for label in labels])
    ax.set_yticks(ticks, [str(label) for label in labels])
    ax.set(xlabel="predicted", ylabel="true", title=f"Confusion matrix (n={len(y_true)})")
    return figure


def roc_pr_figure(y_true: Any, proba: Any, classes: Any) -> Figure:
    """ROC (left) and precision-recall (right) curves.

    The curves are scikit-learn's ``RocCurveDisplay`` and ``PrecisionRecallDisplay``
    on our axes, with our legend text (``yes (AUC 0.858)``) and the figure's layout.

    Binary: the curve of the positive (second) class. Multiclass: one
    one-vs-rest curve per class. Classes absent from ``y_true`` (or making
    up all of it) have no curve, and the axes say so.

    Args:
        y_true: True labels.
        proba: Predicted probabilities, one column per class.
        classes: Classes in the column order of ``proba``.
    """
    y_true, proba, classes = np.asarray(y_true), np.asarray(proba), np.asarray(classes)
    figure = Figure(figsize=(10, 4.2), layout="constrained")
    roc_ax, pr_ax = figure.subplots(1, 2)
    shown = classes[-1:] if len(classes) == 2 else classes
    for label in shown:
        column = int(np.flatnonzero(classes == label)[0])
        _class_curves(roc_ax, pr_ax, y_true == label, proba[:, column], str(label))
    _finish_roc(roc_ax)
    _finish_pr(pr_ax, y_true, shown)
    return figure


def _class_curves(roc_ax: Axes, pr_ax: Axes, positive: np.ndarray, score: Any, name: str) -> None:
    """One class's curves, drawn by scikit-learn's displays with our legend text."""
    if positive.all() or not positive.any():
        return
    roc = RocCurveDisplay.from_predictions(positive, score, name=name, ax=roc_ax)
    roc.line_.set_label(f"{name} (AUC {roc.roc_auc:.3f})")
    pr = PrecisionRecallDisplay.from_predictions(positive, score, name=name, ax=pr_ax)
    pr.line_.set_label(f"{name} (AP {pr.average_precision:.3f})")


def _free_axes(ax: Axes) -> None:
    """Undo the displays' square, fixed axes: the panels fill the figure, scaled to the data."""
    ax.set_aspect("auto")
    ax.autoscale()


def _finish_roc(ax: Axes) -> None:
    _free_axes(ax)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    _legend_or_note(ax, "lower right")


def _finish_pr(ax: Axes, y_true: np.ndarray, shown: np.ndarray) -> None:
    _free_axes(ax)
    if len(shown) == 1 and len(y_true):
        ax.axhline(np.mean(y_true == shown[0]), linestyle="--", color="grey", linewidth=1)
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall curve")
    ax.set_ylim(0, 1.02)
    _legend_or_note(ax, "lower left")


def _legend_or_note(ax: Axes, loc: LegendLocType) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc=loc, fontsize="small")
        return
    ax.text(0.5, 0.5, "undefined: y holds a single class", ha="center", transform=ax.transAxes)


def residuals_figure(y_true: Any, y_pred: Any) -> Figure:
    """Predicted against actual values (left) and a histogram of residuals (right).

    Drawn here, not by ``PredictionErrorDisplay``: that one puts the predictions
    on the other axis and has no histogram of the residuals.
    """
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    residuals = y_true - y_pred
    figure = Figure(figsize=(10, 4.2), layout="constrained")
    scatter_ax, hist_ax = figure.subplots(1, 2)
    scatter_ax.scatter(y_true, y_pred, s=10, alpha=0.5)
    if len(y_true):
        low, high = min(y_true.min(), y_pred.min()), max(y_true.max(), y_pred.max())
        scatter_ax.plot([low, high], [low, high], linestyle="--", color="grey", linewidth=1)
    title = f"Predicted vs actual (n={len(y_true)})"
    scatter_ax.set(xlabel="actual", ylabel="predicted", title=title)
    hist_ax.hist(residuals, bins=min(30, max(1, len(residuals) // 5)))
    hist_ax.axvline(0, linestyle="--", color="grey", linewidth=1)
    hist_ax.set(xlabel="residual (actual - predicted)", ylabel="rows", title="Residuals")
    return figure
