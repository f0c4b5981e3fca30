"""A one-table profile of a DataFrame, readable in a notebook.

:func:`profile` gives one row per column with its role, missing values,
cardinality, range and most frequent value; :func:`summary` gives the
frame-level figures (rows, duplicates, missing cells, memory).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlops_nb.dtypes import is_text
from mlops_nb.jsonvalues import scalar

__all__ = [
    "IDENTIFIER_MIN_DISTINCT",
    "PROFILE_COLUMNS",
    "ROLES",
    "column_role",
    "profile",
    "summary",
]

ROLES: tuple[str, ...] = ("target", "numeric", "categorical", "identifier", "datetime", "boolean")
IDENTIFIER_MIN_DISTINCT = 0.95
"""Share of distinct values above which a text column is an identifier."""
PROFILE_COLUMNS: tuple[str, ...] = (
    "column",
    "dtype",
    "role",
    "non_null",
    "missing",
    "missing_pct",
    "unique",
    "min",
    "max",
    "mean",
    "std",
    "top",
    "top_freq",
)


def column_role(series: pd.Series, target: str | None = None) -> str:
    """Classify a column as one of :data:`ROLES`.

    A text-like column with at least two values, of which at least
    :data:`IDENTIFIER_MIN_DISTINCT` (95 %) are distinct, is an
    ``"identifier"`` (a few duplicated rows do not hide an id column); other
    text-like columns are ``"categorical"``.

    Args:
        series: The column.
        target: Name of the target column, if any.

    Returns:
        The column's role.
    """
    dtype = series.dtype
    if target is not None and series.name == target:
        return "target"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    values = series.dropna()
    distinct = _nunique(values) if is_text(dtype) and len(values) > 1 else 0
    if distinct >= IDENTIFIER_MIN_DISTINCT * len(values) and distinct > 1:
        return "identifier"
    return "categorical"


def _nunique(series: pd.Series) -> int:
    """Distinct non-null values; unhashable values (lists) are compared as text."""
    try:
        return int(series.nunique(dropna=True))
    except TypeError:
        return int(series.astype(str).nunique(dropna=True))


def _top(values: pd.Series) -> tuple[Any, int]:
    """The most frequent non-null value and its count (``None, 0`` if there is none)."""
    if values.empty:
        return None, 0
    try:
        counts = values.value_counts(dropna=True, sort=True)
    except TypeError:
        counts = values.astype(str).value_counts(dropna=True, sort=True)
    return scalar(counts.index[0]), int(counts.iloc[0])


def _column_profile(series: pd.Series, target: str | None) -> dict[str, Any]:
    """Profile one column."""
    values = series.dropna()
    rows = len(series)
    role = column_role(series, target)
    top, top_freq = _top(values)
    record: dict[str, Any] = {
        "column": str(series.name),
        "dtype": str(series.dtype),
        "role": role,
        "non_null": len(values),
        "missing": rows - len(values),
        "missing_pct": round(100.0 * (rows - len(values)) / rows, 2) if rows else 0.0,
        "unique": _nunique(values),
        "min": None,
        "max": None,
        "mean": None,
        "std": None,
        "top": top,
        "top_freq": top_freq,
    }
    record.update(_range(values))
    return record


def _range(values: pd.Series) -> dict[str, Any]:
    """Min and max of ordered columns; mean and std of numeric ones."""
    dtype = values.dtype
    if values.empty or pd.api.types.is_bool_dtype(dtype):
        return {}
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return {"min": values.min(), "max": values.max()}
    if not pd.api.types.is_numeric_dtype(dtype):
        return {}
    return {
        "min": scalar(values.min()),
        "max": scalar(values.max()),
        "mean": round(float(values.mean()), 4),
        "std": round(float(values.std()), 4) if len(values) > 1 else None,
    }


def profile(df: pd.DataFrame, target: str | None = None) -> pd.DataFrame:
    """Profile every column of ``df``.

    Args:
        df: The data.
        target: Name of the target column; its role is ``"target"``.

    Returns:
        One row per column of ``df``, in order, with the columns
        :data:`PROFILE_COLUMNS`: ``missing_pct`` is a percentage (0-100);
        ``min``/``max`` are filled for numeric and datetime columns,
        ``mean``/``std`` for numeric ones; ``top`` is the most frequent value.
    """
    records = [_column_profile(df.iloc[:, i], target) for i in range(df.shape[1])]
    table = pd.DataFrame.from_records(records, columns=list(PROFILE_COLUMNS))
    for name in ("min", "max", "top"):
        table[name] = table[name].astype(object)
    return table


def summary(df: pd.DataFrame) -> dict[str, Any]:
    """Frame-level figures of ``df``.

    Returns:
        ``rows``, ``columns``, ``duplicates`` (rows identical to an earlier
        row), ``missing_cells`` and ``memory_mb`` (deep memory use, MiB).
    """
    try:
        duplicates = int(df.duplicated().sum()) if df.shape[1] else 0
    except TypeError:
        duplicates = int(df.astype(str).duplicated().sum())
    return {
        "rows": len(df),
        "columns": df.shape[1],
        "duplicates": duplicates,
        "missing_cells": int(df.isna().sum().sum()),
        "memory_mb": round(float(df.memory_usage(deep=True).sum()) / 2**20, 4),
    }
