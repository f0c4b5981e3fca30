"""The outcome of a validation: valid rows, quarantined rows and the failure table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

FAILURE_COLUMNS = ["column", "check", "failures", "examples"]
REASONS_COLUMN = "_reasons"
MAX_EXAMPLES = 5
TABLE_ROWS = 10
"""Rows of the failure table shown in an error message."""


def format_value(value: Any) -> str:
    """Show a failing value: strings quoted (so blanks show), missing values as ``null``."""
    if value is None or (not isinstance(value, (list, tuple)) and pd.isna(value)):
        return "null"
    return repr(value) if isinstance(value, str) else str(value)


def format_percent(fraction: float) -> str:
    """``0.006`` -> ``0.6%``; a fraction too small to show as 0.1% reads ``<0.1%``."""
    return "<0.1%" if 0 < fraction < 0.001 else f"{fraction:.1%}"


def _examples(values: pd.Series) -> str:
    distinct = list(dict.fromkeys(format_value(value) for value in values))
    return ", ".join(distinct[:MAX_EXAMPLES])


def failure_table(cases: pd.DataFrame) -> pd.DataFrame:
    """Count failing rows per (column, check) in ``cases`` (see ``_cases.CASE_COLUMNS``).

    Returns columns ``column, check, failures, examples``, most failures first.
    """
    rows = [
        {
            "column": column,
            "check": check,
            "failures": int(group["pos"].nunique()) or len(group),
            "examples": _examples(group.loc[group["kind"] != "presence", "value"]),
        }
        for (column, check), group in cases.groupby(["column", "check"], sort=False)
    ]
    table = pd.DataFrame(rows, columns=FAILURE_COLUMNS).astype({"failures": "int64"})
    order = table.sort_values(["column", "check"], kind="stable")
    return order.sort_values("failures", ascending=False, kind="stable").reset_index(drop=True)


def reasons_by_row(cases: pd.DataFrame) -> pd.Series:
    """Join each row's failures into ``"age: in_range(18, 100); contract: isin([...])"``.

    Returns a string Series indexed by row position (``cases["pos"]``).
    """
    if cases.empty:
        return pd.Series(dtype="str")
    labels = cases["column"].astype(str) + ": " + cases["check"].astype(str)
    positions = cases["pos"].astype("int64")
    return labels.groupby(positions, sort=True).agg(lambda s: "; ".join(dict.fromkeys(s)))


def _cell(value: Any, width: int = 60) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def table_text(failures: pd.DataFrame, limit: int = TABLE_ROWS) -> str:
    """The first ``limit`` rows of the failure table as aligned text, and how many are left out."""
    cells = [[_cell(v) for v in row] for row in failures.head(limit).itertuples(index=False)]
    header = [str(name) for name in failures.columns]
    widths = [max(len(text) for text in column) for column in zip(header, *cells, strict=True)]
    lines = [
        "  ".join(
            text.rjust(width) if name == "failures" else text.ljust(width)
            for name, text, width in zip(header, row, widths, strict=True)
        ).rstrip()
        for row in [header, *cells]
    ]
    hidden = len(failures) - limit
    if hidden > 0:
        lines.append(f"... and {hidden} more (see the .failures table)")
    return "\n".join(lines)


@dataclass(frozen=True, repr=False)
class ValidationResult:
    """Rows of a data frame checked against a contract.

    Attributes:
        contract: the contract's name.
        valid: the rows that pass, coerced to the contract's dtypes, original index kept.
        quarantined: the rows that fail, as they came in, plus a ``_reasons`` column.
        failures: one row per (column, check) that failed: ``column, check,
            failures, examples`` (up to 5 distinct failing values), most failures first.
    """

    contract: str
    valid: pd.DataFrame = field(repr=False)
    quarantined: pd.DataFrame = field(repr=False)
    failures: pd.DataFrame = field(repr=False)

    @property
    def rows(self) -> int:
        """Rows validated."""
        return len(self.valid) + len(self.quarantined)

    @property
    def invalid_rows(self) -> int:
        """Rows that break the contract."""
        return len(self.quarantined)

    @property
    def invalid_fraction(self) -> float:
        """``invalid_rows / rows`` (0.0 when there are no rows)."""
        return self.invalid_rows / self.rows if self.rows else 0.0

    @property
    def passed(self) -> bool:
        """True when every row satisfies the contract."""
        return self.invalid_rows == 0

    def summary(self) -> dict[str, Any]:
        """Plain, JSON-ready figures for run metadata and notebook display."""
        return {
            "contract": self.contract,
            "passed": self.passed,
            "rows": self.rows,
            "valid_rows": len(self.valid),
            "invalid_rows": self.invalid_rows,
            "invalid_fraction": round(self.invalid_fraction, 6),
            "failures": [
                {"column": str(row.column), "check": str(row.check), "failures": int(row.failures)}
                for row in self.failures.head(TABLE_ROWS).itertuples(index=False)
            ],
        }

    def __repr__(self) -> str:
        return (
            f"ValidationResult(contract={self.contract!r}, rows={self.rows}, "
            f"invalid_rows={self.invalid_rows}, passed={self.passed})"
        )
