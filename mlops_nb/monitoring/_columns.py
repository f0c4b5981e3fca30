"""Column helpers shared by the profile and the detector: type families and category keys."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from mlops_nb.dtypes import is_temporal

FAMILIES: tuple[str, ...] = ("numeric", "boolean", "text", "datetime", "empty")
"""Type families; two columns are compatible when their families match (or one is empty)."""

_INFERRED_FAMILY = {
    "boolean": "boolean",
    "integer": "numeric",
    "floating": "numeric",
    "mixed-integer-float": "numeric",
    "decimal": "numeric",
    "integer-na": "numeric",
    "datetime": "datetime",
    "datetime64": "datetime",
    "date": "datetime",
    "timedelta": "datetime",
    "timedelta64": "datetime",
    "time": "datetime",
    "period": "datetime",
    "empty": "empty",
}


def family(series: pd.Series) -> str:
    """The type family of ``series``: one of :data:`FAMILIES` but ``"empty"``.

    Object columns are classified by their values (pandas' ``infer_dtype``),
    so booleans with missing values (an object column) are ``"boolean"``. A
    categorical column has the family of its categories.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return _dtype_family(dtype.categories.dtype, dtype.categories)
    return _dtype_family(dtype, series)


def _dtype_family(dtype: Any, values: Any) -> str:
    if ptypes.is_bool_dtype(dtype):
        return "boolean"
    if ptypes.is_numeric_dtype(dtype):
        return "numeric"
    if is_temporal(dtype):
        return "datetime"
    if isinstance(dtype, pd.PeriodDtype):
        return "datetime"
    if ptypes.is_object_dtype(dtype):
        return _INFERRED_FAMILY.get(ptypes.infer_dtype(values, skipna=True), "text")
    return "text"


def float_values(series: pd.Series) -> np.ndarray:
    """The finite values of a numeric column as float64 (missing and ±inf dropped)."""
    values: np.ndarray = series.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(values)
    return values if finite.all() else values[finite]


def category_key(value: Any) -> str:
    """The text key of one category value, identical for ``1``, ``1.0`` and ``np.int64(1)``."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value)


def category_counts(series: pd.Series, limit: int | None = None) -> tuple[dict[str, int], int]:
    """Counts of the non-missing values of ``series`` by :func:`category_key`.

    Args:
        series: The column.
        limit: When the column holds more distinct values than this, the
            counts are not built (an empty dict is returned).

    Returns:
        ``(counts, n_distinct)``: counts by key, largest first, and the number of
        distinct values.
    """
    counts = series.value_counts(dropna=True, sort=True)
    counts = counts[counts.to_numpy() > 0]
    if limit is not None and len(counts) > limit:
        return {}, len(counts)
    index = counts.index
    numbers = counts.to_numpy(dtype=np.int64).tolist()
    if ptypes.is_string_dtype(index.dtype) and ptypes.infer_dtype(index) == "string":
        return dict(zip(index.tolist(), numbers, strict=True)), len(counts)
    keyed: dict[str, int] = {}
    for value, count in zip(index.tolist(), numbers, strict=True):
        key = category_key(value)
        keyed[key] = keyed.get(key, 0) + count
    return keyed, len(counts)
