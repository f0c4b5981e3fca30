"""Readable dtype names for contracts.

pandera names the pandas 3 default string dtype (``str``, NaN as missing value)
``string[pyarrow]``, which reads like the opt-in ``pd.NA`` string dtype and
breaks where pyarrow is absent. Contracts and summaries call it ``str``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

DEFAULT_STR = pd.api.types.pandas_dtype("str")


def pandas_dtype_of(dtype: Any) -> Any:
    """Return the pandas/numpy dtype behind a pandera ``DataType`` (or ``dtype`` itself)."""
    return getattr(dtype, "type", dtype)


def is_default_str(dtype: Any) -> bool:
    """Tell whether ``dtype`` is pandas' default ``str`` dtype."""
    inner = pandas_dtype_of(dtype)
    return isinstance(inner, pd.StringDtype) and inner == DEFAULT_STR


def dtype_label(dtype: Any) -> str:
    """Name ``dtype`` as a contract would write it: ``str``, ``int64``, ``float64``...

    Returns an empty string when the contract does not fix a dtype.
    """
    if dtype is None:
        return ""
    if is_default_str(dtype):
        return "str"
    return str(dtype)


def cannot_hold_nulls(dtype: Any) -> bool:
    """Tell whether ``dtype`` is a numpy integer or bool dtype, which has no missing value."""
    inner = pandas_dtype_of(dtype)
    return isinstance(inner, np.dtype) and inner.kind in "iub"
