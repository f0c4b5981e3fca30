"""Sanity checks on a contract before pandera reads or writes it.

pandera silently ignores keys it does not know (``nulable: true``,
``strikt: true``) and reads a YAML file with no ``columns:`` as a schema that
accepts anything. These checks turn such mistakes into :class:`ContractError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandera.pandas as pa

from mlops_nb.errors import ContractError
from mlops_nb.validation._dtypes import cannot_hold_nulls, dtype_label

SCHEMA_KEYS = frozenset(
    {
        "schema_type",
        "version",
        "api",
        "dataframe_library",
        "columns",
        "checks",
        "index",
        "multiindex",
        "dtype",
        "coerce",
        "strict",
        "name",
        "ordered",
        "unique",
        "report_duplicates",
        "unique_column_names",
        "add_missing_columns",
        "title",
        "description",
        "drop_invalid_rows",
        "metadata",
    }
)
COLUMN_KEYS = frozenset(
    {
        "title",
        "description",
        "pii",  # mlops-nb's own: the column holds personal data (kept as the column's metadata)
        "dtype",
        "nullable",
        "checks",
        "name",
        "unique",
        "coerce",
        "required",
        "regex",
        "default",
        "report_duplicates",
        "drop_invalid_rows",
    }
)
FORMAT_HINT = (
    "a contract is pandera's YAML format: 'columns:' mapping each column to its "
    "'dtype:', 'nullable:' and checks such as 'isin:' or 'in_range:'; see "
    "contracts/churn.yaml"
)


def _is_check_name(key: str) -> bool:
    return not key.startswith("_") and callable(getattr(pa.Check, key, None))


def _column_entries(columns: Any) -> list[tuple[str, Any]]:
    if isinstance(columns, dict):
        return [(str(name), entry) for name, entry in columns.items()]
    return [
        (str(entry.get("name", "?")) if isinstance(entry, dict) else "?", entry)
        for entry in columns
    ]


def _check_column(path: Path, name: str, entry: Any) -> None:
    if not isinstance(entry, dict):
        raise ContractError(
            f"{path}: column '{name}' must map to settings such as 'dtype:' and "
            f"'nullable:', not {entry!r}; {FORMAT_HINT}.",
            path=path,
            column=name,
        )
    unknown = sorted(k for k in entry if k not in COLUMN_KEYS and not _is_check_name(k))
    if unknown:
        raise ContractError(
            f"{path}: column '{name}' has unknown key(s) {', '.join(unknown)}; "
            f"use {', '.join(sorted(COLUMN_KEYS))} or a pandera check name "
            f"(isin, in_range, greater_than_or_equal_to, ...).",
            path=path,
            column=name,
        )


def check_layout(data: Any, path: Path) -> None:
    """Raise :class:`ContractError` unless parsed YAML ``data`` looks like a pandera schema."""
    if not isinstance(data, dict):
        raise ContractError(
            f"{path} is not a contract: expected a YAML mapping, got "
            f"{type(data).__name__}; {FORMAT_HINT}.",
            path=path,
        )
    unknown = sorted(str(key) for key in data if key not in SCHEMA_KEYS)
    if unknown:
        raise ContractError(
            f"{path} is not a pandera contract: unknown top-level key(s) "
            f"{', '.join(unknown)}; allowed: {', '.join(sorted(SCHEMA_KEYS))}.",
            path=path,
        )
    if data.get("schema_type", "dataframe") != "dataframe":
        raise ContractError(
            f"{path}: schema_type is {data['schema_type']!r}, expected 'dataframe'.",
            path=path,
        )
    columns = data.get("columns")
    if not isinstance(columns, (dict, list)) or not columns:
        raise ContractError(f"{path} has no 'columns:' section; {FORMAT_HINT}.", path=path)
    for name, entry in _column_entries(columns):
        _check_column(path, name, entry)


def check_schema(schema: pa.DataFrameSchema, where: str) -> None:
    """Raise :class:`ContractError` for columns that cannot work as declared.

    A nullable column with a numpy ``int``/``bool`` dtype cannot hold a missing
    value: pandera fails to coerce NaN to ``int64`` and silently turns it into
    ``False`` for ``bool``.
    """
    for name, column in schema.columns.items():
        if column.nullable and cannot_hold_nulls(column.dtype):
            better = "boolean" if dtype_label(column.dtype) == "bool" else "Int64 or float64"
            raise ContractError(
                f"{where}: column '{name}' is nullable but dtype "
                f"{dtype_label(column.dtype)} cannot hold missing values; use "
                f"dtype {better}, or set nullable: false.",
                column=name,
            )
