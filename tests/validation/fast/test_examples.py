"""Example records built from a signature (validation.fast.examples)."""

from __future__ import annotations

import pandera.pandas as pa

from mlops_nb.validation.fast import example_record


def test_example_values_come_from_each_kind_of_check():
    signature = pa.DataFrameSchema(
        {
            "a": pa.Column(int, pa.Check.in_range(1, 4)),
            "b": pa.Column(float, pa.Check.greater_than(2)),
            "c": pa.Column(int, pa.Check.less_than(10)),
            "d": pa.Column(float, pa.Check.less_than_or_equal_to(3)),
            "e": pa.Column(str, pa.Check.equal_to("x")),
            "f": pa.Column(str, pa.Check.isin({"z", "y"})),
            "g": pa.Column("datetime64[ns]"),
            "h": pa.Column(bool),
            "i": pa.Column(int, pa.Check.greater_than_or_equal_to(5)),
        },
        strict=True,
        coerce=True,
    )
    assert example_record(signature) == {
        "a": 2,
        "b": 3.0,
        "c": 9,
        "d": 3.0,
        "e": "x",
        "f": "y",
        "g": "2024-01-01T00:00:00",
        "h": False,
        "i": 5,
    }


def test_no_example_when_the_simple_picks_break_the_signature():
    signature = pa.DataFrameSchema({"x": pa.Column(str, pa.Check.str_length(5, 6))})
    assert example_record(signature) is None
