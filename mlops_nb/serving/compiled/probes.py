"""Rows that pass a signature, varied column by column, to compare a compiled model with its own.

Starting from the signature's example record, each column in turn takes the
values its checks name (every allowed category, the bounds and the middle of
a range, values just inside a strict bound), a number far from the example
(within any bound), and null when it is nullable. Only the records the
server's own checker accepts are kept, so every probe is an input the model
can really be asked to score.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa

from mlops_nb.validation.fast import InputChecker, example_record

__all__ = ["probe_frame"]

MAX_PER_COLUMN = 40
SPREAD = (-1e6, -1000.0, -1.0, 0.0, 0.5, 1.0, 7.0, 1000.0, 1e6)


def _check_values(check: pa.Check) -> list[Any]:
    stats, name = check.statistics or {}, check.name
    if name == "isin":
        return sorted(stats.get("allowed_values", ()), key=str)
    if name == "in_range":
        low, high = stats["min_value"], stats["max_value"]
        return [low, high, (low + high) / 2]
    bound = stats.get("min_value", stats.get("max_value", stats.get("value")))
    if bound is None:
        return []
    if name in ("greater_than", "less_than") and isinstance(bound, (int, float)):
        step = 1 if isinstance(bound, int) else 1e-6
        return [bound + step if name == "greater_than" else bound - step]
    return [bound]


def _candidates(column: pa.Column, example: Any) -> list[Any]:
    values: list[Any] = []
    for check in column.checks:
        values += _check_values(check)
    if isinstance(example, (int, float)) and not isinstance(example, bool):
        values += [type(example)(example + shift) for shift in SPREAD]
    if column.nullable:
        values.append(None)
    return values[:MAX_PER_COLUMN]


def probe_frame(checker: InputChecker) -> pd.DataFrame:
    """The model's input frame of varied valid rows (no rows when no example passes)."""
    signature = checker.signature
    base = example_record(signature)
    if base is None:
        return checker.build_frame(checker.check_records([]))
    records = [base]
    for name, column in signature.columns.items():
        if column.regex or str(name) not in base:
            continue
        for value in _candidates(column, base[str(name)]):
            records.append({**base, str(name): value})
    valid = [record for record in records if checker.check_records([record]).ok]
    return checker.build_frame(checker.check_records(valid))
