"""The churn generator: determinism, its documented data-quality shares, drift, signal."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ks_2samp
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops_nb.data.sample import (
    CHURN_COLUMNS,
    CONTRACTS,
    PAYMENT_METHODS,
    SAMPLE_NAMES,
    generate_churn,
    generate_sample,
    sample_options,
)
from mlops_nb.errors import DataSourceError

ROWS = 20_000
NUMERIC = ["age", "tenure_months", "monthly_charges", "support_calls"]
CATEGORICAL = ["contract", "payment_method", "internet_service", "region"]


@pytest.fixture(scope="module")
def churn() -> pd.DataFrame:
    return generate_churn(ROWS, seed=7)


def invalid_mask(df: pd.DataFrame) -> pd.Series:
    """Rows that break the hand-written churn contract of the validate stage."""
    return (
        ~df["age"].between(18, 100)
        | (df["support_calls"] < 0)
        | ~df["contract"].isin(CONTRACTS)
        | ~df["monthly_charges"].between(0, 1000)
        | ~df["tenure_months"].between(0, 72)
        | (df["total_charges"] < 0)
        | ~(df["payment_method"].isna() | df["payment_method"].isin(PAYMENT_METHODS))
        | df["customer_id"].isna()
    )


def test_columns_and_dtypes(churn: pd.DataFrame) -> None:
    assert tuple(churn.columns) == CHURN_COLUMNS
    assert len(churn) == ROWS
    for name in ("age", "tenure_months", "support_calls", "churned"):
        assert pd.api.types.is_integer_dtype(churn[name]), name
    for name in ("monthly_charges", "total_charges"):
        assert pd.api.types.is_float_dtype(churn[name]), name
    for name in ("customer_id", *CATEGORICAL):
        assert pd.api.types.is_string_dtype(churn[name]), name


def test_same_arguments_give_identical_frames() -> None:
    pd.testing.assert_frame_equal(generate_churn(3000, 5, 0.5), generate_churn(3000, 5, 0.5))
    assert not generate_churn(3000, 5).equals(generate_churn(3000, 6))


def test_value_domains(churn: pd.DataFrame) -> None:
    valid = churn[~invalid_mask(churn)]
    assert valid["age"].between(18, 90).all()
    assert churn["tenure_months"].between(0, 72).all()
    assert valid["support_calls"].between(0, 15).all()
    assert set(churn["churned"]) == {0, 1}
    assert set(churn["internet_service"]) == {"dsl", "fiber", "none"}
    assert set(churn["region"]) == {"north", "south", "east", "west"}
    assert set(churn["payment_method"].dropna()) == set(PAYMENT_METHODS)
    typical = churn["monthly_charges"][churn["monthly_charges"] < 300]
    assert typical.quantile(0.01) >= 18 and typical.quantile(0.99) <= 125
    assert churn["customer_id"].str.fullmatch(r"C\d{7}").all()


def test_total_charges_follow_tenure_times_monthly(churn: pd.DataFrame) -> None:
    rows = churn[(churn["monthly_charges"] < 300) & churn["total_charges"].notna()]
    ratio = rows["total_charges"] / (rows["tenure_months"] * rows["monthly_charges"])
    assert ratio.dropna().between(0.85, 1.15).mean() > 0.99


def test_documented_quality_shares(churn: pd.DataFrame) -> None:
    assert churn["total_charges"].isna().mean() == pytest.approx(0.03, abs=0.003)
    assert churn["payment_method"].isna().mean() == pytest.approx(0.02, abs=0.003)
    assert churn.duplicated().mean() == pytest.approx(0.01, abs=0.002)
    assert churn["customer_id"].nunique() == ROWS - round(ROWS * 0.01)
    outliers = churn["monthly_charges"].between(300, 900)
    assert outliers.mean() == pytest.approx(0.01, abs=0.002)


def test_invalid_rows_are_few_and_of_every_kind(churn: pd.DataFrame) -> None:
    invalid = invalid_mask(churn)
    assert 0.003 <= invalid.mean() <= 0.01
    assert (churn["age"] < 0).any()
    assert (churn["age"] > 120).any()
    assert (churn["contract"] == "monthly").any()
    assert (churn["support_calls"] < 0).any()


def test_churn_rate_and_learnable_signal(churn: pd.DataFrame) -> None:
    clean = churn[~invalid_mask(churn)].drop_duplicates().dropna()
    assert 0.2 <= clean["churned"].mean() <= 0.3
    x_train, x_test, y_train, y_test = train_test_split(
        clean[NUMERIC + CATEGORICAL], clean["churned"], test_size=0.3, random_state=0
    )
    model = make_pipeline(
        make_column_transformer(
            (StandardScaler(), NUMERIC), (OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)
        ),
        LogisticRegression(max_iter=1000),
    )
    model.fit(x_train, y_train)
    auc = roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])
    assert 0.7 <= auc <= 0.9


def test_drift_zero_is_one_distribution_across_seeds() -> None:
    first, second = generate_churn(ROWS, seed=1), generate_churn(ROWS, seed=2)
    for name in ("monthly_charges", "tenure_months", "age"):
        assert ks_2samp(first[name], second[name]).pvalue > 0.01, name
    for name in ("contract", "payment_method", "churned"):
        shares = [df[name].value_counts(normalize=True) for df in (first, second)]
        assert (shares[0] - shares[1]).abs().max() < 0.02, name


@pytest.mark.parametrize("drift", [0.5, 1.0, 2.0])
def test_drift_moves_monthly_charges_by_about_drift_stds(drift: float) -> None:
    reference, drifted = generate_churn(ROWS, seed=1), generate_churn(ROWS, seed=2, drift=drift)

    def typical(df: pd.DataFrame) -> pd.Series:
        return df["monthly_charges"][df["monthly_charges"] < 300]

    shift = (typical(drifted).mean() - typical(reference).mean()) / typical(reference).std()
    assert shift == pytest.approx(drift, abs=0.15)
    assert drifted["tenure_months"].mean() < reference["tenure_months"].mean() - 2
    m2m = "month-to-month"
    assert (drifted["contract"] == m2m).mean() > (reference["contract"] == m2m).mean() + 0.05


def test_drift_is_monotone() -> None:
    means = [generate_churn(ROWS, seed=3, drift=d)["tenure_months"].mean() for d in (0, 1, 2, 4)]
    assert means == sorted(means, reverse=True)


def test_new_payment_method_appears_from_drift_one() -> None:
    assert not (generate_churn(ROWS, drift=0.9)["payment_method"] == "crypto-wallet").any()
    share = (generate_churn(ROWS, drift=1.0)["payment_method"] == "crypto-wallet").mean()
    assert 0.01 < share < 0.1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rows": 0}, "rows=0 is invalid"),
        ({"rows": 10_000_001}, "between 1 and 10,000,000"),
        ({"rows": 10.0}, "rows=10.0 is invalid"),
        ({"rows": True}, "rows=True is invalid"),
        ({"seed": -1}, "seed=-1 is invalid"),
        ({"seed": "1"}, "seed='1' is invalid"),
        ({"drift": -0.1}, "drift=-0.1 is invalid"),
        ({"drift": float("nan")}, "drift=nan is invalid"),
        ({"drift": 11}, "between 0 and 10"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(DataSourceError, match=message):
        generate_churn(**kwargs)  # type: ignore[arg-type]


def test_single_row_and_numpy_ints() -> None:
    assert generate_churn(1).shape == (1, len(CHURN_COLUMNS))
    assert len(generate_churn(np.int64(50), seed=np.int32(2))) == 50


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 400), seed=st.integers(0, 2**32))
def test_any_size_and_seed_gives_exactly_rows(rows: int, seed: int) -> None:
    df = generate_churn(rows, seed=seed)
    assert len(df) == rows
    assert df["customer_id"].nunique() == rows - round(rows * 0.01)
    assert df["churned"].isin([0, 1]).all()


def test_registry_of_samples() -> None:
    assert "churn" in SAMPLE_NAMES
    assert sample_options("churn", {"rows": " 10 ", "drift": "1.5"}) == {"rows": 10, "drift": 1.5}
    pd.testing.assert_frame_equal(
        generate_sample("churn", {"rows": "40", "seed": "3"}), generate_churn(40, seed=3)
    )


def test_a_million_rows_is_fast() -> None:
    generate_churn(1000)
    started = time.perf_counter()
    df = generate_churn(1_000_000)
    elapsed = time.perf_counter() - started
    assert len(df) == 1_000_000
    assert elapsed < 3.0, f"generate_churn(1_000_000) took {elapsed:.2f} s"
