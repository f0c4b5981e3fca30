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
_PROBE = 1_000
"""Values looked at before a whole column is (see :func:`_bool_words`)."""
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
    if isinstance(series.dtype, pd.StringDtype) and _missing_is_nan(series.dtype):
        return _string(series)
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


def _missing_is_nan(dtype: pd.StringDtype) -> bool:
    """Whether a ``str`` dtype marks missing values with NaN (pandas' default), not pd.NA."""
    na_value = getattr(dtype, "na_value", pd.NA)
    return isinstance(na_value, float) and np.isnan(na_value)


def _string(series: pd.Series) -> tuple[pd.Series, list[str]]:
    """The rules of :func:`_text` for a ``str`` column, in vectorised string operations.

    A ``str`` column holds only text and NaN, so no value needs a per-value
    type check; ten million values take seconds instead of minutes.
    """
    stripped = series.str.strip()
    notes = []
    changed = int((stripped != series)[series.notna()].sum())
    if changed:
        notes.append(f"stripped whitespace in {changed} value(s)")
    empty = stripped == ""
    blanks = int(empty.sum())
    if blanks:
        notes.append(f"{blanks} empty string(s) -> NaN")
        stripped = stripped.where(~empty)
    converted, more = _convert(stripped)
    return converted, notes + more


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
    as_bool = _bool_words(present)
    if as_bool is not None:
        return _to_bool(values, as_bool), ["yes/no-like text -> bool"]
    if _numeric_text(present):
        converted = pd.to_numeric(values, errors="coerce")
        return converted, [f"numeric text -> numeric ({converted.dtype})"]
    return values.astype("str"), []


def _bool_words(present: pd.Series) -> pd.Series | None:
    """``present`` as booleans when every value is a boolean word, else None.

    The first :data:`_PROBE` values are tried first: a column of other text
    is told apart without a look at the rest.
    """
    if is_object_dtype(present.dtype):
        if present.iloc[:_PROBE].map(_bool_word).isna().any():
            return None
        as_bool = present.map(_bool_word)
        return as_bool if as_bool.notna().all() else None
    lowered = present.str.lower()
    if not lowered.iloc[:_PROBE].isin(BOOL_WORDS).all() or not lowered.isin(BOOL_WORDS).all():
        return None
    return lowered.map(BOOL_WORDS)


def _numeric_text(present: pd.Series) -> bool:
    if is_object_dtype(present.dtype):
        if present.map(lambda v: isinstance(v, (bool, np.bool_))).any():
            return False
        codes = present.map(lambda v: isinstance(v, str) and LEADING_ZERO.match(v) is not None)
    else:
        codes = present.str.match(LEADING_ZERO.pattern)
    if codes.any():  # "01234" is a code (postcode, account), not a number
        return False
    if pd.to_numeric(present.iloc[:_PROBE], errors="coerce").isna().any():
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
