"""Compile a pandera signature into plain-Python rules that check values fast.

pandera takes milliseconds to validate even one row, which a model server
cannot spend on every request. Each column of the signature becomes a
:class:`ColumnRule`: the JSON type its values must have, whether null is
allowed, and its checks as vectorized predicates. Only pandera's built-in
checks listed in :data:`PREDICATES` are compiled; a column with any other
check (or ``unique``), and a signature with checks of the whole frame, are
marked ``needs_pandera`` and also go through pandera (see ``checker``), so the
result is the same either way. Check names are pandera's own
(``in_range(18, 100)``, ``isin([...])``), so errors read alike on both paths.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from mlops_nb.errors import ServingError
from mlops_nb.validation._dtypes import dtype_label, pandas_dtype_of

__all__ = ["BAD", "ColumnRule", "CompiledCheck", "column_kind", "compile_rules"]

BAD = object()
"""Returned by a converter for a value of the wrong JSON type."""

Predicate = Callable[[np.ndarray], np.ndarray]
Test = Callable[[Any], bool]
SCALARS = (str, int, float, bool)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class CompiledCheck:
    """One pandera check, compiled: ``test(value)`` for one value, ``passes(array)`` for many.

    Both say True where a (non-null) value passes.
    """

    name: str
    test: Test
    passes: Predicate


@dataclass(frozen=True)
class ColumnRule:
    """What a column of the signature accepts.

    Attributes:
        name: The column name.
        kind: ``int``, ``float``, ``str``, ``bool`` or ``any`` (pandera checks it).
        dtype: The pandas dtype the model's input frame has for it (None: any).
        pandera_dtype: pandera's dtype of the column, which converts ``any`` columns.
        nullable: Whether JSON null is accepted.
        required: Whether the key must be present in each record.
        type_check: The check named when a value has the wrong type, e.g.
            ``coerce_dtype('int64')``.
        checks: The compiled checks.
        needs_pandera: True when some check could not be compiled.
        convert: Turns a JSON value into the column's Python value, or :data:`BAD`.
    """

    name: str
    kind: str
    dtype: Any
    pandera_dtype: Any
    nullable: bool
    required: bool
    type_check: str
    checks: tuple[CompiledCheck, ...]
    needs_pandera: bool
    convert: Callable[[Any], Any]

    @property
    def fill(self) -> Any:
        """The placeholder stored where a value is null or bad."""
        return {"int": 0, "float": math.nan, "bool": False}.get(self.kind)

    @property
    def array_dtype(self) -> Any:
        """The numpy dtype of the column's checked values."""
        return {"int": np.int64, "float": np.float64, "bool": np.bool_}.get(self.kind, object)


def _int_bounds(dtype: Any) -> tuple[int, int]:
    info = np.iinfo(dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else dtype)
    return max(int(info.min), INT64_MIN), min(int(info.max), INT64_MAX)


def _int_converter(low: int, high: int) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        kind = type(value)
        if kind is float and value.is_integer():
            value, kind = int(value), int
        return value if kind is int and low <= value <= high else BAD

    return convert


def _float_converter(value: Any) -> Any:
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else BAD
    if kind is int:
        try:
            return float(value)
        except OverflowError:
            return BAD
    return BAD


def _exact(kind: type) -> Callable[[Any], Any]:
    return lambda value: value if type(value) is kind else BAD


def _scalar(value: Any) -> Any:
    return value if type(value) in SCALARS else BAD


def column_kind(dtype: Any) -> str:
    """The JSON kind of a pandera column dtype: ``int``, ``float``, ``str``, ``bool``, ``any``."""
    inner = pandas_dtype_of(dtype)
    if inner is None:
        return "any"
    if isinstance(inner, pd.StringDtype):
        return "str"
    if isinstance(inner, (np.dtype, pd.api.extensions.ExtensionDtype)):
        if pd.api.types.is_bool_dtype(inner):
            return "bool"
        if pd.api.types.is_integer_dtype(inner):
            return "int"
        if pd.api.types.is_float_dtype(inner):
            return "float"
    return "any"


def _converter(kind: str, dtype: Any) -> Callable[[Any], Any]:
    if kind == "int":
        return _int_converter(*_int_bounds(pandas_dtype_of(dtype)))
    if kind == "float":
        return _float_converter
    if kind == "str":
        return _exact(str)
    if kind == "bool":
        return _exact(bool)
    return _scalar


Pair = tuple[Test, Predicate]


def _vectorize(test: Callable[[Any], object]) -> Pair:
    """A scalar test (a truthy result passes) and its vectorized form (a loop in Python)."""

    def passes(value: Any) -> bool:
        return bool(test(value))

    return passes, lambda a: np.fromiter((passes(v) for v in a.tolist()), bool, len(a))


def _members(s: dict[str, Any], key: str, inside: bool) -> Pair:
    values = frozenset(s[key])
    return _vectorize((lambda v: v in values) if inside else (lambda v: v not in values))


def _str_length(s: dict[str, Any]) -> Pair:
    exact, low, high = s.get("exact_value"), s.get("min_value"), s.get("max_value")
    if exact is None and low is None and high is None:
        raise ValueError("str_length without a bound")  # compile_check leaves it to pandera

    def fits(text: str) -> bool:
        if exact is not None:
            return bool(len(text) == exact)
        return bool((low is None or len(text) >= low) and (high is None or len(text) <= high))

    return _vectorize(fits)


