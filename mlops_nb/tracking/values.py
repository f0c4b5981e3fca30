"""Checking and converting what users log: keys, params, metric values, tags, ids."""

from __future__ import annotations

import json
import math
import operator
import secrets
import time
from pathlib import Path
from typing import Any

from mlops_nb.errors import TrackingError

MAX_KEY_LENGTH = 250
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_run_id() -> str:
    """A 26-character id that sorts by creation time (milliseconds), ULID-style."""
    number = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        number, digit = divmod(number, 32)
        chars.append(_CROCKFORD[digit])
    return "".join(reversed(chars))


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
    except (TypeError, ValueError):
        raise TrackingError(
            f"metric '{key}' has the value {value!r} of type {type(value).__name__}, which is "
            f"not a number; log numbers as metrics and other values as params",
            key=key,
        ) from None
    return None if math.isnan(number) else number


def metric_step(key: str, step: Any) -> int:
    """``step`` as an int (0 when omitted)."""
    if step is None:
        return 0
    try:
        return operator.index(step)
    except TypeError:
        raise TrackingError(
            f"metric '{key}' has the step {step!r}, which is not an integer; pass steps as "
            f"0, 1, 2, ... (an epoch, a fold, an iteration)",
            key=key,
        ) from None


def param_value(value: Any) -> tuple[Any, str]:
    """A param's comparable scalar and its JSON text.

    The scalar (an int, float or str; booleans as 0/1; ``None`` for lists,
    dicts and ``None``) is what filters compare; the JSON text gives the value
    back with its type. Objects JSON cannot hold are stored as their ``str()``.
    """
    plain = _plain(value)
    text = json.dumps(plain, default=_fallback)
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


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and getattr(value, "ndim", None) == 0:
        return item()
    if isinstance(value, Path):
        return str(value)
    return value


def _fallback(value: Any) -> Any:
    plain = _plain(value)
    if plain is not value:
        return plain
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    tolist = getattr(value, "tolist", None)  # numpy arrays
    return tolist() if callable(tolist) else str(value)


def tag_value(key: str, value: Any) -> str:
    """``value`` as the text a tag holds."""
    if value is None:
        raise TrackingError(
            f"tag '{key}' has no value; give it text, e.g. set_tags({{'{key}': 'yes'}})",
            key=key,
        )
    return str(value)
