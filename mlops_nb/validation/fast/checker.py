"""Check JSON records, or a data frame, against a model's input signature.

:class:`InputChecker` reports every failing value as a :class:`RowError`
naming the row (0-based position in the input), the column, the check in
pandera's words (``in_range(18, 100)``, ``not_nullable``,
``column_in_dataframe`` for a missing key, ``column_in_schema`` for an
unknown one) and the value. The compiled rules (see ``rules``) do the work;
what they cannot check goes through pandera, with the same passes as
:func:`mlops_nb.validation.validate`, on the rows that passed them.

JSON values are not converted from text: an int column takes JSON integers
(or integral numbers such as ``3.0``), a float column numbers, a str column
strings, a bool column ``true``/``false``; anything else fails the column's
dtype check (``coerce_dtype('int64')``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from mlops_nb.validation._passes import Outcome, run_passes
from mlops_nb.validation.fast.failures import Checked, RowError, echo
from mlops_nb.validation.fast.rules import BAD, ColumnRule, compile_rules

__all__ = ["InputChecker", "to_column"]

MISSING, UNKNOWN, NOT_NULLABLE = "column_in_dataframe", "column_in_schema", "not_nullable"
NOT_A_RECORD, DUPLICATE = "record_is_object", "unique_column_names"
SCALAR_ROWS = 32
"""Up to this many records, checks run value by value; beyond, vectorized."""
ABSENT = object()


class InputChecker:
    """Checks inputs against ``signature``: fast for pandera's common checks, exact for all.

    Args:
        signature: The model's input contract.

    Raises:
        ServingError: A signature without fixed column names.
    """

    def __init__(self, signature: pa.DataFrameSchema) -> None:
        self.signature = signature
        self.rules, self.needs_pandera = compile_rules(signature)
        self.names = [rule.name for rule in self.rules]
        self._known = frozenset(self.names)
        self._required = frozenset(rule.name for rule in self.rules if rule.required)
        self._rank = {name: number for number, name in enumerate(self.names)}

    # -- JSON records --------------------------------------------------------

    def check_records(self, records: Sequence[Any]) -> Checked:
        """Check parsed JSON records (dicts); each key must be a column of the signature.

        The values of the result are lists, None where null.
        """
        errors: list[RowError] = []
        rows = [self._record(pos, record, errors) for pos, record in enumerate(records)]
        values = {}
        for rule in self.rules:
            raw = [row.get(rule.name, ABSENT) for row in rows]
            values[rule.name], skip = self._collect(rule, raw, errors)
            if rule.checks:
                errors += self._check_values(rule, values[rule.name], skip)
        checked = Checked(values, len(rows), errors)
        if self.needs_pandera and rows:
            keep = np.flatnonzero(~checked.failed_rows())
            if len(keep):
                errors += self._outcome_errors(
                    run_passes(self._raw_frame(checked, keep), self.signature), keep
                )
        if errors:
            checked = Checked(values, len(rows), sorted(set(errors), key=self._order))
        return checked

    def _record(self, pos: int, record: Any, errors: list[RowError]) -> dict[str, Any]:
        if not isinstance(record, dict):
            errors.append(RowError(pos, None, NOT_A_RECORD, echo(record)))
            return {}
        keys = record.keys()
        if keys != self._known:
            errors += [RowError(pos, name, MISSING, None) for name in self._required - keys]
            errors += [RowError(pos, str(k), UNKNOWN, echo(record[k])) for k in keys - self._known]
        return record

    @staticmethod
    def _collect(
        rule: ColumnRule, raw: list[Any], errors: list[RowError]
    ) -> tuple[list[Any], set[int]]:
        """Convert one column's JSON values, recording type and null failures.

        Returns the values (None where null or failing) and the positions whose
        value must not be checked further.
        """
        convert, out, skip = rule.convert, [None] * len(raw), set()
        for pos, value in enumerate(raw):
            if value is None or value is ABSENT:
                skip.add(pos)
                if not rule.nullable and (value is None or not rule.required):
                    errors.append(RowError(pos, rule.name, NOT_NULLABLE, None))
                continue
            converted = convert(value)
            if converted is BAD:
                skip.add(pos)
                errors.append(RowError(pos, rule.name, rule.type_check, echo(value)))
            else:
                out[pos] = converted
        return out, skip

    @staticmethod
    def _check_values(rule: ColumnRule, out: list[Any], skip: set[int]) -> list[RowError]:
        """Run the column's checks: one value at a time for few rows, vectorized for many."""
        if len(out) <= SCALAR_ROWS:
            return [
                RowError(pos, rule.name, check.name, echo(value))
                for pos, value in enumerate(out)
                if pos not in skip
                for check in rule.checks
                if not check.test(value)
            ]
        present = np.ones(len(out), dtype=bool)
        present[list(skip)] = False
        fill = rule.fill
        array = np.array([fill if v is None else v for v in out], dtype=rule.array_dtype)
        return _vector_errors(rule, array, present, lambda pos: out[pos])

    # -- data frames ---------------------------------------------------------

    def check_frame(self, df: pd.DataFrame) -> tuple[pd.DataFrame, list[RowError]]:
        """Check a data frame: its valid rows (signature columns, coerced) and the failures.

        The valid rows keep ``df``'s index. A missing, unknown or duplicated
        column fails the whole frame (row None), and then no row is valid.
        Columns whose dtype differs from the signature's are converted, and
        their failures found, by pandera.
        """
        columns = [str(c) for c in df.columns]
        errors = [RowError(None, n, MISSING, None) for n in self.names if n not in columns]
        errors += [RowError(None, c, UNKNOWN, None) for c in columns if c not in self._known]
        twice = sorted({c for c in columns if columns.count(c) > 1})
        errors += [RowError(None, c, DUPLICATE, None) for c in twice]
        if errors:
            return df.iloc[:0], errors
        frame = df.reset_index(drop=True)[self.names]
        if all(
            rule.dtype is not None and frame[rule.name].dtype == rule.dtype for rule in self.rules
        ):
            errors = self._frame_errors(frame)
            bad = np.zeros(len(frame), dtype=bool)
            bad[[e.row for e in errors if e.row is not None]] = True
            valid = frame.loc[~bad]
        else:
            outcome = run_passes(frame, self.signature)
            valid = frame.iloc[:0] if outcome.valid is None else outcome.valid
            errors = self._outcome_errors(outcome, None)
        errors = sorted(set(errors), key=self._order)
        return valid.set_axis(df.index[valid.index.to_numpy()], axis=0), errors

    def _frame_errors(self, frame: pd.DataFrame) -> list[RowError]:
        """Failures of a frame whose dtypes are the signature's: nulls, checks, then pandera."""
        errors: list[RowError] = []
        for rule in self.rules:
            column = frame[rule.name]
            present = column.notna().to_numpy()
            if not rule.nullable:
                errors += [
                    RowError(int(p), rule.name, NOT_NULLABLE, None)
                    for p in np.flatnonzero(~present)
                ]
            if rule.checks and present.any():
                array = column.to_numpy(rule.array_dtype, na_value=rule.fill)
                errors += _vector_errors(rule, array, present, column.iloc.__getitem__)
        if self.needs_pandera and len(frame):
            bad = np.zeros(len(frame), dtype=bool)
            bad[[e.row for e in errors if e.row is not None]] = True
            keep = np.flatnonzero(~bad)
            if len(keep):
                part = frame.iloc[keep].reset_index(drop=True)
                errors += self._outcome_errors(run_passes(part, self.signature), keep)
        return errors

    # -- shared ----------------------------------------------------------------

    def _outcome_errors(self, outcome: Outcome, positions: np.ndarray | None) -> list[RowError]:
        """The failures pandera found, rows mapped back through ``positions`` if given."""
        found = [
            RowError(
                int(case.pos if positions is None else positions[int(case.pos)]),
                str(case.column),
                str(case.check),
                echo(case.value),
            )
            for case in outcome.rows.itertuples(index=False)
        ]
        if outcome.valid is None:
            found += [
                RowError(None, str(case.column), str(case.check), echo(case.value))
                for case in outcome.schema.itertuples(index=False)
            ]
        return found

    def _order(self, error: RowError) -> tuple[int, int, str]:
        row = -1 if error.row is None else error.row
        return row, self._rank.get(error.column or "", len(self._rank)), error.check

    def _raw_frame(self, checked: Checked, rows: np.ndarray) -> pd.DataFrame:
        """Rows of checked JSON values as pandera should see them (``any`` columns unconverted)."""
        picked = rows.tolist()
        return pd.DataFrame(
            {
                rule.name: to_column(
                    rule, [checked.values[rule.name][i] for i in picked], convert_any=False
                )
                for rule in self.rules
            },
            copy=False,
        )

    def build_frame(self, checked: Checked) -> pd.DataFrame:
        """The model's input frame: checked values in the signature's dtypes."""
        return pd.DataFrame(
            {rule.name: to_column(rule, checked.values[rule.name]) for rule in self.rules},
            copy=False,
        )


def _vector_errors(
    rule: ColumnRule, array: np.ndarray, present: np.ndarray, shown: Callable[[int], Any]
) -> list[RowError]:
    """Errors of the column's checks on ``array`` where ``present``; ``shown(pos)``: the value."""
    positions = np.flatnonzero(present)
    subset, found = array[positions], []
    for check in rule.checks:
        for pos in positions[~check.passes(subset)].tolist():
            found.append(RowError(pos, rule.name, check.name, echo(shown(pos))))
    return found


def to_column(rule: ColumnRule, values: list[Any], *, convert_any: bool = True) -> Any:
    """Checked values (None where null) as a column of the signature's dtype."""
    if rule.kind == "any":
        column = pd.Series(values, dtype=object)
        if convert_any and rule.pandera_dtype is not None:
            return rule.pandera_dtype.try_coerce(column)
        return column
    if isinstance(rule.dtype, np.dtype):
        return np.array(values, dtype=rule.dtype)
    return pd.array(values, dtype=rule.dtype)
