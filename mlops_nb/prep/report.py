"""Display tables: missing values per column and a before/after summary."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

from mlops_nb.dtypes import is_number

SUMMARY_COLUMNS = ["metric", "before", "after", "change"]


def numeric_columns(df: pd.DataFrame, exclude: tuple[str, ...] = ()) -> list[str]:
    """Return the numeric, non-boolean columns of ``df`` not in ``exclude``."""
    return [column for column in df.columns if column not in exclude and is_number(df[column])]


def missing_table(df: pd.DataFrame) -> pd.DataFrame:
    """Count missing values per column, most missing first.

    Returns:
        Columns ``column``, ``dtype``, ``missing`` (count) and
        ``missing_pct`` (0-100, rounded to 0.01).
    """
    counts = df.isna().sum()
    share = counts / len(df) * 100 if len(df) else counts * 0.0
    table = pd.DataFrame(
        {
            "column": [str(c) for c in df.columns],
            "dtype": [str(t) for t in df.dtypes],
            "missing": counts.to_numpy(dtype=int),
            "missing_pct": np.round(share.to_numpy(dtype=float), 2),
        }
    )
    table = table.sort_values("missing", ascending=False, kind="stable")
    return table.reset_index(drop=True)


def before_after(before_df: pd.DataFrame, after_df: pd.DataFrame) -> pd.DataFrame:
    """Compare two versions of a data set, for display in a notebook.

    Args:
        before_df: The data before a step (for instance raw data).
        after_df: The same data after it (for instance cleansed).

    Returns:
        One row per metric -- ``rows``, ``columns``, ``missing cells``,
        ``duplicate rows`` and ``min <col>`` / ``max <col>`` for every numeric
        column of either frame -- with ``before``, ``after`` and ``change``
        (``after - before``; NaN when a side lacks the column).
    """
    rows = [
        ("rows", len(before_df), len(after_df)),
        ("columns", before_df.shape[1], after_df.shape[1]),
        ("missing cells", int(before_df.isna().sum().sum()), int(after_df.isna().sum().sum())),
        ("duplicate rows", _duplicates(before_df), _duplicates(after_df)),
    ]
    columns = numeric_columns(before_df)
    columns += [c for c in numeric_columns(after_df) if c not in columns]
    for column in columns:
        for stat in ("min", "max"):
            rows.append(
                (f"{stat} {column}", _stat(before_df, column, stat), _stat(after_df, column, stat))
            )
    table = pd.DataFrame(rows, columns=SUMMARY_COLUMNS[:3])
    table["before"] = table["before"].astype(float)
    table["after"] = table["after"].astype(float)
    table["change"] = table["after"] - table["before"]
    return table


def _duplicates(df: pd.DataFrame) -> float:
    try:
        return float(df.duplicated().sum())
    except TypeError:  # unhashable cells (lists, dicts) cannot be compared
        return float("nan")


def _stat(df: pd.DataFrame, column: str, stat: str) -> float:
    if column not in df.columns or not is_numeric_dtype(df[column]):
        return float("nan")
    values = df[column].astype(float)
    return float(values.min() if stat == "min" else values.max())
