"""Checking and converting what users log: keys, params, metric values, tags."""

from __future__ import annotations

import json
import math
import operator
from pathlib import Path
from typing import Any

from mlops_nb.errors import TrackingError
from mlops_nb.jsonvalues import jsonable, scalar

MAX_KEY_LENGTH = 250
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def check_key(key: Any, what: str) -> str:
    """``key`` if it is a usable name of a param, metric or tag; else a TrackingError."""
    if not isinstance(key, str) or not key.strip():
        raise TrackingError(
            f"{what} name {key!r} is not a non-empty string; name it like 'cv_roc_auc'",
            key=key,
        )
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise TrackingError(
            f"{what} name {key[:40]!r}... is longer than {MAX_KEY_LENGTH} characters or holds "
            f"control characters; use a short printable name",
            key=key,
        )
    return key


def metric_value(key: str, value: Any) -> float | None:
    """``value`` as a float (``None`` for NaN, which SQLite cannot store)."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TrackingError(
            f"metric '{key}' has the value {value!r}, which is not a number; log numbers as "
            f"metrics and text as params or tags",
            key=key,
        )
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise TrackingError(
            f"metric '{key}' has the value {value!r} of type {type(value).__name__}, which is "
            f"not a number; log numbers as metrics and other values as params",
            key=key,
        ) from exc
    return None if math.isnan(number) else number


def metric_step(key: str, step: Any) -> int:
    """``step`` as an int (0 when omitted)."""
    if step is None:
        return 0
    try:
        return operator.index(step)
    except TypeError as exc:
        raise TrackingError(
            f"metric '{key}' has the step {step!r}, which is not an integer; pass steps as "
            f"0, 1, 2, ... (an epoch, a fold, an iteration)",
            key=key,
        ) from exc


def param_value(value: Any) -> tuple[Any, str]:
    """A param's comparable scalar and its JSON text.

    The scalar (an int, float or str; booleans as 0/1; ``None`` for lists,
    dicts and ``None``) is what filters compare; the JSON text gives the value
    back with its type. Objects JSON cannot hold are stored as their ``str()``.
    """
    plain = scalar(value)
    if isinstance(plain, Path):
        plain = str(plain)
    text = json.dumps(plain, default=jsonable)
    if isinstance(plain, bool):
        return int(plain), text
    if isinstance(plain, float) and math.isnan(plain):
        return None, text
    if isinstance(plain, int) and not _INT64_MIN <= plain <= _INT64_MAX:
        return float(plain), text  # beyond SQLite's integers: compared as a float
    if isinstance(plain, (int, float, str)):
        return plain, text
    return None, text


def typed_value(scalar: Any) -> tuple[float | None, str | None]:
    """A param's comparable scalar as its stored ``(value_num, value_text)`` pair."""
    if isinstance(scalar, str):
        return None, scalar
    if isinstance(scalar, (int, float)):
        return float(scalar), None
    return None, None


def tag_value(key: str, value: Any) -> str:
    """``value`` as the text a tag holds."""
    if value is None:
        raise TrackingError(
            f"tag '{key}' has no value; give it text, e.g. set_tags({{'{key}': 'yes'}})",
            key=key,
        )
    return str(value)
