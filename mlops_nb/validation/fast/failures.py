"""What checking inputs finds: :class:`RowError` per failing value, :class:`Checked` inputs."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlops_nb.jsonvalues import scalar

__all__ = ["MAX_ECHO", "Checked", "RowError", "echo"]

MAX_ECHO = 120
"""Longest text shown back for a failing value."""


def _cut(text: str) -> str:
    return text if len(text) <= MAX_ECHO else text[:MAX_ECHO] + "..."


def echo(value: Any) -> Any:
    """A failing value as a JSON error shows it: long text cut, objects and non-finite as text."""
    value = scalar(value)
    if value is None or isinstance(value, (bool, str)):
        return _cut(value) if isinstance(value, str) else value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else _cut(str(value))
    if isinstance(value, float):
        return value if math.isfinite(value) else (None if math.isnan(value) else str(value))
    return _cut(json.dumps(value, default=str)[: MAX_ECHO + 1])


@dataclass(frozen=True)
class RowError:
    """One failing value: row position, column, check and the value itself.

    ``row`` is None for a failure of the whole input (a column missing from a
    data frame); ``column`` is None for a record that is not a JSON object.
    """

    row: int | None
    column: str | None
    check: str
    value: Any = field(compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The error as a JSON-ready mapping ``{row, column, check, value}``."""
        return {"row": self.row, "column": self.column, "check": self.check, "value": self.value}


@dataclass(frozen=True)
class Checked:
    """Inputs checked column by column.

    Attributes:
        values: Column -> checked values, in signature order; None where the
            value is null (or failed).
        rows: Number of input rows.
        errors: Every failure, sorted by row, then column.
    """

    values: dict[str, list[Any]]
    rows: int
    errors: list[RowError]

    @property
    def ok(self) -> bool:
        """True when no value failed."""
        return not self.errors

    def failed_rows(self) -> np.ndarray:
        """Boolean mask of the rows with at least one failure."""
        mask = np.zeros(self.rows, dtype=bool)
        mask[[e.row for e in self.errors if e.row is not None]] = True
        return mask
