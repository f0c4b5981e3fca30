"""Infer or validate the learning task from the target column.

Rules of ``task="auto"`` (missing values of the target are ignored):

* bool, categorical and text targets are classification;
* numeric targets whose values are all whole numbers, with at most
  :data:`MAX_AUTO_CLASSES` distinct values that are either exactly two or at
  most :data:`MAX_CLASS_RATIO` of the rows, are classification;
* every other numeric target is regression.

Classification is ``"binary"`` with two classes and ``"multiclass"`` with more.

These rules are ours, not scikit-learn's ``type_of_target``: that one calls any
column of whole numbers classification (the integers 0 to 50 over 1,000 rows
are "multiclass", a count or an age that should be regressed), and raises on a
missing value where these rules ignore it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlops_nb.dtypes import is_number
from mlops_nb.errors import DataSourceError
from mlops_nb.jsonvalues import scalar
from mlops_nb.tasks import TASK_CHOICES, TASKS

__all__ = ["MAX_AUTO_CLASSES", "MAX_CLASS_RATIO", "TASKS", "TASK_CHOICES", "infer_task"]

MAX_AUTO_CLASSES = 20
MAX_CLASS_RATIO = 0.2
_SHOWN_CLASSES = 10


def infer_task(y: pd.Series, task: str = "auto") -> str:
    """Return the learning task for target ``y``: inferred, or ``task`` validated.

    Args:
        y: The target column (its name appears in messages).
        task: ``"auto"`` to infer, or one of :data:`TASKS` to check against ``y``.

    Returns:
        ``"binary"``, ``"multiclass"`` or ``"regression"``.

    Raises:
        DataSourceError: If ``task`` is unknown, ``y`` has no values or a
            single distinct value, or ``y`` does not fit the requested task.
    """
    choice = _checked_choice(task, y.name)
    values = y.dropna()
    if values.empty:
        raise _error(y.name, f"has no values (all {len(y)} are missing); check the data source")
    classes = _distinct(values)
    if len(classes) < 2:
        raise _error(
            y.name,
            f"has a single distinct value ({_show(classes)}); a model needs at least two "
            f"classes or varying values. Check the data source or choose another target",
        )
    if choice == "auto":
        return _inferred(values, len(classes))
    _validate(choice, values, classes, y.name)
    return choice


def _checked_choice(task: Any, column: Any) -> str:
    """Normalise ``task`` and refuse unknown names."""
    choice = str(task).strip().lower() if isinstance(task, str) else task
    if choice not in TASK_CHOICES:
        raise DataSourceError(
            f"unknown task {task!r} for target {column!r}; valid tasks: "
            f"{', '.join(TASK_CHOICES)}. Pass one with -p task=<task>.",
            column=column,
            task=task,
        )
    return str(choice)


def _distinct(values: pd.Series) -> list[Any]:
    """Distinct non-null values, sorted when they can be."""
    unique = list(pd.unique(values))
    try:
        return sorted(unique)
    except TypeError:
        return unique


def _is_label_like(values: pd.Series) -> bool:
    """True for bool, categorical and non-numeric targets."""
    dtype = values.dtype
    return isinstance(dtype, pd.CategoricalDtype) or not is_number(dtype)


def _is_whole(values: pd.Series) -> bool:
    """True when every value of a numeric series is a finite whole number."""
    if pd.api.types.is_integer_dtype(values.dtype):
        return True
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    return bool(np.all(np.isfinite(numbers)) and np.all(numbers == np.round(numbers)))


def _inferred(values: pd.Series, n_classes: int) -> str:
    """Apply the ``auto`` rules of the module docstring."""
    classification = _is_label_like(values) or (
        _is_whole(values)
        and n_classes <= MAX_AUTO_CLASSES
        and (n_classes == 2 or n_classes <= MAX_CLASS_RATIO * len(values))
    )
    if not classification:
        return "regression"
    return "binary" if n_classes == 2 else "multiclass"


def _validate(task: str, values: pd.Series, classes: list[Any], column: Any) -> None:
    """Check that an explicitly requested task fits the target."""
    count = len(classes)
    if task == "binary" and count != 2:
        raise _error(
            column,
            f"has {count} classes ({_show(classes)}) but task=binary needs exactly 2; use "
            f"-p task=multiclass or -p task=auto, or map the target to two classes",
        )
    if task == "multiclass" and count < 3:
        raise _error(
            column,
            f"has only 2 classes ({_show(classes)}) but task=multiclass needs 3 or more; use "
            f"-p task=binary or -p task=auto",
        )
    if task == "regression" and _is_label_like(values):
        raise _error(
            column,
            f"has dtype {values.dtype}, not numbers, but task=regression needs a numeric "
            f"target; use -p task=binary, -p task=multiclass or -p task=auto",
        )


def _show(classes: list[Any]) -> str:
    """List a few classes for a message."""
    shown = ", ".join(repr(scalar(c)) for c in classes[:_SHOWN_CLASSES])
    more = len(classes) - _SHOWN_CLASSES
    return shown + (f", ... ({more} more)" if more > 0 else "")


def _error(column: Any, problem: str) -> DataSourceError:
    """A DataSourceError about the target column."""
    return DataSourceError(f"target column {column!r} {problem}.", column=column)
