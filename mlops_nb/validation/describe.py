"""Describe a contract as a table, for display in a notebook."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pandera.pandas as pa

from mlops_nb.errors import listing
from mlops_nb.validation._dtypes import dtype_label

SUMMARY_COLUMNS = ["column", "dtype", "nullable", "checks"]
MAX_LISTED = 8


def _listing(values: Any) -> str:
    return listing(values, MAX_LISTED, more=", ... (+{})")


def _in_range(stats: dict[str, Any]) -> str:
    low = ">=" if stats.get("include_min", True) else ">"
    high = "<=" if stats.get("include_max", True) else "<"
    return f"{low} {stats['min_value']} and {high} {stats['max_value']}"


def _str_length(stats: dict[str, Any]) -> str:
    if stats.get("exact_value") is not None:
        return f"length {stats['exact_value']}"
    return f"length {stats.get('min_value') or 0} to {stats.get('max_value') or 'any'}"


TEMPLATES: dict[str, Callable[[dict[str, Any]], str]] = {
    "in_range": _in_range,
    "greater_than_or_equal_to": lambda s: f">= {s['min_value']}",
    "greater_than": lambda s: f"> {s['min_value']}",
    "less_than_or_equal_to": lambda s: f"<= {s['max_value']}",
    "less_than": lambda s: f"< {s['max_value']}",
    "equal_to": lambda s: f"== {s['value']}",
    "not_equal_to": lambda s: f"!= {s['value']}",
    "isin": lambda s: f"one of: {_listing(s['allowed_values'])}",
    "notin": lambda s: f"none of: {_listing(s['forbidden_values'])}",
    "unique_values_eq": lambda s: f"exactly the values: {_listing(s['values'])}",
    "str_matches": lambda s: f"matches {s['pattern']!r}",
    "str_contains": lambda s: f"contains {s['pattern']!r}",
    "str_startswith": lambda s: f"starts with {s['string']!r}",
    "str_endswith": lambda s: f"ends with {s['string']!r}",
    "str_length": _str_length,
}


def describe_check(check: pa.Check) -> str:
    """Say in words what ``check`` requires: ``>= 18 and <= 100``, ``one of: a, b``."""
    template = TEMPLATES.get(check.name or "")
    try:
        return template(check.statistics or {}) if template else str(check.error or check.name)
    except (KeyError, TypeError):
        return str(check.error or check.name)


def _column_checks(column: pa.Column) -> str:
    parts = [describe_check(check) for check in column.checks]
    if column.unique:
        parts.append("unique")
    if not column.required:
        parts.append("optional column")
    return "; ".join(parts)


def contract_summary(schema: pa.DataFrameSchema) -> pd.DataFrame:
    """One row per column of ``schema``: ``column, dtype, nullable, checks``.

    Checks of the whole frame, if any, come last in a row named ``(dataframe)``.
    """
    rows = [
        {
            "column": str(name),
            "dtype": dtype_label(column.dtype),
            "nullable": bool(column.nullable),
            "checks": _column_checks(column),
        }
        for name, column in schema.columns.items()
    ]
    if schema.checks:
        checks = "; ".join(describe_check(check) for check in schema.checks)
        rows.append({"column": "(dataframe)", "dtype": "", "nullable": False, "checks": checks})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
