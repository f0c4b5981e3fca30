"""Predictions made once, in chunks, and reused by metrics, slices and comparisons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mlops_nb.errors import ModelingError
from mlops_nb.modeling import (
    check_predictions,
    compare_models,
    metric_values,
    predict,
    slice_metrics,
)
from mlops_nb.modeling import predictions as predictions_module
from tests.modeling.conftest import TARGET, binary_frame


class CountingScaler(TransformerMixin, BaseEstimator):
    """StandardScaler on the numeric columns that counts the rows it transforms."""

    def fit(self, X: pd.DataFrame, y: object = None) -> CountingScaler:
        self.columns_ = [c for c in X.columns if c.startswith("x")]
        self.scaler_ = StandardScaler().fit(X[self.columns_])
        self.calls_: list[int] = []
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        self.calls_.append(len(X))
        return self.scaler_.transform(X[self.columns_])


class Refuses:
    """A model that must not be asked to predict."""

    classes_ = np.array(["no", "yes"])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        raise AssertionError("predicted again")


@pytest.fixture(scope="module")
def fitted() -> tuple[Pipeline, pd.DataFrame, pd.Series]:
    data = binary_frame(900, seed=5)
    X, y = data.drop(columns=TARGET), data[TARGET]
    model = Pipeline([("scale", CountingScaler()), ("clf", LogisticRegression())]).fit(X, y)
    return model, X, y


def test_a_pipeline_transforms_each_chunk_once_for_labels_and_probabilities(
    fitted, monkeypatch
) -> None:
    model, X, y = fitted
    monkeypatch.setattr(predictions_module, "CHUNK_ROWS", 400)
    model.steps[0][1].calls_.clear()

    p = predict(model, X, y, "binary")

    assert model.steps[0][1].calls_ == [400, 400, 100]
    np.testing.assert_array_equal(p.y_pred, model.predict(X))
    np.testing.assert_allclose(p.proba, model.predict_proba(X))
    np.testing.assert_array_equal(p.classes, model.classes_)
    assert p.y_true.tolist() == y.tolist()


def test_given_predictions_are_reused_not_recomputed(fitted) -> None:
    model, X, y = fitted
    p = predict(model, X, y, "binary")

    table = compare_models({"challenger": Refuses()}, X, y, "binary", predictions={"challenger": p})
    assert table.loc[0, "roc_auc"] == pytest.approx(metric_values(p)["roc_auc"])
    reused = slice_metrics(Refuses(), X, y, "binary", "segment", predictions=p)
    pd.testing.assert_frame_equal(reused, slice_metrics(model, X, y, "binary", "segment"))


def test_predictions_of_other_rows_are_refused(fitted) -> None:
    model, X, y = fitted
    p = predict(model, X, y, "binary")
    with pytest.raises(ModelingError, match="900 row\\(s\\) for 899 labelled"):
        slice_metrics(model, X.iloc[1:], y.iloc[1:], "binary", "segment", predictions=p)
    with pytest.raises(ModelingError, match="other labels"):
        check_predictions(p, y[::-1], "binary", where="here")
    with pytest.raises(ModelingError, match="task 'binary', not 'multiclass'"):
        check_predictions(p, y, "multiclass", where="here")
    with pytest.raises(ModelingError, match=r"mlops_nb\.predict"):
        check_predictions(p.y_pred, y, "binary", where="here")
    with pytest.raises(ModelingError, match="'champion', which models does not list"):
        compare_models({"challenger": model}, X, y, "binary", predictions={"champion": p})
