"""The dtype primitives of mlops_nb/dtypes.py."""

from __future__ import annotations

import pandas as pd
import pytest

from mlops_nb.dtypes import is_number, is_temporal, is_text


@pytest.mark.parametrize(
    ("series", "number", "text", "temporal"),
    [
        (pd.Series([1, 2]), True, False, False),
        (pd.Series([0.5, None]), True, False, False),
        (pd.Series([1, None], dtype="Int64"), True, False, False),
        (pd.Series([True, False]), False, False, False),
        (pd.Series([True, None], dtype="boolean"), False, False, False),
        (pd.Series(["a", "b"], dtype=object), False, True, False),
        (pd.Series(["a", "b"], dtype="string"), False, True, False),
        # categories of text read as text, as pandas says: classifiers check categorical first
        (pd.Series(["a"], dtype="category"), False, True, False),
        (pd.Series(pd.to_datetime(["2026-01-01"], utc=True)), False, False, True),
        (pd.Series(pd.to_timedelta(["1D"])), False, False, True),
    ],
)
def test_a_dtype_holds_numbers_text_or_time(series, number, text, temporal):
    assert is_number(series) is number and is_number(series.dtype) is number
    assert is_text(series) is text
    assert is_temporal(series) is temporal and is_temporal(series.dtype) is temporal
