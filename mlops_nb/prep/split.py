"""Train/test split, stratified by class whenever that is possible."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from sklearn.model_selection import train_test_split

from mlops_nb.errors import PreparationError
from mlops_nb.prep.cleanse import require_column

TASKS = ("binary", "multiclass", "regression")
MIN_ROWS = 10


@dataclass(frozen=True)
class SplitResult:
    """What :func:`split` produced.

    Attributes:
        train: Training rows (original index kept).
        test: Test rows (original index kept).
        stratified: Whether class shares were preserved by stratification.
        note: Why the split was or was not stratified.
        target: The target column.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    stratified: bool
    note: str
    target: str
    task: str

    def target_summary(self) -> pd.DataFrame:
        """Class shares (classification) or ``describe()`` (regression) per side."""
        if self.task == "regression":
            return pd.DataFrame(
                {
                    "train": self.train[self.target].describe(),
                    "test": self.test[self.target].describe(),
                }
            )
        shares = {
            "train": self.train[self.target].value_counts(normalize=True),
            "test": self.test[self.target].value_counts(normalize=True),
        }
        return pd.DataFrame(shares).fillna(0.0)


def check_task(task: str) -> str:
    """Return ``task`` if it is one of :data:`TASKS`, else raise :class:`PreparationError`."""
    if task not in TASKS:
        raise PreparationError(
            f"Unknown task {task!r}; use one of {', '.join(TASKS)}.", parameter="task"
        )
    return task


def check_target(y: pd.Series, task: str) -> None:
    """Raise :class:`PreparationError` if the values of ``y`` do not suit ``task``."""
    name = y.name
    if task == "regression":
        if not is_numeric_dtype(y) or is_bool_dtype(y):
            raise PreparationError(
                f"Target {name!r} has dtype {y.dtype} but task 'regression' needs numbers; "
                "convert it (see standardize()) or use task 'binary'/'multiclass'.",
                column=name,
            )
        return
    classes = y.nunique(dropna=True)
    if classes < 2 or (task == "binary" and classes != 2):
        wanted = "exactly 2" if task == "binary" else "at least 2"
        hint = " Use task 'multiclass'." if task == "binary" and classes > 2 else ""
        raise PreparationError(
            f"Target {name!r} has {classes} class(es) but task {task!r} needs {wanted}.{hint}",
            column=name,
        )


def split(
    df: pd.DataFrame, target: str, task: str, *, test_size: float = 0.2, seed: int = 0
) -> SplitResult:
    """Split ``df`` into training and test rows.

    Classification targets are stratified (each side keeps the class shares)
    when every class has at least two rows and each side can hold one row per
    class; otherwise the split is plain random and ``note`` says why.

    Args:
        df: Cleansed data (no missing target).
        target: Target column.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        test_size: Share of rows for the test side, strictly between 0 and 1.
        seed: Random seed, so the same data always splits the same way.

    Raises:
        PreparationError: bad ``task`` or ``test_size``, missing target values,
            fewer than 10 rows, or a side that would be empty.
    """
    require_column(df, target)
    check_task(task)
    n_test, n_train = _sizes(len(df), test_size)
    y = df[target]
    if y.isna().any():
        raise PreparationError(
            f"Target {target!r} is missing in {int(y.isna().sum())} row(s); "
            "run cleanse() first to drop them.",
            column=target,
        )
    check_target(y, task)
    labels, note = _stratify_labels(y, task, n_train, n_test)
    train, test = train_test_split(df, test_size=n_test, random_state=seed, stratify=labels)
    return SplitResult(train, test, labels is not None, note, target, task)


def _sizes(rows: int, test_size: float) -> tuple[int, int]:
    if (
        isinstance(test_size, bool)
        or not isinstance(test_size, numbers.Real)
        or not 0 < test_size < 1
    ):
        raise PreparationError(
            f"test_size must be a fraction strictly between 0 and 1, got {test_size!r}; "
            "0.2 keeps a fifth of the rows for testing.",
            parameter="test_size",
        )
    if rows < MIN_ROWS:
        raise PreparationError(
            f"Only {rows} row(s) to split; at least {MIN_ROWS} are needed. Provide more data.",
        )
    n_test = math.ceil(test_size * rows)
    n_train = rows - n_test
    if n_test == 0 or n_train == 0:
        raise PreparationError(
            f"test_size={test_size} leaves {n_train} training and {n_test} test row(s) "
            f"out of {rows}; choose a test_size that leaves rows on both sides.",
            parameter="test_size",
        )
    return n_test, n_train


def _stratify_labels(
    y: pd.Series, task: str, n_train: int, n_test: int
) -> tuple[pd.Series | None, str]:
    if task == "regression":
        return None, "plain random split: regression target (no classes to stratify)"
    counts = y.value_counts()
    rare = counts[counts < 2]
    if not rare.empty:
        shown = ", ".join(map(str, rare.index[:5]))
        return None, f"plain random split: class(es) {shown} have fewer than 2 rows"
    if len(counts) > min(n_train, n_test):
        return None, (
            f"plain random split: {len(counts)} classes do not fit in "
            f"{n_train} training / {n_test} test rows"
        )
    return y, f"stratified by {y.name!r}: both sides keep the class shares"
