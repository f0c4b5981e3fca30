"""Column profiles and frame summaries."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from mlops_nb.data.profile import PROFILE_COLUMNS, column_role, profile, summary
from mlops_nb.data.sample import generate_churn


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["a1", "a2", "a3", "a4"],
            "amount": [10.0, None, 30.0, 50.0],
            "plan": ["basic", "pro", "basic", None],
            "signed_up": pd.to_datetime(["2024-01-05", "2024-03-01", None, "2023-12-31"]),
            "active": [True, False, True, True],
            "label": [0, 1, 0, 0],
        }
    )


def test_one_row_per_column_in_order(frame: pd.DataFrame) -> None:
    table = profile(frame, target="label")
    assert tuple(table.columns) == PROFILE_COLUMNS
    assert table["column"].tolist() == list(frame.columns)


def test_roles(frame: pd.DataFrame) -> None:
    roles = profile(frame, target="label").set_index("column")["role"].to_dict()
    assert roles == {
        "id": "identifier",
        "amount": "numeric",
        "plan": "categorical",
        "signed_up": "datetime",
        "active": "boolean",
        "label": "target",
    }
    assert profile(frame).set_index("column").loc["label", "role"] == "numeric"


def test_numeric_statistics(frame: pd.DataFrame) -> None:
    amount = profile(frame).set_index("column").loc["amount"]
    assert (amount["non_null"], amount["missing"], amount["missing_pct"]) == (3, 1, 25.0)
    assert (amount["unique"], amount["min"], amount["max"]) == (3, 10.0, 50.0)
    assert amount["mean"] == pytest.approx(30.0)
    assert amount["std"] == pytest.approx(20.0)
    assert amount["dtype"] == "float64"


def test_categorical_and_datetime_statistics(frame: pd.DataFrame) -> None:
    table = profile(frame).set_index("column")
    plan, signed = table.loc["plan"], table.loc["signed_up"]
    assert (plan["top"], plan["top_freq"], plan["unique"]) == ("basic", 2, 2)
    assert plan["min"] is None and math.isnan(plan["mean"])
    assert signed["min"] == pd.Timestamp("2023-12-31")
    assert signed["max"] == pd.Timestamp("2024-03-01")
    assert table.loc["active", "top"] is True


def test_identifier_needs_distinct_text() -> None:
    assert column_role(pd.Series(["x", "y", "z"], name="code")) == "identifier"
    assert column_role(pd.Series(["x", "y", "x"], name="code")) == "categorical"
    assert column_role(pd.Series([f"id{i % 97}" for i in range(100)])) == "identifier"
    assert column_role(pd.Series([f"id{i % 90}" for i in range(100)])) == "categorical"
    assert column_role(pd.Series(["x"], name="code")) == "categorical"
    assert column_role(pd.Series([1, 2, 3], name="n")) == "numeric"
    assert column_role(pd.Series(["a", "b"], dtype="category", name="c")) == "categorical"


def test_profile_of_the_churn_sample() -> None:
    table = profile(generate_churn(2000, seed=1), target="churned").set_index("column")
    assert table.loc["customer_id", "role"] == "identifier"  # despite 1 % duplicate rows
    assert table.loc["churned", "role"] == "target"
    assert table.loc["total_charges", "missing_pct"] == pytest.approx(3.0, abs=0.3)
    assert set(table["role"]) == {"identifier", "categorical", "numeric", "target"}


def test_profile_of_an_empty_frame() -> None:
    table = profile(pd.DataFrame({"a": pd.Series([], dtype="float64")}))
    assert table.loc[0, "missing_pct"] == 0.0
    assert table.loc[0, "top_freq"] == 0


def test_summary(frame: pd.DataFrame) -> None:
    doubled = pd.concat([frame, frame.iloc[:1]], ignore_index=True)
    figures = summary(doubled)
    assert figures["rows"] == 5
    assert figures["columns"] == 6
    assert figures["duplicates"] == 1
    assert figures["missing_cells"] == 3
    assert isinstance(figures["memory_mb"], float)
    assert 0.2 < summary(generate_churn(5000))["memory_mb"] < 5


def test_summary_with_unhashable_values() -> None:
    figures = summary(pd.DataFrame({"tags": [["a"], ["a"], ["b"]]}))
    assert figures["duplicates"] == 1
