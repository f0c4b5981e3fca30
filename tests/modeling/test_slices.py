"""Tests of slice_metrics (the bias check)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlops_nb.errors import ModelingError
from mlops_nb.modeling import TuningResult, evaluate, metric_names, slice_metrics
from tests.modeling.conftest import Problem


def test_slices_of_a_categorical_column(binary: Problem, binary_result: TuningResult) -> None:
    model = binary_result.best_estimator
    table = slice_metrics(model, binary.X_test, binary.y_test, "binary", "segment")

    assert list(table.columns) == [
        "column", "value", "n", *metric_names("binary"), "gap", "note"
    ]  # fmt: skip
    assert list(table["value"]) == ["east", "island", "north", "south", "west"]
    assert (table["column"] == "segment").all()
    assert table["n"].sum() == len(binary.X_test)
    overall = evaluate(model, binary.X_test, binary.y_test, "binary")
    assert table.attrs == {"overall": overall, "primary_metric": "roc_auc"}
    north = table.set_index("value").loc["north"]
    mask = (binary.X_test["segment"] == "north").to_numpy()
    expected = evaluate(model, binary.X_test[mask], binary.y_test[mask], "binary")
    assert north["roc_auc"] == pytest.approx(expected["roc_auc"])
    assert north["gap"] == pytest.approx(expected["roc_auc"] - overall["roc_auc"])
    assert north["note"] == ""


def test_small_slices_are_listed_without_metrics(
    binary: Problem, binary_result: TuningResult
) -> None:
    table = slice_metrics(
        binary_result.best_estimator, binary.X_test, binary.y_test, "binary", "segment"
    )
    island = table.set_index("value").loc["island"]

    assert 0 < island["n"] < 20
    assert math.isnan(island["roc_auc"]) and math.isnan(island["gap"])
    assert "fewer than min_rows=20 rows" in island["note"]
    everything = slice_metrics(
        binary_result.best_estimator, binary.X_test, binary.y_test, "binary", "segment", min_rows=1
    )
    assert not everything["accuracy"].isna().any()


def test_missing_values_form_their_own_slice(binary: Problem, binary_result: TuningResult) -> None:
    X = binary.X_test.copy()
    X.loc[X.index[:30], "segment"] = np.nan
    table = slice_metrics(binary_result.best_estimator, X, binary.y_test, "binary", "segment")

    assert table["value"].iloc[-1] == "(missing)"
    assert table["n"].iloc[-1] == 30


def test_numeric_column_is_binned_into_quartiles(
    regression: Problem, regression_result: TuningResult
) -> None:
    table = slice_metrics(
        regression_result.best_estimator, regression.X_test, regression.y_test, "regression", "x0"
    )

    assert len(table) == 4
    assert all(value.startswith("(") and value.endswith("]") for value in table["value"])
    assert list(table["n"]) == [38, 37, 37, 38]
    overall = table.attrs["overall"]["rmse"]
    np.testing.assert_allclose(table["gap"], table["rmse"] - overall)


def test_unknown_column_lists_the_columns(binary: Problem, binary_result: TuningResult) -> None:
    with pytest.raises(ModelingError, match="choose one of: x0, x1, x2, x3, x4, segment"):
        slice_metrics(
            binary_result.best_estimator, binary.X_test, binary.y_test, "binary", "region"
        )
