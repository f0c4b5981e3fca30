"""The input contract as JSON Schema, for OpenAPI, and as plain data, for ``/metadata``.

:func:`record_schema` turns each column of the pandera signature into a JSON
Schema property: its type (``integer``, ``number``, ``string``, ``boolean``),
``null`` when nullable, ``enum`` from ``isin``, ``minimum``/``maximum`` from
ranges, ``minLength``/``maxLength``/``pattern`` from text checks. The raw
pandera check names are kept in ``x-checks`` so /docs shows every rule,
including the ones JSON Schema cannot say.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pandera.pandas as pa

from mlops_nb.jsonvalues import plain
from mlops_nb.validation import describe_check, dtype_label
from mlops_nb.validation.fast import column_kind, example_record

__all__ = ["column_schema", "record_schema", "signature_columns"]

JSON_TYPES = {"int": "integer", "float": "number", "str": "string", "bool": "boolean"}


def _range(stats: dict[str, Any]) -> dict[str, Any]:
    low = "minimum" if stats.get("include_min", True) else "exclusiveMinimum"
    high = "maximum" if stats.get("include_max", True) else "exclusiveMaximum"
    return {low: stats["min_value"], high: stats["max_value"]}


def _length(stats: dict[str, Any]) -> dict[str, Any]:
    if stats.get("exact_value") is not None:
        return {"minLength": stats["exact_value"], "maxLength": stats["exact_value"]}
    out = {}
    if stats.get("min_value") is not None:
        out["minLength"] = stats["min_value"]
    if stats.get("max_value") is not None:
        out["maxLength"] = stats["max_value"]
    return out


Keywords = Callable[[dict[str, Any]], dict[str, Any]]
"""Check statistics -> the JSON Schema keywords saying the same."""

KEYWORDS: dict[str, Keywords] = {
    "in_range": _range,
    "greater_than_or_equal_to": lambda s: {"minimum": s["min_value"]},
    "greater_than": lambda s: {"exclusiveMinimum": s["min_value"]},
    "less_than_or_equal_to": lambda s: {"maximum": s["max_value"]},
    "less_than": lambda s: {"exclusiveMaximum": s["max_value"]},
    "equal_to": lambda s: {"const": s["value"]},
    "isin": lambda s: {"enum": list(s["allowed_values"])},
    "notin": lambda s: {"not": {"enum": list(s["forbidden_values"])}},
    "str_length": _length,
    "str_matches": lambda s: {"pattern": "^(?:" + s["pattern"] + ")"},
    "str_contains": lambda s: {"pattern": s["pattern"]},
    "str_startswith": lambda s: {"pattern": "^" + re.escape(s["string"])},
    "str_endswith": lambda s: {"pattern": re.escape(s["string"]) + "$"},
}


def _check_keywords(check: pa.Check) -> dict[str, Any]:
    make = KEYWORDS.get(check.name or "")
    try:
        return plain(make(dict(check.statistics or {}))) if make else {}
    except (KeyError, TypeError):
        return {}


def column_schema(column: pa.Column) -> dict[str, Any]:
    """The JSON Schema of one column's values."""
    kind = column_kind(column.dtype)
    schema: dict[str, Any] = {}
    if kind in JSON_TYPES:
        schema["type"] = [JSON_TYPES[kind], "null"] if column.nullable else JSON_TYPES[kind]
    for check in column.checks:
        schema.update(_check_keywords(check))
    if "enum" in schema and column.nullable:
        schema["enum"] = [*schema["enum"], None]
    words = [column.description or "", f"dtype {dtype_label(column.dtype) or 'any'}"]
    words += [describe_check(check) for check in column.checks]
    words.append("nullable" if column.nullable else "required, not null")
    schema["description"] = "; ".join(word for word in words if word)
    if column.title:
        schema["title"] = column.title
    schema["x-checks"] = [str(check.error or check.name) for check in column.checks]
    return schema


def record_schema(signature: pa.DataFrameSchema) -> dict[str, Any]:
    """The JSON Schema of one input record: an object with exactly the signature's columns.

    Its ``example`` is :func:`~mlops_nb.validation.fast.example_record` (left
    out when no simple record satisfies the signature).
    """
    schema = {
        "title": f"{signature.name or 'model'} input record",
        "type": "object",
        "properties": {str(n): column_schema(c) for n, c in signature.columns.items()},
        "required": [str(n) for n, c in signature.columns.items() if c.required],
        "additionalProperties": False,
    }
    example = example_record(signature)
    if example is not None:
        schema["example"] = example
    return schema


def signature_columns(signature: pa.DataFrameSchema) -> list[dict[str, Any]]:
    """One entry per column: ``name, dtype, nullable, required, checks, description``."""
    return [
        {
            "name": str(name),
            "dtype": dtype_label(column.dtype),
            "nullable": bool(column.nullable),
            "required": bool(column.required),
            "checks": [str(check.error or check.name) for check in column.checks],
            "rules": [describe_check(check) for check in column.checks],
            "description": column.description,
        }
        for name, column in signature.columns.items()
    ]
