"""Infer a starting contract from a data frame the project has not seen before."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa

from mlops_nb.dtypes import is_number
from mlops_nb.errors import ContractError
from mlops_nb.jsonvalues import scalar
from mlops_nb.validation._dtypes import DEFAULT_STR

MAX_CATEGORIES = 50
"""A text column with at most this many distinct values gets an ``isin`` check..."""
MAX_CATEGORY_RATIO = 0.2
"""...if also distinct values / non-null values is at most this (identifiers are not)."""


def _is_text(series: pd.Series) -> bool:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return True
    if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object:
        return True
    return bool(
        series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) == "string"
    )


def _dtype_for(series: pd.Series) -> Any:
    """The column's own dtype; object columns holding only text become ``str``.

    A categorical column becomes plain ``category``: pandera's YAML keeps no
    categories, so the contract would not load back equal otherwise.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        return "category"
    if series.dtype == object and _is_text(series):
        return DEFAULT_STR
    return series.dtype


def _category_checks(series: pd.Series) -> list[pa.Check]:
    values = series.dropna().unique()
    seen = int(series.notna().sum())
    if not 0 < len(values) <= MAX_CATEGORIES or len(values) > MAX_CATEGORY_RATIO * seen:
        return []
    return [pa.Check.isin(sorted((scalar(v) for v in values), key=str))]


def _numeric_checks(series: pd.Series) -> list[pa.Check]:
    if not is_number(series.dtype):
        return []
    low = series.min(skipna=True)
    return [pa.Check.ge(0)] if pd.notna(low) and low >= 0 else []


def _infer_column(series: pd.Series, is_target: bool) -> pa.Column:
    checks = _category_checks(series) if _is_text(series) else _numeric_checks(series)
    nullable = bool(series.isna().any()) and not is_target
    return pa.Column(_dtype_for(series), checks, nullable=nullable)


def _description(df: pd.DataFrame, target: str | None) -> str:
    about_target = f", target '{target}' (never null)" if target is not None else ""
    return (
        f"Inferred by mlops-nb from {len(df)} rows and {df.shape[1]} columns{about_target}. "
        f"It fixes each column's dtype, which columns may be null, the values seen in "
        f"low-cardinality text columns and non-negativity of numeric columns; it does not "
        f"pin minimum or maximum values. Review and tighten it (ranges, allowed values), "
        f"save it with save_contract(schema, 'contracts/NAME.yaml') and use it with "
        f"-p contract=contracts/NAME.yaml or a contracts: entry in pipeline.yaml."
    )


def _check_frame(df: pd.DataFrame, target: str | None) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ContractError(f"infer_contract needs a pandas DataFrame, got {type(df).__name__}.")
    if df.empty:
        raise ContractError(
            "cannot infer a contract from an empty table (no rows or no columns); load a "
            "sample that has data."
        )
    duplicated = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
    if duplicated:
        raise ContractError(
            f"cannot infer a contract: duplicated column name(s) {', '.join(duplicated)}; "
            f"rename them first.",
            columns=duplicated,
        )
    if target is not None and target not in df.columns:
        raise ContractError(
            f"target column '{target}' is not in the data (columns: "
            f"{', '.join(map(str, df.columns))}); pass one of those as target.",
            column=target,
        )


def infer_contract(
    df: pd.DataFrame, target: str | None = None, *, name: str = "inferred"
) -> pa.DataFrameSchema:
    """Build a starting contract from ``df``: every column with its dtype, coerced.

    Columns that hold nulls are nullable (the ``target`` never is); text columns
    with few distinct values (at most :data:`MAX_CATEGORIES`, and few per row)
    only accept the values seen; numeric columns whose values are all >= 0 must
    stay >= 0. No min/max is pinned, so new data is not rejected for being new.
    The contract is ``strict``: a column it does not list is an error.

    Args:
        df: a representative sample of the data.
        target: the label column, if any.
        name: the contract's name, used in validation messages.

    Raises:
        ContractError: ``df`` is empty, has duplicated column names, or lacks ``target``.
    """
    _check_frame(df, target)
    columns = {column: _infer_column(df[column], column == target) for column in df.columns}
    return pa.DataFrameSchema(
        columns, strict=True, coerce=True, name=name, description=_description(df, target)
    )
