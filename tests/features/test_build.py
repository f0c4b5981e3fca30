"""Tests of feature-type inference, the feature transformer/pipeline and feature_table()."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline

from mlops_nb.artifacts import trusted_types
from mlops_nb.errors import PreparationError
from mlops_nb.features import (
    FeatureTypes,
    MissingFlags,
    TextCategories,
    build_feature_pipeline,
    build_feature_transformer,
    feature_table,
    infer_feature_types,
)
from mlops_nb.features import steps as steps_module
from mlops_nb.prep import split

TARGET = "churned"


def churn(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Synthetic customers whose churn depends on contract, tenure and support calls."""
    rng = np.random.default_rng(seed)
    contract = rng.choice(["month", "one_year", "two_year"], n, p=[0.5, 0.3, 0.2])
    tenure = rng.integers(0, 72, n)
    calls = rng.poisson(1.5, n)
    logit = 4.0 * (contract == "month") - 0.1 * tenure + 1.2 * calls - 2.0
    df = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "age": rng.integers(18, 90, n),
            "tenure_months": tenure,
            "monthly_charges": rng.normal(70, 15, n).round(2),
            "total_charges": rng.normal(2000, 600, n).round(2),
            "contract": pd.Series(contract, dtype="str"),
            "payment_method": rng.choice(["card", "bank", "check"], n),
            "internet_service": rng.choice(["dsl", "fiber", None], n),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "paperless": rng.choice([True, False], n),
            "support_calls": calls,
            TARGET: (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )
    df.loc[df.index[::7], "total_charges"] = np.nan
    df.loc[df.index[::11], "contract"] = np.nan
    df.loc[df.index[3], "monthly_charges"] = 25_000.0  # one wild outlier
    return df


@pytest.fixture(scope="module")
def parts() -> tuple[pd.DataFrame, pd.DataFrame]:
    result = split(churn(), TARGET, "binary", seed=1)
    return result.train, result.test


# --- infer_feature_types ------------------------------------------------------------------


def test_infer_feature_types_on_churn() -> None:
    types = infer_feature_types(churn(), TARGET)

    assert types.numeric == [
        "age",
        "tenure_months",
        "monthly_charges",
        "total_charges",
        "support_calls",
    ]
    assert types.categorical == [
        "contract",
        "payment_method",
        "internet_service",
        "region",
        "paperless",
    ]
    assert types.dropped == {"customer_id": "identifier"}
    assert TARGET not in types.features
    frame = types.to_frame().set_index("column")
    assert frame.loc["customer_id", "reason"] == "identifier"


def test_infer_drops_constant_empty_datetime_and_ids() -> None:
    n = 30
    df = pd.DataFrame(
        {
            "id": np.arange(100, 100 + n),  # numeric, but an id by name
            "email": [f"user{i}@example.com" for i in range(n)],  # unique text
            "country": ["NL"] * n,
            "notes": [np.nan] * n,
            "signup": pd.date_range("2024-01-01", periods=n),
            "score": np.linspace(0, 1, n),
            "y": [0, 1] * 15,
        }
    )
    types = infer_feature_types(df, "y")

    assert types.dropped == {
        "id": "identifier",
        "email": "identifier",
        "country": "constant",
        "notes": "empty",
        "signup": "datetime",
    }
    assert types.numeric == ["score"] and types.categorical == []


def test_small_samples_keep_unique_text_unless_named_like_an_id() -> None:
    df = pd.DataFrame({"city": list("abcdefgh"), "customerId": list("ABCDEFGH"), "y": [0, 1] * 4})
    types = infer_feature_types(df, "y")
    assert types.categorical == ["city"]
    assert types.dropped == {"customerId": "identifier"}


def test_explicit_lists_override_inference() -> None:
    types = infer_feature_types(
        churn(100), TARGET, categorical=["support_calls"], drop=["region"], numeric=["paperless"]
    )
    assert "support_calls" in types.categorical and "support_calls" not in types.numeric
    assert types.dropped["region"] == "requested"
    assert "paperless" in types.numeric  # bools may be used as 0/1 numbers

    ids = infer_feature_types(churn(100), TARGET, categorical=["customer_id"])
    assert "customer_id" in ids.categorical


def test_explicit_list_errors() -> None:
    df = churn(50)
    with pytest.raises(PreparationError, match=r"numeric= names \['tenure'\].*tenure_months"):
        infer_feature_types(df, TARGET, numeric=["tenure"])
    with pytest.raises(PreparationError, match="lists the target 'churned'"):
        infer_feature_types(df, TARGET, categorical=[TARGET])
    with pytest.raises(PreparationError, match="'age' is listed in both numeric= and drop="):
        infer_feature_types(df, TARGET, numeric=["age"], drop=["age"])
    with pytest.raises(PreparationError, match="'region' is listed as numeric but has dtype str"):
        infer_feature_types(df, TARGET, numeric=["region"])


