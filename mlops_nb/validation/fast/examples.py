"""An example record built from a signature.

:func:`example_record` is the one builder of an example input: the README of a
deployment bundle shows it in its ``curl`` call, ``/openapi.json`` gives it as
the example request, and the model worker scores it once to warm up. Each value
comes from the column's checks (the first allowed value, the middle of a range,
a bound) or else from its dtype; the record is validated before it is returned.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa

from mlops_nb.jsonvalues import plain
from mlops_nb.validation.validate import validate

__all__ = ["example_record"]

BY_DTYPE_KIND = {"i": 0, "u": 0, "f": 0.0, "b": False, "M": "2024-01-01T00:00:00"}
"""The example of a column without a usable check, by numpy dtype kind (else ``"text"``)."""


def _first(values: Any) -> Any:
    items = sorted(values, key=str) if isinstance(values, (set, frozenset)) else list(values)
    return items[0] if items else None


def _from_check(check: pa.Check) -> Any:
    """A value that passes ``check``, or None when it is not one we can read."""
    stats, name = check.statistics or {}, check.name
    if name == "isin":
        return _first(stats.get("allowed_values", ()))
    if name == "in_range":
        return (stats["min_value"] + stats["max_value"]) / 2
    picks = {
        "greater_than_or_equal_to": lambda: stats["min_value"],
        "greater_than": lambda: stats["min_value"] + 1,
        "less_than_or_equal_to": lambda: stats["max_value"],
        "less_than": lambda: stats["max_value"] - 1,
        "equal_to": lambda: stats["value"],
    }
    return picks[name]() if name in picks else None


def _dtype_kind(column: pa.Column) -> str:
    return str(getattr(getattr(column.dtype, "type", None), "kind", "O"))


def _example_value(column: pa.Column) -> Any:
    value = next((v for v in map(_from_check, column.checks) if v is not None), None)
    kind = _dtype_kind(column)
    value = BY_DTYPE_KIND.get(kind, "text") if value is None else plain(value)
    if kind in "iu" and isinstance(value, float):
        return round(value)
    if kind == "f" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def example_record(signature: pa.DataFrameSchema) -> dict[str, Any] | None:
    """A record that satisfies ``signature``, or None when the simple picks do not.

    Values come from each column's checks (the first allowed value, sorted
    when the values are a set; the middle of a range; a bound, or one past
    a strict bound) or its dtype; the record is validated before it is returned.
    """
    record = {
        str(name): _example_value(column)
        for name, column in signature.columns.items()
        if not column.regex
    }
    try:
        result = validate(
            pd.DataFrame([record]), signature, on_invalid="quarantine", max_invalid_fraction=1.0
        )
    except Exception:  # any failure only means there is no example to show
        return None
    return record if result.passed else None
