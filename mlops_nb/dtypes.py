"""What a column's pandas dtype holds: numbers, text, points or spans of time.

The primitives every column classifier is built on. Each module keeps its own
vocabulary on top (a profile's *roles*, the feature *kinds*, drift's *families*,
a contract's dtypes), because each is persisted or shown in its own words; what
they share is the reading of a dtype, here. Every function takes a Series or a
dtype, as pandas' ``is_*_dtype`` functions do, and answers as they do.
"""

from __future__ import annotations

from typing import Any

from pandas.api import types

__all__ = ["is_number", "is_temporal", "is_text"]


def is_number(values: Any) -> bool:
    """Numbers that are not booleans (pandas counts ``bool`` as numeric; a model does not)."""
    return bool(types.is_numeric_dtype(values) and not types.is_bool_dtype(values))


def is_text(values: Any) -> bool:
    """Text, or Python objects that may be text: a string or an ``object`` dtype."""
    return bool(types.is_string_dtype(values) or types.is_object_dtype(values))


def is_temporal(values: Any) -> bool:
    """Points in time (``datetime64``, with or without a time zone) or spans (``timedelta64``)."""
    return bool(types.is_datetime64_any_dtype(values) or types.is_timedelta64_dtype(values))