def _in_range(s: dict[str, Any]) -> Pair:
    low = operator.ge if s.get("include_min", True) else operator.gt
    high = operator.le if s.get("include_max", True) else operator.lt
    lo, hi = s["min_value"], s["max_value"]
    return (lambda v: bool(low(v, lo) and high(v, hi))), (lambda a: low(a, lo) & high(a, hi))


def _compare(op: Callable[[Any, Any], Any], key: str) -> Callable[[dict[str, Any]], Pair]:
    def make(s: dict[str, Any]) -> Pair:
        bound = s[key]
        return (lambda v: bool(op(v, bound))), (lambda a: np.asarray(op(a, bound), dtype=bool))

    return make


ORDERED = frozenset({"int", "float"})
ANY_KIND = frozenset({"int", "float", "str", "bool"})
TEXT = frozenset({"str"})
PREDICATES: dict[str, tuple[frozenset[str], Callable[[dict[str, Any]], Pair]]] = {
    "in_range": (ORDERED, _in_range),
    "greater_than_or_equal_to": (ORDERED, _compare(operator.ge, "min_value")),
    "greater_than": (ORDERED, _compare(operator.gt, "min_value")),
    "less_than_or_equal_to": (ORDERED, _compare(operator.le, "max_value")),
    "less_than": (ORDERED, _compare(operator.lt, "max_value")),
    "equal_to": (ANY_KIND, _compare(operator.eq, "value")),
    "not_equal_to": (ANY_KIND, _compare(operator.ne, "value")),
    "isin": (ANY_KIND, lambda s: _members(s, "allowed_values", True)),
    "notin": (ANY_KIND, lambda s: _members(s, "forbidden_values", False)),
    "str_length": (TEXT, _str_length),
    "str_startswith": (TEXT, lambda s: _vectorize(lambda v: v.startswith(s["string"]))),
    "str_endswith": (TEXT, lambda s: _vectorize(lambda v: v.endswith(s["string"]))),
    "str_matches": (TEXT, lambda s: _vectorize(re.compile(s["pattern"]).match)),
    "str_contains": (TEXT, lambda s: _vectorize(re.compile(s["pattern"]).search)),
}
SAMPLES: dict[str, list[Any]] = {"int": [0], "float": [0.0], "str": [""], "bool": [False]}


def compile_check(check: pa.Check, kind: str) -> CompiledCheck | None:
    """Compile ``check`` for a column of ``kind``, or None if only pandera can run it."""
    entry = PREDICATES.get(check.name or "")
    plain = check.ignore_na and not check.raise_warning and check.groupby is None
    if entry is None or kind not in entry[0] or not plain or check.statistics is None:
        return None
    try:
        test, passes = entry[1](dict(check.statistics))
        sample = SAMPLES[kind]
        test(sample[0])
        if passes(np.array(sample, dtype=object if kind == "str" else None)).shape != (1,):
            return None
    except Exception:  # a check whose arguments do not fit the column: let pandera judge
        return None
    return CompiledCheck(str(check.error or check.name), test, passes)


def compile_column(column: pa.Column, coerce: bool) -> ColumnRule:
    """The :class:`ColumnRule` of one pandera column (``coerce``: the schema's flag)."""
    if column.regex:
        raise ServingError(
            f"column {column.name!r} of the signature is a regex; a served model needs "
            f"every input column named exactly. Register the model with a plain signature.",
            column=column.name,
        )
    kind = column_kind(column.dtype)
    compiled = [compile_check(check, kind) for check in column.checks]
    checks = tuple(check for check in compiled if check is not None)
    label = dtype_label(column.dtype) or "object"
    prefix = "coerce_dtype" if coerce or column.coerce else "dtype"
    return ColumnRule(
        name=str(column.name),
        kind=kind,
        dtype=pandas_dtype_of(column.dtype),
        pandera_dtype=column.dtype,
        nullable=bool(column.nullable),
        required=bool(column.required),
        type_check=f"{prefix}('{label}')",
        checks=checks,
        needs_pandera=kind == "any" or len(checks) < len(column.checks) or bool(column.unique),
        convert=_converter(kind, column.dtype),
    )


def compile_rules(signature: pa.DataFrameSchema) -> tuple[tuple[ColumnRule, ...], bool]:
    """Compile every column of ``signature``.

    Returns:
        The rules, in the signature's column order, and whether pandera must
        also run (some check was not compiled, or the frame has checks of its own).

    Raises:
        ServingError: The signature is not a pandera ``DataFrameSchema`` or
            has no fixed column names.
    """
    if not isinstance(signature, pa.DataFrameSchema) or not signature.columns:
        raise ServingError(
            "the model's signature is not a pandera DataFrameSchema with columns; "
            "re-register it with signature=input_contract(contract, target)."
        )
    rules = tuple(compile_column(c, bool(signature.coerce)) for c in signature.columns.values())
    whole = bool(signature.checks) or bool(signature.unique) or signature.index is not None
    return rules, whole or any(rule.needs_pandera for rule in rules)
