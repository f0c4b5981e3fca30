"""The fast validation backend: a pandera signature compiled into plain-Python checks.

pandera takes milliseconds to validate even one row; a model server cannot spend
that on every request. This backend compiles a signature's columns into rules
(:func:`compile_rules`) and checks JSON records or frames with them
(:class:`InputChecker`), reporting each failing value as a :class:`RowError` in
pandera's words. What it cannot compile goes through the same pandera passes as
:func:`mlops_nb.validation.validate`, so the outcome is the same on both paths.

It also builds records from a signature: an example that passes it
(:func:`example_record`), and records to smoke-test a served model
(:func:`smoke_records`).

Unlike :mod:`mlops_nb.validation`, it is not imported by ``import mlops_nb.validation``:
only serving needs it.
"""

from mlops_nb.validation.fast.checker import InputChecker, to_column
from mlops_nb.validation.fast.examples import example_record
from mlops_nb.validation.fast.failures import MAX_ECHO, Checked, RowError, echo
from mlops_nb.validation.fast.rules import (
    BAD,
    ColumnRule,
    CompiledCheck,
    column_kind,
    compile_rules,
)
from mlops_nb.validation.fast.smoke import BrokenValue, SmokeRecords, smoke_records

__all__ = [
    "BAD",
    "MAX_ECHO",
    "BrokenValue",
    "Checked",
    "ColumnRule",
    "CompiledCheck",
    "InputChecker",
    "RowError",
    "SmokeRecords",
    "column_kind",
    "compile_rules",
    "echo",
    "example_record",
    "smoke_records",
    "to_column",
]
