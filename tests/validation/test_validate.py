"""validate(): row-level failures, quarantine, schema-level failures and their messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.errors import SchemaErrors

from mlops_nb.errors import ContractError, DataValidationError
from mlops_nb.validation import ValidationResult, load_contract, validate

CHURN = Path(__file__).resolve().parents[2] / "contracts" / "churn.yaml"
CONTRACTS = ("month-to-month", "one-year", "two-year")
PAYMENTS = ("electronic-check", "mailed-check", "bank-transfer", "credit-card")
FAILURE_COLUMNS = ["column", "check", "failures", "examples"]


@pytest.fixture(scope="module")
def churn() -> pa.DataFrameSchema:
    return load_contract(CHURN)


def customers(rows: int = 20) -> pd.DataFrame:
    """Rows that satisfy the churn contract, indexed r0, r1, ..."""
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:07d}" for i in range(rows)],
            "age": [18 + (i * 7) % 70 for i in range(rows)],
            "tenure_months": [i % 73 for i in range(rows)],
            "monthly_charges": [20.0 + i for i in range(rows)],
            "total_charges": [np.nan if i % 6 == 0 else 100.0 * i for i in range(rows)],
            "contract": [CONTRACTS[i % 3] for i in range(rows)],
            "payment_method": [None if i % 5 == 0 else PAYMENTS[i % 4] for i in range(rows)],
            "internet_service": [("dsl", "fiber", "none")[i % 3] for i in range(rows)],
            "region": [("north", "south", "east", "west")[i % 4] for i in range(rows)],
            "support_calls": [i % 9 for i in range(rows)],
            "churned": [i % 2 for i in range(rows)],
        },
        index=pd.Index([f"r{i}" for i in range(rows)], name="row"),
    )


def broken_customers() -> pd.DataFrame:
    """20 rows, 5 of them invalid, one with two defects; ``age`` arrives as text."""
    frame = customers(20).astype({"age": "str"})
    frame.loc["r3", "age"] = "150"  # out of range
    frame.loc["r5", "contract"] = "monthly"  # not an allowed value
    frame.loc["r7", "customer_id"] = None  # null in a non-nullable column
    frame.loc["r9", "age"] = "forty"  # cannot be read as int64
    frame.loc["r11", ["age", "region"]] = ["10", "middle"]  # two defects
    return frame


EXPECTED_REASONS = {
    "r3": "age: in_range(18, 100)",
    "r5": "contract: isin(['month-to-month', 'one-year', 'two-year'])",
    "r7": "customer_id: not_nullable",
    "r9": "age: coerce_dtype('int64')",
    "r11": "age: in_range(18, 100); region: isin(['north', 'south', 'east', 'west'])",
}


# --- clean data ------------------------------------------------------------------------


def test_clean_data_passes(churn: pa.DataFrameSchema) -> None:
    frame = customers(30)
    result = validate(frame, churn)
    assert isinstance(result, ValidationResult)
    assert result.passed
    assert (result.rows, result.invalid_rows, result.invalid_fraction) == (30, 0, 0.0)
    pd.testing.assert_frame_equal(result.valid, frame)
    assert list(result.quarantined.columns) == [*frame.columns, "_reasons"]
    assert result.quarantined.empty
    assert list(result.failures.columns) == FAILURE_COLUMNS
    assert result.failures.empty
    assert result.summary() == {
        "contract": "churn",
        "passed": True,
        "rows": 30,
        "valid_rows": 30,
        "invalid_rows": 0,
        "invalid_fraction": 0.0,
        "failures": [],
    }


def test_values_are_coerced_and_the_index_is_kept(churn: pa.DataFrameSchema) -> None:
    frame = customers(6).astype({"age": "str", "churned": "str", "monthly_charges": "str"})
    result = validate(frame, churn)
    assert result.valid["age"].dtype == np.int64
    assert result.valid["churned"].dtype == np.int64
    assert result.valid["monthly_charges"].dtype == np.float64
    assert result.valid.index.equals(frame.index)
    assert result.valid.index.name == "row"


# --- invalid rows ----------------------------------------------------------------------


def test_invalid_rows_are_quarantined_with_their_reasons(churn: pa.DataFrameSchema) -> None:
    frame = broken_customers()
    result = validate(frame, churn, on_invalid="quarantine", max_invalid_fraction=0.5)
    assert (result.rows, result.invalid_rows, result.invalid_fraction) == (20, 5, 0.25)
    assert not result.passed
    assert result.quarantined["_reasons"].to_dict() == EXPECTED_REASONS
    pd.testing.assert_frame_equal(
        result.quarantined.drop(columns="_reasons"), frame.loc[list(EXPECTED_REASONS)]
    )
    assert result.valid.index.tolist() == [i for i in frame.index if i not in EXPECTED_REASONS]


def test_the_failure_table_counts_rows_per_column_and_check(churn: pa.DataFrameSchema) -> None:
    result = validate(broken_customers(), churn, on_invalid="quarantine", max_invalid_fraction=1)
    assert result.failures.to_dict("records") == [
        {"column": "age", "check": "in_range(18, 100)", "failures": 2, "examples": "150, 10"},
        {"column": "age", "check": "coerce_dtype('int64')", "failures": 1, "examples": "'forty'"},
        {
            "column": "contract",
            "check": "isin(['month-to-month', 'one-year', 'two-year'])",
            "failures": 1,
            "examples": "'monthly'",
        },
        {"column": "customer_id", "check": "not_nullable", "failures": 1, "examples": "null"},
        {
            "column": "region",
            "check": "isin(['north', 'south', 'east', 'west'])",
            "failures": 1,
            "examples": "'middle'",
        },
    ]
    summary = result.summary()
    assert summary["invalid_rows"] == 5
    assert summary["failures"][0] == {"column": "age", "check": "in_range(18, 100)", "failures": 2}


def test_the_valid_rows_pass_the_contract_again(churn: pa.DataFrameSchema) -> None:
    result = validate(broken_customers(), churn, on_invalid="quarantine", max_invalid_fraction=1)
    assert result.valid["age"].dtype == np.int64
    pd.testing.assert_frame_equal(churn.validate(result.valid), result.valid)
    assert validate(result.valid, churn).passed


def test_fail_mode_raises_with_a_headline_and_the_table(churn: pa.DataFrameSchema) -> None:
    with pytest.raises(
        DataValidationError, match=r"^5 of 20 rows \(25\.0%\) break contract 'churn'"
    ):
        validate(broken_customers(), churn)
    with pytest.raises(DataValidationError) as info:
        validate(broken_customers(), churn, source="data/customers.csv")
    error = info.value
    message = str(error)
    assert message.startswith("5 of 20 rows of data/customers.csv (25.0%) break contract 'churn':")
    assert "age          in_range(18, 100)" in message
    assert "-p on_invalid=quarantine" in message
    assert error.result.invalid_rows == 5
    pd.testing.assert_frame_equal(error.failures, error.result.failures)
    assert isinstance(error.__cause__, SchemaErrors)


def test_quarantine_within_the_limit_returns_the_result(churn: pa.DataFrameSchema) -> None:
    frame = customers(40)
    frame.loc[["r1", "r2"], "region"] = "nowhere"  # 2 of 40 = exactly the 5% limit
    result = validate(frame, churn, on_invalid="quarantine")
    assert result.invalid_rows == 2
    assert result.invalid_fraction == 0.05
    assert len(result.valid) == 38


def test_quarantine_over_the_limit_raises(churn: pa.DataFrameSchema) -> None:
    with pytest.raises(
        DataValidationError,
        match=r"25\.0% is more than the limit max_invalid_fraction=0\.05 \(5\.0%\)",
    ) as info:
        validate(broken_customers(), churn, on_invalid="quarantine")
    assert "raise the limit with -p max_invalid_fraction=0.25" in str(info.value)
    assert info.value.result.invalid_rows == 5


def test_every_row_invalid(churn: pa.DataFrameSchema) -> None:
    frame = customers(4).assign(region="nowhere")
    result = validate(frame, churn, on_invalid="quarantine", max_invalid_fraction=1)
    assert result.valid.empty
    assert result.invalid_rows == 4
    assert result.failures.loc[0, "failures"] == 4


def test_duplicated_index_labels_are_kept_apart(churn: pa.DataFrameSchema) -> None:
    frame = customers(4).set_axis([7, 7, 8, 8], axis=0)
    frame.iloc[1, frame.columns.get_loc("region")] = "nowhere"
    result = validate(frame, churn, on_invalid="quarantine", max_invalid_fraction=1)
    assert result.valid.index.tolist() == [7, 8, 8]
    assert result.valid["customer_id"].tolist() == ["C0000000", "C0000002", "C0000003"]
    assert result.quarantined["customer_id"].tolist() == ["C0000001"]


def test_the_message_shows_at_most_ten_lines_of_the_table() -> None:
    schema = pa.DataFrameSchema({f"c{i:02d}": pa.Column(int, pa.Check.ge(0)) for i in range(12)})
    frame = pd.DataFrame([[-1] * 12, [1] * 12], columns=list(schema.columns))
    with pytest.raises(
        DataValidationError, match=r"\.\.\. and 2 more \(see the \.failures table\)"
    ):
        validate(frame, schema)


# --- failures no row can be blamed for --------------------------------------------------


def test_a_missing_column_always_raises(churn: pa.DataFrameSchema) -> None:
    frame = broken_customers().drop(columns="region")
    with pytest.raises(
        DataValidationError,
        match=r"(?s)does not fit contract 'churn'.*missing column 'region'.*-p contract=",
    ) as info:
        validate(frame, churn, on_invalid="quarantine", max_invalid_fraction=1)
    assert info.value.result is None
    assert info.value.failures["column"].tolist() == ["region"]
    assert isinstance(info.value.__cause__, SchemaErrors)


def test_an_unexpected_column_always_raises(churn: pa.DataFrameSchema) -> None:
    frame = customers(5).assign(notes="x")
    with pytest.raises(DataValidationError, match=r"unexpected column 'notes' \(the contract is"):
        validate(frame, churn, on_invalid="quarantine", max_invalid_fraction=1)


def test_a_column_no_value_of_which_can_be_coerced_raises(churn: pa.DataFrameSchema) -> None:
    frame = customers(5).assign(age=["old", "young", "old", "middle", "young"])
    with pytest.raises(
        DataValidationError,
        match=r"column 'age': no value can be converted, coerce_dtype\('int64'\)",
    ):
        validate(frame, churn, on_invalid="quarantine", max_invalid_fraction=1)


def test_a_dataframe_check_always_raises() -> None:
    schema = pa.DataFrameSchema(
        {"low": pa.Column(int), "high": pa.Column(int)},
        checks=[pa.Check(lambda df: df["low"] <= df["high"], name="low_not_above_high")],
        name="pairs",
    )
    frame = pd.DataFrame({"low": [1, 5, 2], "high": [2, 3, 4]})
    with pytest.raises(DataValidationError, match=r"\(dataframe\): low_not_above_high failed"):
        validate(frame, schema, on_invalid="quarantine", max_invalid_fraction=1)


# --- arguments -------------------------------------------------------------------------


def test_unknown_on_invalid(churn: pa.DataFrameSchema) -> None:
    with pytest.raises(
        DataValidationError, match="on_invalid='drop' is not one of fail, quarantine"
    ):
        validate(customers(3), churn, on_invalid="drop")


@pytest.mark.parametrize("limit", [-0.1, 1.5, "many", True])
def test_max_invalid_fraction_must_be_a_fraction(churn: pa.DataFrameSchema, limit: object) -> None:
    with pytest.raises(DataValidationError, match="is not a fraction between 0 and 1"):
        validate(customers(3), churn, max_invalid_fraction=limit)  # type: ignore[arg-type]


def test_no_rows(churn: pa.DataFrameSchema) -> None:
    with pytest.raises(DataValidationError, match="no rows to validate against contract 'churn'"):
        validate(customers(0), churn)


def test_wrong_argument_types(churn: pa.DataFrameSchema) -> None:
    with pytest.raises(DataValidationError, match="needs a pandas DataFrame, got list"):
        validate([1, 2], churn)  # type: ignore[arg-type]
    with pytest.raises(ContractError, match="needs a pandera DataFrameSchema as contract"):
        validate(customers(3), "contracts/churn.yaml")  # type: ignore[arg-type]


def test_rows_get_all_reasons_when_two_columns_have_unreadable_values(
    churn: pa.DataFrameSchema,
) -> None:
    frame = customers(10).astype({"age": "str", "monthly_charges": "str"})
    frame.loc["r2", ["age", "monthly_charges"]] = ["n/a", "5000"]  # unreadable + too high
    frame.loc["r4", ["age", "monthly_charges"]] = ["200", "lots"]  # too old + unreadable
    result = validate(frame, churn, on_invalid="quarantine", max_invalid_fraction=1)
    assert result.quarantined["_reasons"].to_dict() == {
        "r2": "age: coerce_dtype('int64'); monthly_charges: in_range(0, 1000)",
        "r4": "age: in_range(18, 100); monthly_charges: coerce_dtype('float64')",
    }
    assert result.valid["monthly_charges"].dtype == np.float64
