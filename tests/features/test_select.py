"""Tests of select_features(), FeatureSelector and the selection step of the pipeline."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

from mlops_nb.errors import PreparationError
from mlops_nb.features import (
    FeatureSelector,
    FeatureTypes,
    build_feature_pipeline,
    feature_table,
    select_features,
)


def signal_and_noise(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """``signal`` decides the class, ``flag`` helps a little, ``noise*`` are pure noise."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    X = pd.DataFrame(
        {
            "noise_a": rng.normal(size=n),
            "signal": signal,
            "noise_b": rng.uniform(size=n),
            "flag": ((signal + rng.normal(scale=2.0, size=n)) > 0).astype(float),
            "constant": np.ones(n),
        }
    )
    return X, pd.Series(np.where(signal > 0, "yes", "no"), name="label")


def test_mutual_info_keeps_the_informative_feature() -> None:
    X, y = signal_and_noise()
    result = select_features(X, y, "binary", method="mutual_info", k=2)

    assert result.selected == ["signal", "flag"]  # input order, best two
    assert list(result.scores.columns) == ["feature", "score", "selected"]
    assert result.scores.iloc[0]["feature"] == "signal"  # best first
    scores = result.scores.set_index("feature")["score"]
    assert scores["signal"] > 0.3 > scores["noise_a"]
    assert scores["constant"] == 0.0


def test_mutual_info_for_regression_and_arrays() -> None:
    X, _ = signal_and_noise()
    y = 3 * X["signal"] ** 2 + np.random.default_rng(1).normal(scale=0.1, size=len(X))
    result = select_features(X.to_numpy(), y, "regression", k=1)
    assert result.selected == ["x1"]


def test_min_importance_and_variance() -> None:
    X, y = signal_and_noise()
    informative = select_features(X, y, "binary", min_importance=0.02)
    assert informative.selected == ["signal", "flag"]

    varied = select_features(X, y, None, method="variance", min_importance=0.01)
    assert "constant" not in varied.selected and "noise_a" in varied.selected
    everything = select_features(X, y, None, method="none")
    assert everything.selected == list(X.columns)
    assert everything.scores["score"].isna().all()


def test_selection_errors() -> None:
    X, y = signal_and_noise(50)
    with pytest.raises(PreparationError, match="Unknown selection method 'chi2'"):
        select_features(X, y, "binary", method="chi2")
    with pytest.raises(PreparationError, match="'mutual_info' needs the task"):
        select_features(X, y, None)
    with pytest.raises(PreparationError, match="k must be a positive integer"):
        select_features(X, y, "binary", k=0)
    with pytest.raises(PreparationError, match="k needs a scoring method"):
        select_features(X, y, "binary", method="none", k=2)
    with pytest.raises(PreparationError, match="No feature scores at least min_importance=5"):
        select_features(X, y, "binary", min_importance=5)
    gaps = X.assign(signal=X["signal"].where(X.index > 0))
    with pytest.raises(PreparationError, match=r"missing or infinite values.*\[1\].*impute"):
        select_features(gaps, y, "binary")
    with pytest.raises(PreparationError, match="needs numeric features"):
        select_features(X.assign(word="a"), y, "binary")
    with pytest.raises(PreparationError, match="pass one target value per row"):
        select_features(X, y[:10], "binary")
    with pytest.raises(PreparationError, match=r"y is missing in 1 row.*cleanse"):
        select_features(X, y.where(y.index > 0), "binary")


def test_selector_by_name_in_a_pipeline() -> None:
    X, _ = signal_and_noise(30)
    selector = FeatureSelector(features=["flag", "signal"])
    with pytest.raises(NotFittedError):
        selector.transform(X)
    pipe = Pipeline([("scale", StandardScaler()), ("select", selector)])
    out = pipe.set_output(transform="pandas").fit_transform(X)

    assert list(out.columns) == ["signal", "flag"]  # input order
    assert selector.selected_features_ == ["signal", "flag"]
    assert selector.get_feature_names_out().tolist() == ["signal", "flag"]
    np.testing.assert_array_equal(
        FeatureSelector(features=["x2"]).fit(X.to_numpy()).transform(X.to_numpy()),
        X[["noise_b"]].to_numpy(),
    )
    with pytest.raises(PreparationError, match=r"\['sigma'\] are not among.*signal"):
        FeatureSelector(features=["sigma"]).fit(X)
    with pytest.raises(PreparationError, match="both features= and method='variance'"):
        FeatureSelector(features=["flag"], method="variance").fit(X)


def test_selector_scores_in_fit() -> None:
    X, y = signal_and_noise()
    selector = FeatureSelector(method="mutual_info", task="binary", k=1).fit(X, y)

    assert selector.selected_features_ == ["signal"]
    assert selector.support_.tolist() == [False, True, False, False, False]
    assert selector.scores_frame().iloc[0].tolist()[:2] == ["signal", selector.scores_[1]]


def test_selector_passes_sklearn_estimator_checks() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skipped array-API checks warn
        check_estimator(FeatureSelector())


def test_feature_pipeline_selects_k_features() -> None:
    X, y = signal_and_noise()
    X = X.assign(colour=np.where(y == "yes", "red", "blue"))
    types = FeatureTypes(numeric=["noise_a", "signal", "noise_b"], categorical=["colour"])
    pipe = build_feature_pipeline(types, "binary", selection="mutual_info", k=3)
    assert [name for name, _ in pipe.steps] == ["transform", "select"]
    out = pipe.fit_transform(X, y)

    assert out.shape == (len(X), 3)
    assert "numeric__signal" in out.columns
    assert not any("noise" in c for c in out.columns)
    table = feature_table(pipe)
    assert table["selected"].sum() == 3
    assert set(table.loc[table["selected"], "source"]) == {"signal", "colour"}
    with pytest.raises(PreparationError, match="Unknown task"):
        build_feature_pipeline(types, "ranking")
    with pytest.raises(PreparationError, match="Unknown selection method 'lasso'"):
        build_feature_pipeline(types, "binary", selection="lasso")


def test_mutual_info_beyond_score_rows_is_estimated_on_a_seeded_subsample(monkeypatch) -> None:
    from sklearn.feature_selection import mutual_info_classif

    from mlops_nb.features import select

    X, y = signal_and_noise(n=1_000)
    matrix = X.to_numpy(float)
    whole = select.score_features(matrix, y, task="binary", method="mutual_info", seed=0)
    monkeypatch.setattr(select, "SCORE_ROWS", 300)
    sub = select.score_features(matrix, y, task="binary", method="mutual_info", seed=0)

    rows = np.sort(np.random.default_rng(0).choice(1_000, 300, replace=False))
    discrete = np.all((matrix == 0) | (matrix == 1), axis=0)
    expected = mutual_info_classif(
        matrix[rows], np.asarray(y)[rows], discrete_features=discrete, random_state=0
    )
    np.testing.assert_allclose(sub, expected)
    assert not np.allclose(sub, whole), "the estimate must come from the 300 rows"
    # the ranking a selection is made from holds on the subsample
    assert np.argmax(sub) == np.argmax(whole) == list(X.columns).index("signal")
    again = select.score_features(matrix, y, task="binary", method="mutual_info", seed=0)
    np.testing.assert_array_equal(sub, again)
