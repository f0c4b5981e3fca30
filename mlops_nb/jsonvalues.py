"""Values as JSON (or YAML) can hold them: the one home of every converter.

Duck-typed, so this module imports no numpy: a numpy scalar is anything with a
callable ``item()`` and ``ndim == 0``, an array anything with ``tolist()`` and
``ndim >= 1``. The converters differ only where their outputs differ:

====================  ==========================================================
function              what it is for
====================  ==========================================================
:func:`scalar`        a numpy scalar as the Python value (``np.int64(1)`` → ``1``)
:func:`jsonable`      the ``default=`` hook of :func:`json.dumps`: paths as text,
                      sets and arrays as lists, anything else as its ``str()``
:func:`json_safe`     a nested value made JSON-safe, with NaN and infinities as
                      None (drift profiles and reports)
:func:`plain`         a nested value with Python scalars and lists, NaN kept
                      (contracts' YAML, example records)
:func:`finite_list`   an array's ``tolist()`` with NaN and infinities as None
                      (``POST /predict`` answers, the inference log)
====================  ==========================================================
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from pathlib import Path
from typing import Any

__all__ = ["finite_list", "json_safe", "jsonable", "plain", "scalar"]

_JSON_TYPES = (dict, list, str, int, float, bool)


def scalar(value: Any) -> Any:
    """``value.item()`` for a numpy scalar (or 0-d array); any other value unchanged."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:
        return item()
    return value


def _is_array(value: Any) -> bool:
    """An array of values: a numpy array, an ``array.array``, a pandas Index ..."""
    return callable(getattr(value, "tolist", None)) and getattr(value, "ndim", 1) != 0


def jsonable(value: Any) -> Any:
    """``value`` as something :mod:`json` can write: the ``default=`` hook of ``json.dumps``.

    Numpy scalars become Python ones, paths text, sets and tuples lists, arrays
    their ``tolist()``; any other object its ``str()``. JSON values are
    returned as they are (NaN included: :func:`json_safe` drops it).
    """
    value = scalar(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if _is_array(value):
        return value.tolist()
    if isinstance(value, _JSON_TYPES) or value is None:
        return value
    return str(value)


def json_safe(value: Any) -> Any:
    """``value`` with numpy scalars, tuples, arrays and non-finite floats made JSON-safe.

    Mappings get text keys; lists, tuples and arrays become lists; booleans,
    integers and floats become Python ones, NaN and infinities None. Anything
    else is returned as it is.
    """
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) or _is_array(value):
        return [json_safe(item) for item in value]
    value = scalar(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


def plain(value: Any) -> Any:
    """``value`` with Python scalars and lists in place of numpy ones, NaN kept.

    Mappings keep their keys; lists, tuples and arrays become lists; sets
    become lists sorted by ``repr`` (a stable text, whatever the hash seed).
    What ``yaml.safe_dump`` and :mod:`json` can write.
    """
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)) or _is_array(value):
        return [plain(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((plain(item) for item in value), key=repr)
    return scalar(value)


def finite_list(values: Any) -> list[Any]:
    """``values.tolist()`` of a numpy array, with NaN and infinities as None (JSON has neither)."""
    if values.dtype.kind == "f":
        import numpy as np  # loaded already: ``values`` is one of its arrays

        finite = np.isfinite(values)
        if not finite.all():
            values = values.astype(object)
            values[~finite] = None
    out: list[Any] = values.tolist()
    return out
