"""Records to smoke-test a served model: valid ones, and invalid ones that break a known check.

>>> smoke = smoke_records(loaded.signature, holdout, 50)
>>> smoke.valid[:1]      # rows of ``holdout`` that pass the signature, as JSON records
[{'customer_id': 'C00012', 'age': 41, ...}]
>>> smoke.broken         # what each invalid record breaks, as a 422 names it
[BrokenValue(row=0, column='contract', check="isin(['month-to-month', ...])", value='...'), ...]

The invalid records are built from the signature, not from column names of one
data set: one record per kind of rule the signature has, in this order, each on
another column where it can: a value outside an ``isin`` set, a number below
the minimum of a range (or above its maximum), a value of the wrong JSON type,
null in a column that is not nullable. Only when none applies does a record get
a key the signature does not list. Every invalid record is checked with the
server's own :class:`InputChecker`, so :attr:`SmokeRecords.expected` is exactly
the set of ``(row, column, check)`` a 422 answer lists.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pandera.pandas as pa

from mlops_nb.errors import DataValidationError
from mlops_nb.validation.fast.checker import InputChecker
from mlops_nb.validation.fast.failures import RowError
from mlops_nb.validation.fast.rules import ColumnRule

__all__ = ["BrokenValue", "SmokeRecords", "smoke_records"]

CHUNK_ROWS = 500
"""Rows of the frame turned into records and checked at a time."""
UNKNOWN_KEY = "_not_in_the_signature"
MINIMA = ("in_range", "greater_than_or_equal_to", "greater_than")
MAXIMA = ("in_range", "less_than_or_equal_to", "less_than")


@dataclass(frozen=True)
class BrokenValue:
    """What one invalid record breaks.

    Attributes:
        row: The record's position in :attr:`SmokeRecords.invalid`.
        column: The column whose value was changed.
        check: The check it fails, named as a 422 names it, e.g.
            ``in_range(18, 100)``, ``coerce_dtype('int64')``, ``not_nullable``.
        value: The value put there.
    """

    row: int
    column: str
    check: str
    value: Any


@dataclass(frozen=True)
class SmokeRecords:
    """Valid and invalid JSON records for a model's signature.

    Attributes:
        valid: Records that pass the signature (rows of the frame, in order).
        invalid: Records that each break one check of the signature.
        broken: What each invalid record breaks, in the order of ``invalid``.
    """

    valid: list[dict[str, Any]]
    invalid: list[dict[str, Any]]
    broken: list[BrokenValue]

    @property
    def expected(self) -> frozenset[tuple[int, str, str]]:
        """``(row, column, check)`` of every failure a server must report for ``invalid``."""
        return frozenset((b.row, b.column, b.check) for b in self.broken)

    @property
    def columns(self) -> list[str]:
        """The columns the invalid records break, in order."""
        return [b.column for b in self.broken]


def _records(frame: pd.DataFrame) -> Iterator[list[dict[str, Any]]]:
    """The rows of ``frame`` as JSON records, a chunk at a time."""
    for start in range(0, len(frame), CHUNK_ROWS):
        part = frame.iloc[start : start + CHUNK_ROWS]
        yield json.loads(part.to_json(orient="records", date_format="iso"))


def _valid_records(
    checker: InputChecker, frame: pd.DataFrame, n: int
) -> tuple[list[dict[str, Any]], list[RowError]]:
    """Up to ``n`` records of ``frame`` that pass, and the failures of the first chunk."""
    found: list[dict[str, Any]] = []
    first_errors: list[RowError] | None = None
    for records in _records(frame[[c for c in checker.names if c in frame.columns]]):
        checked = checker.check_records(records)
        failed = checked.failed_rows()
        found += [record for record, bad in zip(records, failed, strict=True) if not bad]
        if first_errors is None:
            first_errors = checked.errors
        if len(found) >= n:
            break
    return found[:n], first_errors or []


def _checks(column: pa.Column, names: tuple[str, ...]) -> list[dict[str, Any]]:
    return [dict(c.statistics or {}) for c in column.checks if c.name in names]


def _outside_set(column: pa.Column, rule: ColumnRule) -> Any:
    for check in column.checks:
        allowed = (check.statistics or {}).get("allowed_values") if check.name == "isin" else None
        if not allowed:
            continue
        values = set(allowed)
        if rule.kind == "str":
            candidate = "not-" + str(sorted(values, key=str)[0])
            while candidate in values:
                candidate += "-x"
            return candidate
        if rule.kind in ("int", "float") and all(isinstance(v, (int, float)) for v in values):
            return (int if rule.kind == "int" else float)(max(values) + 1)
        if rule.kind == "bool" and len(values) == 1:
            return not next(iter(values))
    return None


def _out_of_range(column: pa.Column, rule: ColumnRule) -> Any:
    if rule.kind not in ("int", "float"):
        return None
    number: Callable[[float], Any] = float if rule.kind == "float" else int
    for stats in _checks(column, MINIMA):
        if isinstance(stats.get("min_value"), (int, float)):
            return number(math.floor(stats["min_value"]) - 1)
    for stats in _checks(column, MAXIMA):
        if isinstance(stats.get("max_value"), (int, float)):
            return number(math.ceil(stats["max_value"]) + 1)
    return None


def _wrong_type(column: pa.Column, rule: ColumnRule) -> Any:
    return {"int": "not a number", "float": "not a number", "str": 12345, "bool": "yes"}.get(
        rule.kind
    )


Breaker = Callable[[pa.Column, ColumnRule], Any]
BREAKERS: tuple[Breaker, ...] = (_outside_set, _out_of_range, _wrong_type)


Option = tuple[str, Any]
"""A column and the value that should break it."""


def _candidates(
    signature: pa.DataFrameSchema, rules: tuple[ColumnRule, ...]
) -> Iterator[list[Option]]:
    """``(column, value)`` per kind of rule, columns in signature order, kinds in order."""
    columns = {str(name): column for name, column in signature.columns.items()}
    for breaker in BREAKERS:
        yield [
            (rule.name, value)
            for rule in rules
            if (value := breaker(columns[rule.name], rule)) is not None
        ]
    yield [(rule.name, None) for rule in rules if not rule.nullable]


def _failures(checker: InputChecker, records: list[dict[str, Any]]) -> set[tuple[int, str, str]]:
    return {
        (int(e.row), str(e.column), e.check)
        for e in checker.check_records(records).errors
        if e.row is not None
    }


def _only_new_failure(
    checker: InputChecker, invalid: list[dict[str, Any]], record: dict[str, Any], column: str
) -> str | None:
    """The check ``record`` fails after ``invalid``, if that is one check of ``column`` alone."""
    before = _failures(checker, invalid)
    after = _failures(checker, [*invalid, record])
    new = after - before
    if before <= after and len(new) == 1:
        row, where, check = next(iter(new))
        if (row, where) == (len(invalid), column):
            return check
    return None


def _break(
    checker: InputChecker, valid: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[BrokenValue]]:
    """One invalid record per kind of rule, each breaking exactly the check it names."""
    invalid: list[dict[str, Any]] = []
    broken: list[BrokenValue] = []
    for options in _candidates(checker.signature, checker.rules):
        used = {b.column for b in broken}
        fresh = [option for option in options if option[0] not in used]
        for column, value in fresh or options:
            record = {**valid[len(invalid) % len(valid)], column: value}
            check = _only_new_failure(checker, invalid, record, column)
            if check is not None:
                broken.append(BrokenValue(len(invalid), column, check, value))
                invalid.append(record)
                break
    if not invalid:
        record = {**valid[0], UNKNOWN_KEY: 0}
        check = _only_new_failure(checker, [], record, UNKNOWN_KEY) or "column_in_schema"
        invalid, broken = [record], [BrokenValue(0, UNKNOWN_KEY, check, 0)]
    return invalid, broken


def smoke_records(signature: pa.DataFrameSchema, frame: pd.DataFrame, n: int) -> SmokeRecords:
    """Valid records from ``frame`` and invalid ones made to break checks of ``signature``.

    Args:
        signature: The model's input contract (``loaded.signature``).
        frame: Rows to take the valid records from, e.g. a holdout sample;
            columns the signature does not list (such as the target) are left out.
        n: How many valid records to return (fewer if fewer rows pass).

    Returns:
        The valid records, the invalid ones and what each breaks (see the
        module docstring for how they are chosen).

    Raises:
        ServingError: A signature the fast checks cannot compile (regex columns).
        DataValidationError: ``n`` is not a whole number >= 1, or no row of
            ``frame`` passes the signature.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise DataValidationError(f"n={n!r} must be a whole number of records >= 1, e.g. 50.")
    checker = InputChecker(signature)
    valid, errors = _valid_records(checker, frame, n)
    if not valid:
        shown = "; ".join(f"{e.column}: {e.check}" for e in errors[:5]) or "it has no rows"
        name = f" '{signature.name}'" if signature.name else ""
        raise DataValidationError(
            f"no row of the frame passes the signature{name} ({shown}); "
            f"pass rows the model accepts, such as its holdout without the target.",
            columns=sorted({str(e.column) for e in errors if e.column is not None}),
        )
    invalid, broken = _break(checker, valid)
    return SmokeRecords(valid, invalid, broken)
