"""Run pandera over a frame until every invalid row is found.

A value that cannot be coerced leaves its whole column uncoerced, so pandera
cannot run that column's other checks (they end as ``CHECK_ERROR``s naming no
row). Each pass therefore re-checks such a column on its own, without the
rows whose value could not be coerced, so that every row gets all its
reasons. The invalid rows are then dropped and the rest validated again: the
pass that comes out clean gives the coerced valid rows.

Whatever the contract says, an infinite number is invalid (check ``finite``):
no model can learn from it, and an inferred contract, made from the same data,
would let it through to fail deep inside a fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaDefinitionError, SchemaErrors

from mlops_nb.errors import ContractError, DataValidationError
from mlops_nb.validation._cases import CASE_COLUMNS, failure_cases, order_cases

MAX_PASSES = 5


@dataclass(frozen=True)
class Outcome:
    """What the passes found.

    The coerced valid rows (None after a schema failure), the row failures,
    the schema failures, and pandera's first error.
    """

    valid: pd.DataFrame | None
    rows: pd.DataFrame
    schema: pd.DataFrame
    error: SchemaErrors | None


def validate_frame(schema: pa.DataFrameSchema, work: pd.DataFrame) -> pd.DataFrame:
    """``schema.validate(work, lazy=True)``, with a broken schema reported as ContractError."""
    try:
        return schema.validate(work, lazy=True)
    except SchemaDefinitionError as exc:
        raise ContractError(
            f"contract '{schema.name}' cannot be used to validate: {exc}; fix its definition."
        ) from exc


def _concat(found: list[pd.DataFrame]) -> pd.DataFrame:
    found = [frame for frame in found if len(frame)]
    return pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=CASE_COLUMNS)


def _recheck(schema: pa.DataFrameSchema, work: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    """Check again each column some of whose values could not be coerced, without those rows."""
    uncoerced = cases[(cases["kind"] == "row") & cases["check"].str.startswith("coerce_dtype(")]
    columns = [c for c in uncoerced["column"].unique() if c in schema.columns and c in work]
    found = [cases[~((cases["kind"] == "column") & cases["column"].isin(columns))]]
    for column in columns:
        bad = uncoerced.loc[uncoerced["column"] == column, "pos"].astype("int64")
        part = work.loc[~work.index.isin(bad), [column]]
        alone = pa.DataFrameSchema({column: schema.columns[column]}, coerce=schema.coerce)
        try:
            validate_frame(alone, part)
        except SchemaErrors as exc:
            found.append(failure_cases(exc.failure_cases, part, first_pass=False))
    return order_cases(_concat(found), work.columns)


def _one_pass(
    schema: pa.DataFrameSchema, work: pd.DataFrame, first: bool
) -> tuple[pd.DataFrame | None, pd.DataFrame, SchemaErrors | None]:
    """Validate ``work``: the coerced frame if clean, else the failure cases and the error."""
    try:
        return validate_frame(schema, work), _concat([]), None
    except SchemaErrors as exc:
        return None, _recheck(schema, work, failure_cases(exc.failure_cases, work, first)), exc


def _infinite(work: pd.DataFrame) -> pd.DataFrame:
    """A failure case (check ``finite``) for every infinite value of a numeric column."""
    found = []
    for column in work.columns:
        values = work[column]
        if not pd.api.types.is_float_dtype(values.dtype):
            continue
        where = np.isinf(values.to_numpy(dtype="float64", na_value=np.nan))
        if where.any():
            rows = values[where]
            found.append(
                pd.DataFrame(
                    {
                        "pos": rows.index.astype("int64"),
                        "column": column,
                        "check": "finite",
                        "value": rows.to_numpy(dtype=object),
                        "kind": "row",
                    }
                )
            )
    return _concat(found)[CASE_COLUMNS] if found else _concat([])


def run_passes(df: pd.DataFrame, schema: pa.DataFrameSchema) -> Outcome:
    """Validate ``df``, dropping invalid rows after each pass, until a pass is clean."""
    work, error = df.reset_index(drop=True), None
    found: list[pd.DataFrame] = [_infinite(work)]
    work = work.drop(index=found[0]["pos"].unique().tolist())
    for number in range(MAX_PASSES):
        valid, cases, failed = _one_pass(schema, work, first=number == 0)
        error = error or failed
        if valid is not None:
            return Outcome(valid, _concat(found), _concat([]), error)
        rows, other = cases[cases["kind"] == "row"], cases[cases["kind"] != "row"]
        presence = other[other["kind"] == "presence"]
        if rows.empty or not presence.empty:
            return Outcome(None, _concat(found), presence if len(presence) else other, error)
        found.append(rows)
        work = work.drop(index=rows["pos"].unique().tolist())
        if work.empty:
            return Outcome(work, _concat(found), _concat([]), error)
    raise DataValidationError(
        f"validation against contract '{schema.name}' did not settle after {MAX_PASSES} "
        f"passes; look for checks in the contract that depend on other rows.",
        contract=schema.name,
    ) from error
