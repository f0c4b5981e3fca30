"""A drift detector's checks of its parameters and of the data it is given.

Each fails with a :class:`~mlops_nb.errors.MonitoringError` that names the
parameter or the columns, and says how to fix them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from mlops_nb.monitoring._columns import family
from mlops_nb.monitoring.errors import MonitoringError
from mlops_nb.monitoring.profile import ColumnProfile

__all__ = [
    "as_frame",
    "check_choice",
    "check_int",
    "check_range",
    "check_schema",
    "check_types",
]


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise MonitoringError(
            f"{name}={value!r} is invalid: use one of {', '.join(map(repr, choices))}.",
            parameter=name,
        )


def check_range(
    name: str,
    value: Any,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (
            value < high if high_open else value <= high
        )
    if not ok:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise MonitoringError(
            f"{name}={value!r} is invalid: it must be a number in {left}{low:g}, {high:g}{right}.",
            parameter=name,
        )


def check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise MonitoringError(
            f"{name}={value!r} is invalid: it must be an integer >= {low}.", parameter=name
        )


def as_frame(X: Any, what: str) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    if isinstance(X, pd.Series):
        return X.to_frame()
    try:
        return pd.DataFrame(X)
    except (TypeError, ValueError) as error:
        raise MonitoringError(
            f"the {what} data must be a pandas DataFrame (or convertible to one), not "
            f"{type(X).__name__}.",
            parameter="X",
        ) from error


def _data(part: str | None) -> str:
    return "the current data" if part is None else f"partition {part!r} of the current data"


def _where(part: str | None) -> dict[str, Any]:
    return {} if part is None else {"partition": part}


def check_schema(
    tested: list[ColumnProfile], lookup: Mapping[str, Any], *, part: str | None = None
) -> None:
    """Refuse data lacking a tested column (``part``: the partition's name, for the message)."""
    missing = [column.name for column in tested if column.name not in lookup]
    if missing:
        raise MonitoringError(
            f"schema mismatch: {_data(part)} lacks {len(missing)} profiled column(s): "
            f"{', '.join(map(repr, missing))}. Pass rows with the reference's columns, or "
            "fit the detector with columns=[...] naming only the columns to monitor.",
            columns=missing,
            **_where(part),
        )


def check_types(
    tested: list[ColumnProfile], series: Mapping[str, pd.Series], *, part: str | None = None
) -> None:
    """Refuse a column whose type family differs from the reference's (all-missing passes)."""
    changed = []
    for column in tested:
        values = series[column.name]
        if values.isna().all():
            continue
        now = family(values)
        if now != column.family:
            changed.append(f"{column.name!r} ({column.family} → {now}, dtype {values.dtype})")
    if changed:
        names = [item.split(" (")[0].strip("'") for item in changed]
        where = "" if part is None else f" of partition {part!r}"
        raise MonitoringError(
            f"type changed in {len(changed)} column(s){where}: {', '.join(changed)}. Convert "
            "them back (e.g. pd.to_numeric(current[col], errors='coerce') for numbers) or "
            "refit the detector on reference data of the new type.",
            columns=names,
            **_where(part),
        )
