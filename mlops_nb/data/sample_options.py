"""The ``sample:`` data sources' names and options, checked without generating anything.

Kept apart from :mod:`mlops_nb.data.sample` (NumPy, pandas, PyArrow) so that the
runner's preflight of a ``data_source`` parameter reads no data library.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from mlops_nb.errors import DataSourceError

__all__ = [
    "DEFAULT_ROWS",
    "MAX_DRIFT",
    "MAX_ROWS",
    "SAMPLE_NAMES",
    "checked_args",
    "sample_options",
]

MAX_ROWS = 10_000_000
MAX_DRIFT = 10.0
DEFAULT_ROWS = 2000

_OPTION_TYPES: dict[str, dict[str, type]] = {"churn": {"rows": int, "seed": int, "drift": float}}
SAMPLE_NAMES: tuple[str, ...] = tuple(sorted(_OPTION_TYPES))
"""Names accepted after ``sample:`` in a data source."""


def sample_options(name: str, raw: Mapping[str, str]) -> dict[str, Any]:
    """Convert and validate the text options of ``sample:<name>?k=v&...``.

    Args:
        name: The sample's name, one of :data:`SAMPLE_NAMES`.
        raw: Option names and their text values.

    Returns:
        The options as keyword arguments of the sample's generator.

    Raises:
        DataSourceError: If the name or an option is unknown, or a value invalid.
    """
    if name not in _OPTION_TYPES:
        raise DataSourceError(
            f"unknown sample {name!r} in data source 'sample:{name}'; available samples: "
            f"{', '.join(SAMPLE_NAMES)} (e.g. sample:churn?rows=5000&seed=1).",
            sample=name,
        )
    types = _OPTION_TYPES[name]
    unknown = sorted(set(raw) - set(types))
    if unknown:
        raise DataSourceError(
            f"unknown option(s) {', '.join(unknown)} for sample:{name}; valid options: "
            f"{', '.join(types)} (e.g. sample:{name}?rows=5000&seed=1&drift=0.5).",
            sample=name,
        )
    options = {key: _convert(name, key, text, types[key]) for key, text in raw.items()}
    checked_args(**{"rows": DEFAULT_ROWS, "seed": 0, "drift": 0.0, **options})
    return options


def _convert(sample: str, key: str, text: str, kind: type) -> Any:
    """Convert one option's text to ``kind`` or say what is expected."""
    try:
        value = kind(text.strip())
    except ValueError as exc:
        noun = "an integer" if kind is int else "a number"
        raise DataSourceError(
            f"sample option {key}={text!r} of sample:{sample} is not {noun}; write e.g. "
            f"{key}={'1' if kind is int else '0.5'}.",
            sample=sample,
            option=key,
        ) from exc
    if kind is float and not math.isfinite(value):
        raise DataSourceError(
            f"sample option {key}={text!r} of sample:{sample} must be a finite number.",
            sample=sample,
            option=key,
        )
    return value


def checked_args(rows: Any, seed: Any, drift: Any) -> tuple[int, int, float]:
    """Validate the generator's arguments and return them as plain numbers."""
    if not _is_int(rows) or not 1 <= rows <= MAX_ROWS:
        raise DataSourceError(
            f"sample option rows={rows!r} is invalid: it must be an integer between 1 and "
            f"{MAX_ROWS:,}, e.g. rows=5000.",
            option="rows",
        )
    if not _is_int(seed) or seed < 0:
        raise DataSourceError(
            f"sample option seed={seed!r} is invalid: it must be an integer >= 0, e.g. seed=1.",
            option="seed",
        )
    is_number = isinstance(drift, numbers.Real)
    if isinstance(drift, bool) or not is_number or not 0.0 <= float(drift) <= MAX_DRIFT:
        raise DataSourceError(
            f"sample option drift={drift!r} is invalid: it must be a number between 0 and "
            f"{MAX_DRIFT:g} (0 = reference distribution), e.g. drift=0.5.",
            option="drift",
        )
    return int(rows), int(seed), float(drift)


def _is_int(value: Any) -> bool:
    """True for ints (numpy ints too) but not for bools."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
