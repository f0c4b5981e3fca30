"""Tests of the holdout metrics, the primary metric and champion/challenger tables."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

from mlops_nb.errors import ModelingError
from mlops_nb.modeling import (
    Metric,
    compare_models,
    evaluate,
    metric_names,
    primary_metric,
    score_difference,
)


class Fixed:
    """A 'fitted model' returning preset predictions for rows indexed by column ``i``."""

    def __init__(self, pred: Any, classes: Any = None) -> None:
        self.pred = np.asarray(pred)
        if classes is not None:
            self.classes_ = np.asarray(classes)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.pred[X["i"].to_numpy()]


class FixedProba(Fixed):
    def __init__(self, proba: Any, classes: Any) -> None:
        self.proba = np.asarray(proba, dtype=float)
        super().__init__(np.asarray(classes)[self.proba.argmax(axis=1)], classes)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.proba[X["i"].to_numpy()]


def rows(n: int) -> pd.DataFrame:
    return pd.DataFrame({"i": np.arange(n)})


Y_BIN = np.array(["no", "yes", "yes", "no", "yes", "no", "no", "yes"])
P_YES = np.array([0.1, 0.8, 0.4, 0.35, 0.9, 0.6, 0.2, 0.7])
Y_MC = np.array([0, 1, 2, 2, 1, 0, 2, 1, 0])
P_MC = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.2, 0.5, 0.3],
        [0.1, 0.3, 0.6],
        [0.3, 0.4, 0.3],
        [0.1, 0.8, 0.1],
        [0.4, 0.4, 0.2],
        [0.2, 0.2, 0.6],
        [0.5, 0.3, 0.2],
        [0.6, 0.1, 0.3],
    ]
)


def binary_model() -> FixedProba:
    return FixedProba(np.c_[1 - P_YES, P_YES], ["no", "yes"])


def test_primary_metrics() -> None:
    assert primary_metric("binary") == Metric("roc_auc", True, "roc_auc")
    assert primary_metric("multiclass") == Metric("f1", True, "f1_macro")
    regression = primary_metric("regression")
    assert (regression.name, regression.higher_is_better, regression.sign) == ("rmse", False, -1)
    assert regression.scorer == "neg_root_mean_squared_error"
    with pytest.raises(ModelingError, match="Unknown task 'ranking'"):
        primary_metric("ranking")


def test_binary_metrics_match_sklearn() -> None:
    pred = np.where(P_YES >= 0.5, "yes", "no")
    values = evaluate(binary_model(), rows(8), Y_BIN, "binary")

    assert list(values) == ["n", *metric_names("binary")]
    assert values["n"] == 8
    assert values["accuracy"] == pytest.approx(accuracy_score(Y_BIN, pred))
    assert values["f1"] == pytest.approx(f1_score(Y_BIN, pred, pos_label="yes"))
    assert values["roc_auc"] == pytest.approx(roc_auc_score(Y_BIN == "yes", P_YES))
    assert values["log_loss"] == pytest.approx(log_loss(Y_BIN, np.c_[1 - P_YES, P_YES]))


def test_multiclass_metrics_match_sklearn() -> None:
    model = FixedProba(P_MC, [0, 1, 2])
    values = evaluate(model, rows(9), pd.Series(Y_MC), "multiclass")

    pred = P_MC.argmax(axis=1)
    assert values["accuracy"] == pytest.approx(accuracy_score(Y_MC, pred))
    assert values["f1"] == pytest.approx(f1_score(Y_MC, pred, average="macro"))
    assert values["roc_auc"] == pytest.approx(roc_auc_score(Y_MC, P_MC, multi_class="ovr"))
    assert values["log_loss"] == pytest.approx(log_loss(Y_MC, P_MC))


def test_regression_metrics_match_sklearn() -> None:
    y = np.array([3.0, -0.5, 2.0, 7.0, 4.2])
    pred = np.array([2.5, 0.0, 2.0, 8.0, 3.9])
    values = evaluate(Fixed(pred), rows(5), y, "regression")

    assert list(values) == ["n", "rmse", "mae", "r2"]
    assert values["rmse"] == pytest.approx(root_mean_squared_error(y, pred))
    assert values["mae"] == pytest.approx(mean_absolute_error(y, pred))
    assert values["r2"] == pytest.approx(r2_score(y, pred))


def test_undefined_metrics_are_nan_without_warnings() -> None:
    only_no = pd.DataFrame({"i": [0, 3, 6]})  # true "no", predicted "no"
    values = evaluate(binary_model(), only_no, ["no", "no", "no"], "binary")

    assert math.isnan(values["roc_auc"])
    assert math.isnan(values["f1"])  # "yes" neither true nor predicted
    assert values["accuracy"] == 1.0
    proba = np.c_[1 - P_YES, P_YES][[0, 3, 6]]
    assert values["log_loss"] == pytest.approx(log_loss(["no"] * 3, proba, labels=["no", "yes"]))
    missing_class = evaluate(FixedProba(P_MC, [0, 1, 2]), rows(2), [0, 1], "multiclass")
    assert math.isnan(missing_class["roc_auc"])
    constant = evaluate(Fixed([1.0, 2.0]), rows(2), [1.0, 1.0], "regression")
    assert math.isnan(constant["r2"]) and constant["rmse"] == pytest.approx(math.sqrt(0.5))


def test_model_without_probabilities() -> None:
    values = evaluate(Fixed(Y_BIN, ["no", "yes"]), rows(8), Y_BIN, "binary")

    assert values["accuracy"] == 1.0 and values["f1"] == 1.0
    assert math.isnan(values["roc_auc"]) and math.isnan(values["log_loss"])


def test_no_rows() -> None:
    values = evaluate(binary_model(), rows(0), np.array([], dtype=object), "binary")

    assert values["n"] == 0
    assert all(math.isnan(values[name]) for name in metric_names("binary"))


def test_evaluate_checks_its_input() -> None:
    with pytest.raises(ModelingError, match="y has shape"):
        evaluate(binary_model(), rows(8), Y_BIN[:5], "binary")
    with pytest.raises(ModelingError, match="missing in 1 row"):
        evaluate(binary_model(), rows(2), ["no", None], "binary")
    with pytest.raises(ModelingError, match="DataFrame"):
        evaluate(binary_model(), np.zeros((8, 1)), Y_BIN, "binary")


# --- compare_models / score_difference ---------------------------------------------------


def test_compare_models_scores_each_model_on_the_same_rows() -> None:
    worse = FixedProba(np.c_[P_YES, 1 - P_YES], ["no", "yes"])
    table = compare_models(
        {"challenger": binary_model(), "champion": worse, "nothing": None}, rows(8), Y_BIN, "binary"
    )

    assert list(table.columns) == ["model", "n", *metric_names("binary"), "note"]
    assert list(table["model"]) == ["challenger", "champion", "nothing"]
    by_model = table.set_index("model")
    assert by_model.loc["challenger", "roc_auc"] == pytest.approx(
        evaluate(binary_model(), rows(8), Y_BIN, "binary")["roc_auc"]
    )
    assert score_difference(by_model.loc["challenger"], by_model.loc["champion"], "roc_auc") > 0
    assert by_model.loc["nothing", "note"] == "no model"
    assert math.isnan(score_difference(by_model.loc["challenger"], by_model.loc["nothing"], "f1"))


def test_compare_models_names_a_model_that_cannot_predict() -> None:
    class Broken:
        def predict(self, X: pd.DataFrame) -> np.ndarray:
            raise KeyError("column 'tenure' not found")

    with pytest.raises(ModelingError, match="champion cannot predict") as caught:
        compare_models({"champion": Broken()}, rows(8), Y_BIN, "binary")
    assert caught.value.model == "champion"
    with pytest.raises(ModelingError, match="no models"):
        compare_models({}, rows(8), Y_BIN, "binary")


def test_score_difference_sign() -> None:
    challenger = {"rmse": 0.9, "roc_auc": 0.80}
    champion = {"rmse": 1.0, "roc_auc": 0.85}

    assert score_difference(challenger, champion, "rmse") == pytest.approx(0.1)
    assert score_difference(challenger, champion, primary_metric("regression")) == pytest.approx(
        0.1
    )
    assert score_difference(challenger, champion, "roc_auc") == pytest.approx(-0.05)
    assert math.isnan(score_difference(challenger, {}, "rmse"))
    with pytest.raises(ModelingError, match="Unknown metric 'auc'"):
        score_difference(challenger, champion, "auc")
