"""Argument checks shared by the modeling modules."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlops_nb.errors import ModelingError
from mlops_nb.tasks import check_task as check_any_task

INFER_HINT = " (infer it from the target with mlops_nb.infer_task)"


def check_task(task: str) -> str:
    """Return ``task`` if it is one of :data:`~mlops_nb.tasks.TASKS`.

    Raises:
        ModelingError: for any other value.
    """
    return check_any_task(task, ModelingError, INFER_HINT)


def is_classification(task: str) -> bool:
    """True for ``"binary"`` and ``"multiclass"``."""
    return check_task(task) != "regression"


def check_data(X: Any, y: Any, *, where: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Return ``X`` as a DataFrame and ``y`` as a 1-D array, checked.

    Args:
        X: Feature rows (a DataFrame of raw columns).
        y: One target value per row of ``X``.
        where: The calling function, named in messages.

    Raises:
        ModelingError: ``X`` is not a DataFrame, ``y`` is not 1-D, their
            lengths differ, or ``y`` has missing values.
    """
    if not isinstance(X, pd.DataFrame):
        raise ModelingError(
            f"{where}: X must be a pandas DataFrame of raw feature columns, got "
            f"{type(X).__name__}; pass e.g. test.drop(columns=target).",
        )
    target = np.asarray(y)
    if target.ndim != 1 or len(target) != len(X):
        raise ModelingError(
            f"{where}: y has shape {target.shape} but X has {len(X)} rows; "
            "pass one target value per row of X (e.g. test[target]).",
        )
    missing = int(pd.isna(target).sum())
    if missing:
        raise ModelingError(
            f"{where}: y is missing in {missing} row(s); drop those rows first "
            "(mlops_nb.cleanse does that).",
        )
    return X, target