# --- the transformer ----------------------------------------------------------------------


def test_transformer_fits_on_train_and_handles_test(parts: tuple) -> None:
    train, test = parts
    types = infer_feature_types(train, TARGET)
    transformer = build_feature_transformer(types, max_categories=3)
    assert isinstance(transformer, ColumnTransformer)

    with pytest.raises(NotFittedError):
        transformer.transform(test)
    transformer.fit(train.drop(columns=TARGET))
    unseen = test.drop(columns=TARGET).copy()
    unseen = unseen.astype({"contract": object, "paperless": object})  # room for odd values
    unseen.iloc[0, unseen.columns.get_loc("contract")] = "lifetime"  # never seen in training
    unseen.iloc[0, unseen.columns.get_loc("region")] = "mars"
    unseen.iloc[1, unseen.columns.get_loc("paperless")] = None
    out = transformer.transform(unseen)

    assert isinstance(out, pd.DataFrame) and out.index.equals(unseen.index)
    assert not out.isna().any().any()  # every gap imputed
    assert "numeric__customer_id" not in out.columns and not any("customer_id" in c for c in out)
    contract = [c for c in out.columns if c.startswith("categorical__contract_")]
    assert len(contract) <= 3
    assert out.loc[unseen.index[0], contract].sum() <= 1.0  # infrequent bucket or all zeros
    assert set(np.unique(out["missing__total_charges"])) <= {0.0, 1.0}


def test_missing_flags_and_clipping_use_training_values(parts: tuple) -> None:
    train, _ = parts
    X = train.drop(columns=TARGET)
    transformer = build_feature_transformer(infer_feature_types(train, TARGET), scale=False)
    out = transformer.fit_transform(X)

    flagged = out["missing__total_charges"] == 1.0
    assert flagged.equals(X["total_charges"].isna())
    assert "missing__age" not in out.columns  # no gaps in training -> no flag
    median = X["total_charges"].median()
    assert (out.loc[flagged, "numeric__total_charges"] == median).all()
    clip = transformer.named_transformers_["numeric"].named_steps["clip"]
    upper = clip.upper_[list(clip.feature_names_in_).index("monthly_charges")]
    assert out["numeric__monthly_charges"].max() <= upper < 200
    wild = X.iloc[[0]].assign(monthly_charges=1e6)
    assert transformer.transform(wild)["numeric__monthly_charges"].iloc[0] == pytest.approx(upper)


def test_transformer_accepts_nullable_and_category_columns() -> None:
    df = pd.DataFrame(
        {
            "level": pd.Categorical(["low", "high", None, "low"]),
            "member": pd.array([True, None, False, True], dtype="boolean"),
            "spend": pd.array([1.5, None, 2.0, 3.0], dtype="Float64"),
            "visits": pd.array([1, 2, None, 4], dtype="Int64"),
        }
    )
    types = FeatureTypes(numeric=["spend", "visits"], categorical=["level", "member"])
    out = build_feature_transformer(types).fit_transform(df)

    assert out.dtypes.eq("float64").all() and not out.isna().any().any()
    assert out["missing__visits"].tolist() == [0.0, 0.0, 1.0, 0.0]
    assert out["categorical__member_missing"].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert out["categorical__level_missing"].tolist() == [0.0, 0.0, 1.0, 0.0]


def test_transformer_errors() -> None:
    empty = FeatureTypes(numeric=[], categorical=[], dropped={"customer_id": "identifier"})
    with pytest.raises(PreparationError, match=r"No feature columns.*customer_id \(identifier\)"):
        build_feature_transformer(empty)
    types = FeatureTypes(numeric=["age"], categorical=[])
    with pytest.raises(PreparationError, match="Unknown outliers option 'zscore'"):
        build_feature_transformer(types, outliers="zscore")


def test_feature_table(parts: tuple) -> None:
    train, _ = parts
    types = infer_feature_types(train, TARGET)
    transformer = build_feature_transformer(types).fit(train.drop(columns=TARGET))
    table = feature_table(transformer).set_index("feature")

    assert list(table.columns) == ["source", "kind"]
    assert table.loc["numeric__age"].tolist() == ["age", "numeric"]
    assert table.loc["missing__total_charges"].tolist() == ["total_charges", "missing flag"]
    assert table.loc["categorical__region_north"].tolist() == ["region", "one-hot"]
    assert table.loc["categorical__paperless_True", "source"] == "paperless"
    assert len(table) == transformer.transform(train.drop(columns=TARGET)).shape[1]
    with pytest.raises(NotFittedError):
        feature_table(build_feature_transformer(types))
    with pytest.raises(PreparationError, match="needs a ColumnTransformer"):
        feature_table(LogisticRegression())


