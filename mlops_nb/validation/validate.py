"""Validate a data frame against its contract, row by row.

pandera validates lazily and reports every failing value. A row with a
failing value is *invalid*; it is either an error (``on_invalid="fail"``) or
set aside (``"quarantine"``). Failures that no row can be blamed for (a
missing or unexpected column, a dtype no value can take, a check of the whole
frame) always raise. The valid rows come from a last, clean validation pass,
so they are guaranteed to pass the contract (see ``_passes``).
"""

from __future__ import annotations

import math

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from mlops_nb.errors import ContractError, DataValidationError
from mlops_nb.validation._messages import (
    invalid_rows_message,
    over_limit_message,
    schema_failure_message,
)
from mlops_nb.validation._passes import Outcome, run_passes, validate_frame
from mlops_nb.validation.report import (
    REASONS_COLUMN,
    ValidationResult,
    failure_table,
    reasons_by_row,
)

ON_INVALID = ("fail", "quarantine")


def _coerced_empty(schema: pa.DataFrameSchema, work: pd.DataFrame) -> pd.DataFrame:
    try:
        return validate_frame(schema, work)
    except SchemaErrors:
        return work


def _result(
    df: pd.DataFrame, schema: pa.DataFrameSchema, outcome: Outcome, valid: pd.DataFrame
) -> ValidationResult:
    """Build the result: ``valid`` rows get ``df``'s index back, invalid ones their reasons."""
    valid = valid if len(valid) else _coerced_empty(schema, valid)
    valid = valid.set_axis(df.index.take(valid.index.to_numpy(dtype="int64")), axis=0)
    positions = sorted(int(pos) for pos in outcome.rows["pos"].unique())
    quarantined = df.iloc[positions].copy()
    reasons = reasons_by_row(outcome.rows).reindex(positions)
    quarantined[REASONS_COLUMN] = pd.Series(
        reasons.to_numpy(), index=quarantined.index, dtype="str"
    )
    failures = failure_table(outcome.rows)
    return ValidationResult(schema.name or "unnamed", valid, quarantined, failures)


def _limit(value: object) -> float:
    """Read ``max_invalid_fraction``: a number from 0 to 1."""
    try:
        limit = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        limit = math.nan
    if isinstance(value, bool) or not 0 <= limit <= 1:
        raise DataValidationError(
            f"max_invalid_fraction={value!r} is not a fraction between 0 and 1; use e.g. "
            f"-p max_invalid_fraction=0.05 (5% of rows may be quarantined)."
        )
    return limit


def _check_arguments(df: object, schema: object, on_invalid: str) -> None:
    if on_invalid not in ON_INVALID:
        raise DataValidationError(
            f"on_invalid={on_invalid!r} is not one of {', '.join(ON_INVALID)}; use "
            f"-p on_invalid=fail to stop on any invalid row or -p on_invalid=quarantine "
            f"to set invalid rows aside."
        )
    if not isinstance(schema, pa.DataFrameSchema):
        raise ContractError(
            f"validate needs a pandera DataFrameSchema as contract, got "
            f"{type(schema).__name__}; load one with load_contract(PATH)."
        )
    if not isinstance(df, pd.DataFrame):
        raise DataValidationError(f"validate needs a pandas DataFrame, got {type(df).__name__}.")


def _judge(
    result: ValidationResult,
    on_invalid: str,
    limit: float,
    source: str | None,
    error: SchemaErrors | None,
) -> None:
    """Raise if ``result`` has invalid rows and ``on_invalid``/``limit`` do not allow them."""
    if result.passed:
        return
    if on_invalid == "fail":
        message = invalid_rows_message(result, limit, source)
    elif result.invalid_fraction > limit:
        message = over_limit_message(result, limit, source)
    else:
        return
    raise DataValidationError(
        message, failures=result.failures, result=result, contract=result.contract
    ) from error


def validate(
    df: pd.DataFrame,
    schema: pa.DataFrameSchema,
    *,
    on_invalid: str = "fail",
    max_invalid_fraction: float = 0.05,
    source: str | None = None,
) -> ValidationResult:
    """Check every row of ``df`` against the contract ``schema``.

    Args:
        df: the data.
        schema: the contract (see :func:`load_contract`, :func:`infer_contract`).
        on_invalid: ``"fail"`` raises if any row is invalid; ``"quarantine"``
            sets invalid rows aside in ``result.quarantined``.
        max_invalid_fraction: with ``"quarantine"``, the largest fraction of
            invalid rows accepted.
        source: the data source, named in messages.

    Returns:
        The valid rows (coerced), the quarantined rows and the failure table.

    Raises:
        DataValidationError: a bad argument, no rows, a failure no row can be
            blamed for (missing or unexpected column, ...), an invalid row with
            ``"fail"``, or too many invalid rows with ``"quarantine"``. It has
            ``.failures`` (the failure table) and ``.result`` (or None).
        ContractError: ``schema`` is not a usable pandera ``DataFrameSchema``.
    """
    _check_arguments(df, schema, on_invalid)
    limit, name = _limit(max_invalid_fraction), schema.name or "unnamed"
    if len(df) == 0:
        raise DataValidationError(
            f"no rows to validate against contract '{name}'"
            f"{f' from {source}' if source else ''}; check the data source and its filters.",
            contract=name,
        )
    outcome = run_passes(df, schema)
    if outcome.valid is None:
        failures = failure_table(outcome.schema)
        raise DataValidationError(
            schema_failure_message(name, failures, source),
            failures=failures,
            result=None,
            contract=name,
            columns=failures["column"].tolist(),
        ) from outcome.error
    result = _result(df, schema, outcome, outcome.valid)
    _judge(result, on_invalid, limit, source, outcome.error)
    return result
