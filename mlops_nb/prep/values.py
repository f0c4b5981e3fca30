"""Column-level value clean-up used by :func:`mlops_nb.prep.cleanse.standardize`."""

from __future__ import annotations

import numbers
import re

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_extension_array_dtype,
    is_numeric_dtype,
    is_object_dtype,
    is_string_dtype,
)

LEADING_ZERO = re.compile(r"^[+-]?0\d")
BOOL_WORDS = {
    "true": True,
    "false": False,
    "yes": True,
    "no": False,
    "y": True,
    "n": False,
    "t": True,
    "f": False,
}


def standardize_column(series: pd.Series) -> tuple[pd.Series, list[str]]:
    """Return ``series`` with consistent values, and notes on what changed.

    See :func:`mlops_nb.prep.cleanse.standardize` for the rules.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return series, []
    if is_extension_array_dtype(dtype) and is_numeric_dtype(dtype) and dtype != "boolean":
        return _nullable_numeric(series)
    if is_string_dtype(dtype) or is_object_dtype(dtype):
        return _text(series)
    return series, []


def _nullable_numeric(series: pd.Series) -> tuple[pd.Series, list[str]]:
    if series.isna().any():
        target = "float64"
    else:
        target = "int64" if series.dtype.kind in "iu" else "float64"
    converted = series.astype(target)
    return converted, [f"nullable {series.dtype} -> {target} (missing as NaN)"]


def _is_scalar(value: object) -> bool:
    return isinstance(value, (str, bool, np.bool_, numbers.Number))


def _text(series: pd.Series) -> tuple[pd.Series, list[str]]:
    values = series.astype(object)
    missing = values.isna()
    if not values[~missing].map(_is_scalar).all():
        return series, []  # dates, lists, dicts...: not ours to reinterpret
    notes: list[str] = []
    odd_missing = int(values[missing].map(lambda v: v is None or v is pd.NA).sum())
    if odd_missing:
        notes.append(f"{odd_missing} None/pd.NA value(s) -> NaN")
    values = values.where(~missing, np.nan)
    values, more = _strip(values)
    notes.extend(more)
    converted, more = _convert(values)
    notes.extend(more)
    if not more and is_object_dtype(series.dtype):
        notes.append("object -> text (str dtype)")
    return converted, notes


def _strip(values: pd.Series) -> tuple[pd.Series, list[str]]:
    is_text = values.map(lambda v: isinstance(v, str))
    text = values[is_text]
    stripped = text.map(str.strip)
    notes = []
    changed = int((stripped != text).sum())
    if changed:
        notes.append(f"stripped whitespace in {changed} value(s)")
    empty = stripped == ""
    if empty.any():
        notes.append(f"{int(empty.sum())} empty string(s) -> NaN")
    values = values.copy()
    values[is_text] = stripped.where(~empty, np.nan)
    return values, notes


def _convert(values: pd.Series) -> tuple[pd.Series, list[str]]:
    present = values.dropna()
    if present.empty:
        return values.astype("str"), []
    as_bool = present.map(_bool_word)
    if as_bool.notna().all():
        return _to_bool(values, as_bool), ["yes/no-like text -> bool"]
    if _numeric_text(present):
        converted = pd.to_numeric(values, errors="coerce")
        return converted, [f"numeric text -> numeric ({converted.dtype})"]
    return values.astype("str"), []


def _numeric_text(present: pd.Series) -> bool:
    if present.map(lambda v: isinstance(v, (bool, np.bool_))).any():
        return False
    codes = present.map(lambda v: isinstance(v, str) and LEADING_ZERO.match(v) is not None)
    if codes.any():  # "01234" is a code (postcode, account), not a number
        return False
    return bool(pd.to_numeric(present, errors="coerce").notna().all())


def _bool_word(value: object) -> bool | None:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        return BOOL_WORDS.get(value.lower())
    return None


def _to_bool(values: pd.Series, as_bool: pd.Series) -> pd.Series:
    if len(as_bool) == len(values):
        return as_bool.astype(bool)
    result = pd.Series(pd.NA, index=values.index, dtype="boolean")
    result[as_bool.index] = as_bool.astype(bool)
    return result
