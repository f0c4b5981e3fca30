"""Row keys: a stable identity for every row, and the hash split built on it.

A champion and a challenger can only be compared honestly on rows neither of
them trained on. Two things make that possible:

* :func:`row_keys` gives every row a 64-bit identity computed from its values
  (all columns, target included), independent of row order, column order and
  of whether a number was read as ``int`` or ``float``. Each registered version
  records the keys of its training rows, so any later run can exclude the rows
  a champion has seen.
* :func:`hash_sides` puts a row on the test side when the hash of its *split
  key* (the row's identity, or one key column such as ``customer_id``) falls in
  the lowest ``test_size`` share of the hash space. The side of a row depends on
  that row alone: the same row is held out in every run, whatever the seed and
  however many rows are added (a retraining run on old plus new data keeps the
  old holdout out of training).

The rule a run used is a :class:`SplitRule`, recorded with the model version.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from mlops_nb.dtypes import is_temporal
from mlops_nb.errors import PreparationError

__all__ = ["KEY_COLUMN", "ROW_HASH", "SPLIT_METHODS", "SplitRule", "hash_sides", "row_keys"]

KEY_COLUMN = "row_key"
"""The column that holds row identities in key artifacts and ``compared_rows``."""
ROW_HASH = "mlops-nb-row-v1"
"""The version of the hashing below; keys of another version are never compared."""
SPLIT_METHODS = ("hash", "random")
_MISSING = "\x00<missing>"
_EXACT_FLOAT = 2.0**53
_SIDE_SALT = "mlops-nb-split"


@dataclass(frozen=True)
class SplitRule:
    """How a run split its rows, recorded with every model version it produced.

    Attributes:
        method: ``"hash"`` (stable per row) or ``"random"`` (by ``seed``).
        test_size: The share of rows held out.
        key: The column whose value decides a row's side; None = the whole row.
        columns: The columns a row's identity is computed from (sorted).
        seed: The seed of a random split (None for a hash split).
        hash: The row-hash version (:data:`ROW_HASH`).
    """

    method: str
    test_size: float
    key: str | None = None
    columns: tuple[str, ...] = field(default_factory=tuple)
    seed: int | None = None
    hash: str = ROW_HASH

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["columns"] = list(self.columns)
        return record

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> SplitRule:
        known = {name: record[name] for name in cls.__dataclass_fields__ if name in record}
        known["columns"] = tuple(known.get("columns") or ())
        return cls(**known)

    def describe(self) -> str:
        """One sentence for reports and model cards."""
        if self.method == "random":
            return f"random split (seed {self.seed}), {self.test_size:.0%} held out"
        on = f"column {self.key!r}" if self.key else "the whole row"
        return (
            f"hash split on {on}, {self.test_size:.0%} held out: a row's side depends on "
            f"that row alone, so every run keeps the same rows out"
        )

    def same_identity(self, other: SplitRule) -> bool:
        """Whether row keys made under ``other`` can be compared with keys made under this."""
        return self.hash == other.hash and tuple(self.columns) == tuple(other.columns)


def row_keys(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.Series:
    """A 64-bit identity per row, from the values of ``columns`` (default: all).

    The identity does not depend on the order of rows or columns, and a number
    has the same key whether it was stored as an integer, a float or a boolean
    (integers beyond 2**53 keep their exact value). Text is compared as text,
    missing values of any kind are one value.

    Returns:
        ``uint64`` keys with the index of ``frame``; ``attrs["columns"]`` names
        the columns they were computed from.

    Raises:
        PreparationError: a requested column is missing.
    """
    names = sorted(frame.columns if columns is None else columns, key=str)
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise PreparationError(
            f"cannot compute row keys: column(s) {', '.join(map(str, missing))} are not in the "
            f"data (it has {', '.join(map(str, frame.columns))}).",
            column=missing[0],
        )
    canonical = pd.DataFrame(
        {str(name): _canonical(frame[name]) for name in names}, index=frame.index
    )
    keys = pd.util.hash_pandas_object(canonical, index=False).rename(KEY_COLUMN)
    keys.attrs["columns"] = [str(name) for name in names]
    return keys


def hash_sides(keys: pd.Series, test_size: float) -> pd.Series:
    """True for the rows whose split ``keys`` put them on the test side.

    A row is held out when its (re-salted) key, read as a fraction of the
    64-bit range, is below ``test_size``; no other row has any influence.
    """
    salted = pd.util.hash_pandas_object(
        pd.DataFrame({"key": keys.to_numpy(dtype="uint64"), "salt": _SIDE_SALT}), index=False
    ).to_numpy()
    fraction = (salted >> np.uint64(11)).astype("float64") / _EXACT_FLOAT
    return pd.Series(fraction < test_size, index=keys.index, name="test")


def _canonical(column: pd.Series) -> Any:
    """The column's values in one representation per meaning (see :func:`row_keys`)."""
    if is_bool_dtype(column.dtype) or (is_numeric_dtype(column.dtype) and column.dtype != object):
        return _canonical_numbers(column)
    if is_temporal(column.dtype):
        values = column.astype("int64", copy=False) if not column.hasnans else None
        if values is not None:
            return values.to_numpy()
        return column.astype("string").fillna(_MISSING).to_numpy(dtype=object)
    text = column.astype("string")
    return text.fillna(_MISSING).to_numpy(dtype=object)


def _canonical_numbers(column: pd.Series) -> Any:
    numbers = column.astype("float64").to_numpy(na_value=np.nan)
    numbers = np.where(np.isnan(numbers), np.nan, numbers + 0.0)  # one NaN, one zero
    if column.dtype.kind in "iu" and np.abs(numbers).max(initial=0.0) >= _EXACT_FLOAT:
        return column.astype("string").to_numpy(dtype=object)  # exact beyond float precision
    return numbers
