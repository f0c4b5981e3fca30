"""smoke_records: valid records from a frame, invalid ones built from the signature's checks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pytest

from mlops_nb.data import generate_churn
from mlops_nb.errors import DataValidationError, ServingError
from mlops_nb.validation import input_contract, load_contract, validate
from mlops_nb.validation.fast import BrokenValue, InputChecker, SmokeRecords, smoke_records

CONTRACT = Path(__file__).parents[3] / "contracts" / "churn.yaml"

HOUSES = pa.DataFrameSchema(
    {
        "rooms": pa.Column(int, pa.Check.in_range(1, 10), nullable=True),
        "band": pa.Column(str, pa.Check.isin(["low", "high"])),
        "area": pa.Column(float, pa.Check.greater_than_or_equal_to(10.0)),
        "garden": pa.Column(bool),
        "city": pa.Column(str, pa.Check.str_length(2, 20)),
    },
    name="houses",
    strict=True,
    coerce=True,
)


def houses(rows: int = 6) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "rooms": pd.array([3, None, 5, 2, 9, 1][:rows], dtype="Int64"),
            "band": ["low", "high", "low", "high", "low", "low"][:rows],
            "area": [50.5, 80.0, 12.0, 10.0, 99.9, 31.0][:rows],
            "garden": [True, False, True, True, False, False][:rows],
            "city": ["Oslo", "Rome", "Lima", "Bern", "Kyiv", "Nice"][:rows],
        }
    )
    return frame.assign(price=range(rows))  # the target: not in the signature


def churn() -> tuple[pa.DataFrameSchema, pd.DataFrame]:
    contract = load_contract(CONTRACT)
    raw = generate_churn(300, seed=3)
    valid = validate(raw, contract, on_invalid="quarantine", max_invalid_fraction=1.0).valid
    return input_contract(contract, "churned"), valid.drop(columns="churned")


def reported(signature: pa.DataFrameSchema, smoke: SmokeRecords) -> set[tuple[int, str, str]]:
    """What the server's checker says about the invalid records (as a 422 lists them)."""
    errors = InputChecker(signature).check_records(smoke.invalid).errors
    return {(e.row, e.column, e.check) for e in errors}


def test_churn_records_break_one_check_of_each_kind():
    signature, frame = churn()
    smoke = smoke_records(signature, frame, 5)
    assert len(smoke.valid) == 5 and InputChecker(signature).check_records(smoke.valid).ok
    assert smoke.broken == [
        BrokenValue(
            0, "contract", "isin(['month-to-month', 'one-year', 'two-year'])", "not-month-to-month"
        ),
        BrokenValue(1, "age", "in_range(18, 100)", 17),
        BrokenValue(2, "customer_id", "coerce_dtype('str')", 12345),
        BrokenValue(3, "tenure_months", "not_nullable", None),
    ]
    assert reported(signature, smoke) == smoke.expected
    assert smoke.columns == ["contract", "age", "customer_id", "tenure_months"]
    for row, record in enumerate(smoke.invalid):  # one value changed, the rest a valid record
        changed = {k for k, v in record.items() if smoke.valid[row].get(k, object()) != v}
        assert changed == {smoke.broken[row].column}


def test_another_signature_gets_its_own_columns_broken():
    smoke = smoke_records(HOUSES, houses(), 10)
    assert len(smoke.valid) == 6 and all("price" not in record for record in smoke.valid)
    assert [(b.column, b.check, b.value) for b in smoke.broken] == [
        ("band", "isin(['low', 'high'])", "not-high"),
        ("rooms", "in_range(1, 10)", 0),
        ("area", "coerce_dtype('float64')", "not a number"),
        ("garden", "not_nullable", None),
    ]
    assert reported(HOUSES, smoke) == smoke.expected


def test_rows_that_fail_are_not_valid_records():
    frame = houses().assign(band=["low", "mid", "low", "mid", "high", "low"])
    smoke = smoke_records(HOUSES, frame, 3)
    assert [record["city"] for record in smoke.valid] == ["Oslo", "Lima", "Kyiv"]


def test_a_maximum_is_broken_when_there_is_no_minimum():
    signature = pa.DataFrameSchema({"score": pa.Column(float, pa.Check.less_than(1.5))})
    smoke = smoke_records(signature, pd.DataFrame({"score": [0.5]}), 1)
    assert smoke.broken[0] == BrokenValue(0, "score", "less_than(1.5)", 3.0)
    assert [b.column for b in smoke.broken] == ["score"] * 3  # range, type, null: one column
    assert reported(signature, smoke) == smoke.expected


def test_a_signature_without_checks_gets_an_unknown_key():
    signature = pa.DataFrameSchema({"anything": pa.Column(nullable=True)}, strict=True)
    smoke = smoke_records(signature, pd.DataFrame({"anything": ["a", 1]}), 2)
    assert [(b.column, b.check) for b in smoke.broken] == [
        ("_not_in_the_signature", "column_in_schema")
    ]
    assert reported(signature, smoke) == smoke.expected


def test_no_valid_row_is_an_error_naming_the_failures():
    frame = houses().assign(band="mid")
    with pytest.raises(DataValidationError, match=r"no row of the frame passes .*band: isin") as e:
        smoke_records(HOUSES, frame, 3)
    assert e.value.columns == ["band"]
    with pytest.raises(DataValidationError, match="it has no rows"):
        smoke_records(HOUSES, houses().iloc[:0], 3)


@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_n_must_be_a_whole_number(n):
    with pytest.raises(DataValidationError, match="whole number"):
        smoke_records(HOUSES, houses(), n)


def test_a_regex_signature_cannot_be_smoke_tested():
    signature = pa.DataFrameSchema({"x_.*": pa.Column(int, regex=True)})
    with pytest.raises(ServingError, match="regex"):
        smoke_records(signature, pd.DataFrame({"x_1": [1]}), 1)
