"""The text of validation errors: what failed, where, and how to fix it."""

from __future__ import annotations

import math

import pandas as pd

from mlops_nb.validation.report import ValidationResult, format_percent, table_text

MAX_LISTED = 10
ADOPT_HINT = (
    "adopt a contract inferred from this data with -p contract=PATH, after "
    "save_contract(infer_contract(df), PATH)"
)


def _schema_line(column: str, check: str, examples: str) -> str:
    if check == "column_in_dataframe":
        return f"missing column '{column}'"
    if check == "column_in_schema":
        return f"unexpected column '{column}' (the contract is strict: it lists every column)"
    if check.startswith("coerce_dtype("):
        return f"column '{column}': no value can be converted, {check} (e.g. {examples})"
    return f"{column}: {check} failed (found: {examples})"


def schema_failure_message(name: str, failures: pd.DataFrame, source: str | None) -> str:
    """Failures no row can be blamed for, one per line, and the fixes."""
    lines = [
        _schema_line(str(row.column), str(row.check), str(row.examples))
        for row in failures.itertuples(index=False)
    ]
    shown = [f"  - {line}" for line in lines[:MAX_LISTED]]
    if len(lines) > MAX_LISTED:
        shown.append(f"  ... and {len(lines) - MAX_LISTED} more (see the .failures table)")
    where = f" {source}" if source else ""
    return "\n".join(
        [
            f"data{where} does not fit contract '{name}' (setting rows aside cannot fix this):",
            *shown,
            f"Fix: add the missing columns (or drop unexpected ones) upstream, fix the "
            f"contract, or {ADOPT_HINT}.",
        ]
    )


def headline(result: ValidationResult, source: str | None) -> str:
    """``12 of 2000 rows (0.6%) break contract 'churn'``."""
    of = f" of {source}" if source else ""
    return (
        f"{result.invalid_rows} of {result.rows} rows{of} "
        f"({format_percent(result.invalid_fraction)}) break contract '{result.contract}'"
    )


def invalid_rows_message(result: ValidationResult, limit: float, source: str | None) -> str:
    """The message for ``on_invalid="fail"`` when some rows are invalid."""
    return (
        f"{headline(result, source)}:\n{table_text(result.failures)}\n"
        f"Fix the data upstream, or the contract if it is too strict; or set invalid rows "
        f"aside with -p on_invalid=quarantine (allowed up to max_invalid_fraction={limit})."
    )


def over_limit_message(result: ValidationResult, limit: float, source: str | None) -> str:
    """The message for ``on_invalid="quarantine"`` when too many rows are invalid."""
    needed = math.ceil(result.invalid_fraction * 100) / 100
    return (
        f"{headline(result, source)}; {format_percent(result.invalid_fraction)} is more than "
        f"the limit max_invalid_fraction={limit} ({format_percent(limit)}) for quarantine:\n"
        f"{table_text(result.failures)}\n"
        f"Fix the data upstream, or raise the limit with -p max_invalid_fraction={needed}."
    )