def test_feature_table_marks_infrequent_columns(parts: tuple) -> None:
    train, _ = parts
    types = FeatureTypes(numeric=[], categorical=["region", "contract"])
    transformer = build_feature_transformer(types, max_categories=2)
    table = feature_table(transformer.fit(train))

    assert (table["kind"] == "one-hot (infrequent)").sum() == 2
    assert table.groupby("source").size().to_dict() == {"contract": 2, "region": 2}


def test_skops_round_trip(parts: tuple) -> None:
    train, test = parts
    pipeline = build_feature_pipeline(
        infer_feature_types(train, TARGET), "binary", selection="mutual_info", k=8
    )
    pipeline.fit(train.drop(columns=TARGET), train[TARGET])
    data = sio.dumps(pipeline)

    untrusted = set(sio.get_untrusted_types(data=data))
    assert "mlops_nb.prep.outliers.OutlierClipper" in untrusted
    assert untrusted <= set(trusted_types(data))
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.loads(data)
    loaded = sio.loads(data, trusted=trusted_types(data))
    X_test = test.drop(columns=TARGET)
    pd.testing.assert_frame_equal(loaded.transform(X_test), pipeline.transform(X_test))


def test_pipeline_with_logistic_regression_scores_well(parts: tuple) -> None:
    train, test = parts
    features = build_feature_pipeline(infer_feature_types(train, TARGET), "binary")
    model = Pipeline([*features.steps, ("model", LogisticRegression(max_iter=1000))])
    model.fit(train.drop(columns=TARGET), train[TARGET])
    scores = model.predict_proba(test.drop(columns=TARGET))[:, 1]

    assert roc_auc_score(test[TARGET], scores) > 0.85
    assert model.score(test.drop(columns=TARGET), test[TARGET]) > 0.8  # majority class: ~0.7


# --- the small steps -----------------------------------------------------------------------


def test_text_categories() -> None:
    X = pd.DataFrame(
        {
            "flag": pd.array([True, None, False], dtype="boolean"),
            "code": [1.0, 2.0, np.nan],
            "word": pd.Series(["a", None, "c"], dtype="str"),
        }
    )
    out = TextCategories().set_output(transform="pandas").fit(X).transform(X)
    assert out["flag"].tolist()[::2] == ["True", "False"]
    assert out["code"].tolist()[:2] == ["1", "2"]
    assert out.loc[1, ["flag", "word"]].isna().all() and pd.isna(out.loc[2, "code"])
    with pytest.raises(NotFittedError):
        TextCategories().transform(X)


def test_missing_flags_on_arrays() -> None:
    X = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, np.nan]])
    flags = MissingFlags().fit(X)

    assert flags.features_.tolist() == [1, 2]
    assert flags.get_feature_names_out().tolist() == ["x1", "x2"]
    np.testing.assert_array_equal(flags.transform([[np.nan, np.nan, 1.0]]), [[1.0, 0.0]])


def test_text_categories_convert_each_distinct_value_as_each_value_would_be() -> None:
    rng = np.random.default_rng(7)
    n = 3_000
    X = pd.DataFrame(
        {
            "word": pd.Series(rng.choice(["a", "b", "c", None], n), dtype="str"),
            "number": rng.choice([1.0, 2.5, -0.0, np.nan, 1e20], n),
            "count": rng.integers(0, 5, n),
            "flag": pd.array(rng.choice([True, False, None], n), dtype="boolean"),
            "nullable": pd.array(rng.choice([1, 2, None], n), dtype="Int64"),
            # True and 1 are equal to Python but read differently: converted value by value
            "mixed": pd.Series(rng.choice(np.array([True, 1, 1.0, "1", None], dtype=object), n)),
            "words": pd.Series(rng.choice(np.array(["x", None, np.nan], dtype=object), n)),
            "category": pd.Series(rng.choice(["p", "q"], n), dtype="category"),
        }
    )
    expected = steps_module.to_text(X.astype(object).to_numpy())

    out = TextCategories().fit(X).transform(X)

    assert out.dtype == object and out.shape == X.shape
    missing = pd.isna(expected.astype(object))
    assert (pd.isna(out) == missing).all()
    assert (out[~missing] == expected[~missing]).all()
    mixed = out[:, list(X.columns).index("mixed")]
    assert {"True", "1"} <= set(mixed[~pd.isna(mixed)])
    # arrays are converted the same way as frames
    assert (pd.isna(TextCategories().fit(X.to_numpy()).transform(X.to_numpy())) == missing).all()
