"""Tests of standardize(), cleanse(), the outlier fences/clipper and the report tables."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import check_estimator

from mlops_nb.errors import MlopsNbError, PreparationError
from mlops_nb.prep import (
    OutlierClipper,
    before_after,
    cleanse,
    iqr_fences,
    missing_table,
    outlier_fences,
    standardize,
)

CHARGES = ["20.5", " 35", "40.25", "38", "", "45", "39", "41", "37", "5000", "42", "42"]
PAPERLESS = ["Yes", "no", "YES", None, "n", "y", "no", "yes", "no", "no", "yes", "yes"]


def raw_churn() -> pd.DataFrame:
    """Twelve messy customers: padded text, blanks, numeric text, a duplicate, a missing target."""
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:03d}" for i in range(11)] + ["C010"],
            "age": [23, 35, 41, 52, 29, 61, 33, 47, 38, 55, 44, 44],
            "monthly_charges": CHARGES,
            "total_charges": [100.0, np.nan, 300, 420, 150, np.nan, 200, 250, 330, 410, 290, 290],
            "contract": [" month ", "year", "", None, "month", "two_year"] + ["month"] * 6,
            "paperless": PAPERLESS,
            "support_calls": pd.array([0, 1, 2, None, 1, 0, 3, 1, 0, 2, 1, 1], dtype="Int64"),
            "churned": [0, 1, 0, 1, np.nan, 0, 1, 0, 1, 0, 1, 1],
        }
    )


# --- standardize ------------------------------------------------------------------------


def test_standardize_makes_values_consistent() -> None:
    df, changes = standardize(raw_churn(), "churned")

    assert df["monthly_charges"].dtype == "float64"
    assert df.loc[1, "monthly_charges"] == 35.0
    assert np.isnan(df.loc[4, "monthly_charges"])  # "" became missing
    assert df["contract"].tolist()[:2] == ["month", "year"]
    assert df["contract"].iloc[2:4].isna().all()  # "" and None
    assert df["contract"].dtype == "str"
    assert str(df["paperless"].dtype) == "boolean"  # yes/no words with a missing value
    assert df["paperless"].tolist()[:3] == [True, False, True]
    assert df["support_calls"].dtype == "float64"  # nullable Int64 with pd.NA -> NaN
    assert list(df.columns) == list(raw_churn().columns)  # names never change
    assert any(c.startswith("monthly_charges:") and "numeric" in c for c in changes)
    assert any(c.startswith("contract:") and "stripped" in c for c in changes)
    assert any(c.startswith("paperless:") and "bool" in c for c in changes)


def test_standardize_leaves_input_alone_and_is_idempotent() -> None:
    raw = raw_churn()
    snapshot = raw.copy()
    once, _ = standardize(raw, "churned")
    twice, changes = standardize(once, "churned")

    pd.testing.assert_frame_equal(raw, snapshot)
    pd.testing.assert_frame_equal(once, twice)
    assert changes == []


def test_standardize_object_columns() -> None:
    df = pd.DataFrame(
        {
            "mixed": pd.Series([1, "2", None, pd.NA], dtype=object),
            "flags": pd.Series([True, False, True, False], dtype=object),
            "words": pd.Series(["a ", "b", None, "c"], dtype=object),
            "postcode": ["01234", "20100", "3000", None],
            "y": [1, 0, 1, 0],
        }
    )
    out, changes = standardize(df, "y")

    assert out["mixed"].tolist()[:2] == [1.0, 2.0]
    assert out["mixed"].isna().sum() == 2
    assert out["flags"].dtype == bool
    assert out["words"].dtype == "str"
    assert out["words"].tolist()[:2] == ["a", "b"]
    assert out["postcode"].tolist()[0] == "01234"  # leading zero: a code, kept as text
    assert "mixed: 2 None/pd.NA value(s) -> NaN" in changes


def test_standardize_unknown_target() -> None:
    with pytest.raises(
        PreparationError, match=r"Target column 'churn' is not in the data.*, churned"
    ):
        standardize(raw_churn(), "churn")


# --- cleanse ----------------------------------------------------------------------------


def test_cleanse_drops_duplicates_and_missing_targets() -> None:
    df, _ = standardize(raw_churn(), "churned")
    result = cleanse(df, "churned")
    report = result.report.set_index("step")

    assert list(result.report.columns) == ["step", "rows_before", "rows_after", "detail"]
    assert report.loc["drop duplicates", ["rows_before", "rows_after"]].tolist() == [12, 11]
    assert report.loc["drop missing target", ["rows_before", "rows_after"]].tolist() == [11, 10]
    assert len(result.data) == 10
    assert result.data["churned"].notna().all()
    assert not result.data.duplicated().any()
    assert 4 not in result.data.index and 11 not in result.data.index  # original labels kept


def test_cleanse_counts_missing_features_without_imputing() -> None:
    df, _ = standardize(raw_churn(), "churned")
    result = cleanse(df, "churned")
    missing = result.missing.set_index("column")["missing"]

    assert missing["total_charges"] == 2
    assert missing["contract"] == 2
    assert "churned" not in missing.index
    assert result.data["total_charges"].isna().sum() == 2  # not imputed
    detail = result.report.set_index("step").loc["count missing features", "detail"]
    assert "6 missing cell(s) in 4 feature column(s)" in detail


def test_cleanse_records_fences_but_keeps_values() -> None:
    df, _ = standardize(raw_churn(), "churned")
    result = cleanse(df, "churned", outlier_factor=1.5)
    fences = result.fences.set_index("column")

    assert "churned" not in fences.index
    assert set(fences.index) == {"age", "monthly_charges", "total_charges", "support_calls"}
    assert fences.loc["monthly_charges", "above"] == 1
    assert fences.loc["monthly_charges", "upper"] < 5000
    assert result.data["monthly_charges"].max() == 5000  # reported, not clipped
    assert "monthly_charges" in result.report.set_index("step").loc["outlier fences", "detail"]


def test_cleanse_options() -> None:
    df, _ = standardize(raw_churn(), "churned")
    kept = cleanse(df, "churned", drop_duplicates=False, outlier_method="none")

    assert len(kept.data) == 11
    assert kept.fences.empty
    with pytest.raises(PreparationError, match=r"outlier_method 'zscore'.*iqr, none"):
        cleanse(df, "churned", outlier_method="zscore")
    with pytest.raises(PreparationError, match="outlier_factor must be > 0"):
        cleanse(df, "churned", outlier_factor=0)


def test_cleanse_errors() -> None:
    df = pd.DataFrame({"x": [1, 2], "y": [np.nan, np.nan]})
    with pytest.raises(PreparationError, match=r"No rows left.*'y'") as caught:
        cleanse(df, "y")
    assert isinstance(caught.value, MlopsNbError) and isinstance(caught.value, ValueError)
    assert caught.value.column == "y"
    twice = pd.DataFrame([[1, 2, 3]], columns=["a", "a", "y"])
    with pytest.raises(PreparationError, match=r"Duplicate column names \['a'\]"):
        cleanse(twice, "y")


# --- fences and clipper -----------------------------------------------------------------


def test_iqr_fences() -> None:
    values = np.arange(1.0, 10.0)  # Q1 = 3, Q3 = 7
    assert iqr_fences(values, 1.5) == (-3.0, 13.0)
    assert iqr_fences([*values, np.nan], 3.0) == (-9.0, 19.0)
    assert iqr_fences([0, 0, 0, 0, 1], 3.0) == (-np.inf, np.inf)  # no spread: never clip
    assert iqr_fences([np.nan], 3.0) == (-np.inf, np.inf)


def test_outlier_fences_table() -> None:
    df = pd.DataFrame({"a": [*range(1, 10), 100, -50]})
    table = outlier_fences(df, ["a"], factor=1.5)
    assert table.loc[0, ["below", "above"]].tolist() == [1, 1]


def test_clipper_learns_on_train_and_clips_new_rows() -> None:
    train = pd.DataFrame({"a": np.arange(1.0, 10.0), "b": np.arange(10.0, 100.0, 10.0)})
    test = pd.DataFrame({"a": [-100.0, 5.0, np.nan], "b": [50.0, 1e6, 20.0]})
    clipper = OutlierClipper(factor=1.5).fit(train)
    out = clipper.transform(test)

    np.testing.assert_allclose(clipper.lower_, [-3.0, -30.0])
    np.testing.assert_allclose(clipper.upper_, [13.0, 130.0])
    np.testing.assert_array_equal(out[:2], [[-3.0, 50.0], [5.0, 130.0]])
    assert np.isnan(out[2, 0]) and out[2, 1] == 20.0
    assert clipper.get_feature_names_out().tolist() == ["a", "b"]
    assert clipper.bounds()["column"].tolist() == ["a", "b"]


def test_clipper_pandas_output_arrays_and_quantiles() -> None:
    train = np.arange(101.0).reshape(-1, 1)
    clipper = OutlierClipper(method="quantile", quantiles=(0.1, 0.9)).fit(train)
    np.testing.assert_allclose(clipper.transform([[0.0], [50.0], [200.0]]).ravel(), [10, 50, 90])

    frame = pd.DataFrame({"x": train.ravel()})
    out = OutlierClipper().set_output(transform="pandas").fit(frame).transform(frame)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == ["x"]


def test_clipper_contract() -> None:
    with pytest.raises(NotFittedError):
        OutlierClipper().transform([[1.0]])
    with pytest.raises(PreparationError, match="unknown method 'zscore'"):
        OutlierClipper(method="zscore").fit([[1.0], [2.0]])
    with pytest.raises(PreparationError, match="quantiles must satisfy"):
        OutlierClipper(method="quantile", quantiles=(0.9, 0.1)).fit([[1.0], [2.0]])
    clipper = OutlierClipper(factor=2.0)
    assert clipper.get_params() == {"method": "iqr", "factor": 2.0, "quantiles": (0.01, 0.99)}
    assert not hasattr(clipper, "lower_")


def test_clipper_passes_sklearn_estimator_checks() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skipped array-API checks warn
        check_estimator(OutlierClipper())


# --- report tables ----------------------------------------------------------------------


def test_before_after_and_missing_table() -> None:
    raw = raw_churn()
    df, _ = standardize(raw, "churned")
    result = cleanse(df, "churned")
    table = before_after(raw, result.data).set_index("metric")

    assert list(table.columns) == ["before", "after", "change"]
    assert table.loc["rows"].tolist() == [12.0, 10.0, -2.0]
    assert table.loc["duplicate rows", "before"] == 1.0
    assert table.loc["duplicate rows", "after"] == 0.0
    assert table.loc["max age", "after"] == 61.0
    assert np.isnan(table.loc["max monthly_charges", "before"])  # was text before
    assert table.loc["max monthly_charges", "after"] == 5000.0

    missing = missing_table(raw)
    assert missing.iloc[0]["column"] == "total_charges"
    assert missing.set_index("column").loc["total_charges", "missing_pct"] == round(200 / 12, 2)
