"""Metrics per slice of one column: the bias check.

The rows are grouped by the values of a column of ``X`` (missing values form
the slice ``"(missing)"``); a numeric column with more than
:data:`MAX_NUMERIC_VALUES` distinct values is binned into quartiles
(``pd.qcut``; equal edges merge, so there can be fewer than four bins).
Each slice is scored like the whole set, and ``gap`` is the slice's primary
metric minus the overall one: for ``roc_auc`` and ``f1`` a negative gap means
the model is worse on the slice, for ``rmse`` a positive gap does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlops_nb.dtypes import is_number
from mlops_nb.errors import ModelingError
from mlops_nb.modeling._checks import check_data, check_task
from mlops_nb.modeling._search import check_count
from mlops_nb.modeling.metrics import metric_names, metric_values, primary_metric
from mlops_nb.modeling.predictions import Predictions, check_predictions, predict

__all__ = ["MAX_NUMERIC_VALUES", "MAX_SLICES", "MISSING_SLICE", "slice_metrics"]

MISSING_SLICE = "(missing)"
MAX_NUMERIC_VALUES = 4
MAX_SLICES = 50


def slice_metrics(
    model: Any,
    X: Any,
    y: Any,
    task: str,
    column: str,
    *,
    min_rows: int = 20,
    predictions: Predictions | None = None,
) -> pd.DataFrame:
    """Score a fitted ``model`` on each slice of ``column``.

    Args:
        model: A fitted pipeline taking the raw columns of ``X``.
        X: Feature rows (DataFrame) holding ``column``.
        y: True target, one value per row.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        column: The column of ``X`` to slice by.
        min_rows: Slices with fewer rows are listed with NaN metrics and a
            note instead of noisy values.
        predictions: ``model``'s :func:`~mlops_nb.modeling.predict` of these
            rows, made already (the evaluate stage's); None predicts them here.

    Returns:
        One row per slice: ``column``, ``value`` (text), ``n``, the task's
        metrics, ``gap`` and ``note``. ``.attrs["overall"]`` holds the
        metrics of all rows and ``.attrs["primary_metric"]`` the gap's metric.

    Raises:
        ModelingError: ``column`` is not in ``X``, it has more than
            :data:`MAX_SLICES` slices, predictions of other rows, or bad
            arguments.
    """
    check_task(task)
    X, _ = check_data(X, y, where="slice_metrics")
    _check_column(X, column)
    min_rows = check_count(min_rows, "min_rows", 1)
    labels, order = slice_labels(X[column])
    if predictions is None:
        p = predict(model, X, y, task)
    else:
        p = check_predictions(predictions, y, task, where="slice_metrics")
    overall = metric_values(p)
    rows = [_slice_row(p, labels == value, value, overall, min_rows) for value in order]
    table = pd.DataFrame(rows, columns=["value", "n", *metric_names(task), "gap", "note"])
    table.insert(0, "column", column)
    table.attrs.update(overall=overall, primary_metric=primary_metric(task).name)
    return table


def _check_column(X: pd.DataFrame, column: str) -> None:
    if column in X.columns:
        return
    shown = ", ".join(map(str, X.columns[:30])) + (", ..." if len(X.columns) > 30 else "")
    raise ModelingError(
        f"slice column {column!r} is not a column of X; choose one of: {shown}.",
        column=column,
    )


def slice_labels(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Slice name of each row, and the slice names in display order.

    Raises:
        ModelingError: more than :data:`MAX_SLICES` slices.
    """
    missing = values.isna().to_numpy()
    present = values[~missing]
    if is_number(values) and present.nunique() > MAX_NUMERIC_VALUES:
        bins = pd.qcut(present.astype(float), 4, duplicates="drop")
        order = [str(interval) for interval in bins.cat.categories]
        names = bins.astype(object).map(str)
    else:
        order = [str(value) for value in _sorted(pd.unique(present))]
        names = present.map(str)
    labels = np.full(len(values), MISSING_SLICE, dtype=object)
    labels[~missing] = names.to_numpy(dtype=object)
    order += [MISSING_SLICE] if missing.any() else []
    if len(order) > MAX_SLICES:
        raise ModelingError(
            f"slice column {values.name!r} has {len(order)} distinct values (at most "
            f"{MAX_SLICES}); slice by a column with fewer categories, e.g. a segment or region.",
            column=values.name,
        )
    return labels, order


def _sorted(values: Any) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _slice_row(
    p: Predictions, mask: np.ndarray, value: str, overall: dict[str, float], min_rows: int
) -> dict[str, Any]:
    primary = primary_metric(p.task).name
    n = int(mask.sum())
    if n < min_rows:
        nan = dict.fromkeys(metric_names(p.task), float("nan"))
        note = f"fewer than min_rows={min_rows} rows: metrics not computed"
        return {"value": value, **nan, "n": n, "gap": float("nan"), "note": note}
    metrics = metric_values(p.subset(mask))
    gap = metrics[primary] - overall[primary]
    note = f"{primary} undefined on this slice" if np.isnan(metrics[primary]) else ""
    return {"value": value, **metrics, "gap": gap, "note": note}
