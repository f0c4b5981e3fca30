"""Train/test split, stratified by class whenever that is possible."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import pandas as pd
from sklearn.model_selection import train_test_split

from mlops_nb.dtypes import is_number
from mlops_nb.errors import PreparationError
from mlops_nb.prep.cleanse import require_column
from mlops_nb.prep.keys import KEY_COLUMN, SPLIT_METHODS, SplitRule, hash_sides, row_keys
from mlops_nb.tasks import check_task as check_any_task

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
        rule: How the rows were split (recorded with the model version).
        train_keys: The identity of each training row, in ``train``'s order.
        test_keys: The identity of each test row, in ``test``'s order.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    stratified: bool
    note: str
    target: str
    task: str
    rule: SplitRule | None = None
    train_keys: pd.Series | None = None
    test_keys: pd.Series | None = None

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
    """Return ``task`` if it is one of :data:`~mlops_nb.tasks.TASKS`.

    Raises:
        PreparationError: for any other value.
    """
    return check_any_task(task, PreparationError)


def check_target(y: pd.Series, task: str) -> None:
    """Raise :class:`PreparationError` if the values of ``y`` do not suit ``task``."""
    name = y.name
    if task == "regression":
        if not is_number(y):
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
    df: pd.DataFrame,
    target: str,
    task: str,
    *,
    test_size: float = 0.2,
    seed: int = 0,
    method: str = "random",
    key: str | None = None,
    identity: pd.Series | None = None,
) -> SplitResult:
    """Split ``df`` into training and test rows.

    ``method="hash"`` is a *hash split*: a row is held out when its split key
    (the value of column ``key``, or the row's identity) hashes into the lowest
    ``test_size`` share, so its side depends on that row alone and is the same
    in every run, whatever ``seed`` and whatever other rows are present. Class
    shares are kept in expectation (the hash ignores the class).

    ``method="random"`` stratifies classification targets (each side keeps
    the class shares) when every class has at least two rows and each side can
    hold one row per class; otherwise the split is plain random and ``note``
    says why.

    Either way the result carries the :class:`~mlops_nb.prep.keys.SplitRule`
    and the identity (:func:`~mlops_nb.prep.keys.row_keys`) of every training
    and test row, which the register stage records so that later comparisons
    can leave out the rows a model was trained on.

    Args:
        df: Cleansed data (no missing target).
        target: Target column.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        test_size: Share of rows for the test side, strictly between 0 and 1.
        seed: Random seed of a random split, so the same data always splits
            the same way (unused by a hash split).
        method: ``"hash"`` or ``"random"``.
        key: The column a hash split keys on (rows sharing a value stay
            together); None = the whole row.
        identity: Row identities aligned with ``df``'s index (e.g. computed on
            the validated rows before cleansing); None = ``row_keys(df)``.

    Raises:
        PreparationError: bad ``task`` or ``test_size``, missing target values,
            fewer than 10 rows, a side that would be empty, or (hash split) a
            class with no training row.
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
    columns = list(df.columns) if identity is None else identity.attrs.get("columns")
    identity = _identity(df, identity)
    rule = _rule(df, method, key, test_size, seed, columns or list(df.columns))
    if method == "hash":
        split_keys = identity if key is None else row_keys(df, [key])
        train, test, note = _hash_split(df, target, task, test_size, split_keys)
        stratified = False
    else:
        labels, note = _stratify_labels(y, task, n_train, n_test)
        train, test = train_test_split(df, test_size=n_test, random_state=seed, stratify=labels)
        stratified = labels is not None
    return SplitResult(
        train,
        test,
        stratified,
        note,
        target,
        task,
        rule=rule,
        train_keys=identity.loc[train.index],
        test_keys=identity.loc[test.index],
    )


def _identity(df: pd.DataFrame, identity: pd.Series | None) -> pd.Series:
    if identity is None:
        return row_keys(df)
    try:
        aligned = identity.loc[df.index]
    except KeyError as exc:
        raise PreparationError(
            "row identities must cover every row of the data (align them by index, e.g. "
            "row_keys(validated) before cleansing).",
            parameter="identity",
        ) from exc
    return aligned.astype("uint64").rename(KEY_COLUMN)


def _rule(
    df: pd.DataFrame,
    method: str,
    key: str | None,
    test_size: float,
    seed: int,
    columns: list[str],
) -> SplitRule:
    if method not in SPLIT_METHODS:
        raise PreparationError(
            f"unknown split method {method!r}; use one of {', '.join(SPLIT_METHODS)}.",
            parameter="split",
        )
    if key is not None:
        require_column(df, key, role="split key")
    return SplitRule(
        method=method,
        test_size=float(test_size),
        key=key,
        columns=tuple(sorted(map(str, columns))),
        seed=int(seed) if method == "random" else None,
    )


def _hash_split(
    df: pd.DataFrame, target: str, task: str, test_size: float, keys: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    held_out = hash_sides(keys, test_size).to_numpy()
    train, test = df.loc[~held_out], df.loc[held_out]
    if train.empty or test.empty:
        raise PreparationError(
            f"the hash split of {len(df)} row(s) at test_size={test_size} leaves {len(train)} "
            f"training and {len(test)} test row(s); provide more rows, change test_size, or "
            f"use split='random'.",
            parameter="test_size",
        )
    if task != "regression":
        untrained = sorted(set(test[target].unique()) - set(train[target].unique()), key=str)
        if untrained:
            shown = ", ".join(map(str, untrained[:5]))
            raise PreparationError(
                f"the hash split put every row of class(es) {shown} on the test side, so no "
                f"model could learn them; provide more rows of those classes or use "
                f"split='random'.",
                column=target,
            )
    note = (
        f"hash split: each row's side is fixed by its key, so every run (any seed, more "
        f"data) holds out the same rows; {len(test) / len(df):.1%} held out"
    )
    return train, test, note


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
