"""Tests of tune(): real searches on small synthetic problems."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.base import clone
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from mlops_nb.artifacts import TRUSTED_MODULE_PREFIXES, trusted_types
from mlops_nb.errors import ModelingError
from mlops_nb.modeling import (
    Candidate,
    TuningResult,
    evaluate,
    tune,
)
from tests.modeling.conftest import Problem

TRIAL_COLUMNS = [
    "candidate",
    "trial",
    "params",
    "mean_cv_score",
    "std_cv_score",
    "fit_seconds",
    "rung",
    "rows",
]
BOARD_COLUMNS = [
    "rank",
    "candidate",
    "cv_score",
    "cv_std",
    "n_trials",
    "fit_seconds",
    "params",
    "rows",
]


def dummy_score(p: Problem, metric: str) -> float:
    dummy = DummyRegressor() if p.task == "regression" else DummyClassifier(strategy="prior")
    model = Pipeline([*p.features.steps, ("model", dummy)]).fit(p.X_train, p.y_train)
    return evaluate(model, p.X_test, p.y_test, p.task)[metric]


def check_result(result: TuningResult, budget: int, higher_is_better: bool) -> None:
    assert len(result.trials) == budget
    assert list(result.trials.columns) == [*TRIAL_COLUMNS, "rank"]
    assert list(result.leaderboard.columns) == BOARD_COLUMNS
    board = result.leaderboard
    scores = board["cv_score"].to_numpy()
    # a score on more rows (a later rung of the race) ranks first, then the better score
    order = list(zip(-board["rows"], -scores if higher_is_better else scores, strict=True))
    assert order == sorted(order)
    assert list(board["rank"]) == [1, 2, 3]
    assert board["n_trials"].sum() == budget
    assert result.best_name == board["candidate"].iloc[0]
    assert result.best_estimator is result.estimators[result.best_name]
    assert result.best["candidate"] == result.best_name and result.best["rank"] == 1
    assert result.best_score == pytest.approx(scores[0]) and isinstance(result.best_score, float)
    # the halving race refits its winner only; the full search every candidate's best
    refitted = {result.best_name} if result.strategy == "halving" else set(board["candidate"])
    assert set(result.estimators) == refitted
    best_trial = result.trials.loc[result.trials["rank"] == 1, "mean_cv_score"].iloc[0]
    assert best_trial == pytest.approx(scores[0])
    assert result.trials["rows"].max() == result.search_rows == board["rows"].iloc[0]


def test_binary(binary: Problem, binary_result: TuningResult) -> None:
    check_result(binary_result, budget=4, higher_is_better=True)

    assert binary_result.metric.name == "roc_auc"
    assert binary_result.cv_splits == 2 and binary_result.notes == []
    shares = binary_result.trials.groupby("candidate", sort=False).size()
    assert shares.to_dict() == {"logistic": 2, "random_forest": 1, "hist_gradient_boosting": 1}
    assert set(binary_result.trials.loc[0, "params"]) == {"C"}
    assert isinstance(binary_result.trials.loc[0, "params"]["C"], float)
    best = evaluate(binary_result.best_estimator, binary.X_test, binary.y_test, "binary")
    assert best["roc_auc"] > dummy_score(binary, "roc_auc") + 0.2
    assert list(binary_result.best_estimator.named_steps) == ["transform", "select", "model"]


def test_multiclass(multiclass: Problem, multiclass_result: TuningResult) -> None:
    check_result(multiclass_result, budget=3, higher_is_better=True)

    assert multiclass_result.metric.name == "f1"
    best = evaluate(
        multiclass_result.best_estimator, multiclass.X_test, multiclass.y_test, "multiclass"
    )
    assert best["f1"] > dummy_score(multiclass, "f1") + 0.3


def test_regression(regression: Problem, regression_result: TuningResult) -> None:
    check_result(regression_result, budget=3, higher_is_better=False)

    assert regression_result.metric.name == "rmse"
    assert (regression_result.trials["mean_cv_score"] > 0).all()
    best = evaluate(
        regression_result.best_estimator, regression.X_test, regression.y_test, "regression"
    )
    assert best["rmse"] < 0.5 * dummy_score(regression, "rmse")


def test_same_seed_same_result(binary: Problem) -> None:
    def run() -> TuningResult:
        return tune(
            binary.features,
            binary.X_train,
            binary.y_train,
            "binary",
            candidates=["logistic", "random_forest"],
            budget=3,
            cv=2,
            seed=3,
        )

    first, second = run(), run()
    timeless = [c for c in BOARD_COLUMNS if c != "fit_seconds"]
    pd.testing.assert_frame_equal(first.leaderboard[timeless], second.leaderboard[timeless])
    trials = [c for c in first.trials.columns if c != "fit_seconds"]
    pd.testing.assert_frame_equal(first.trials[trials], second.trials[trials])
    np.testing.assert_array_equal(
        first.best_estimator.predict_proba(binary.X_test),
        second.best_estimator.predict_proba(binary.X_test),
    )


def test_skops_round_trip(binary: Problem, binary_result: TuningResult) -> None:
    for name, model in binary_result.estimators.items():
        data = sio.dumps(model)
        trusted = trusted_types(data)

        assert all(t.startswith(TRUSTED_MODULE_PREFIXES) for t in trusted), name
        loaded = sio.loads(data, trusted=trusted)
        np.testing.assert_array_equal(
            loaded.predict_proba(binary.X_test), model.predict_proba(binary.X_test)
        )
        np.testing.assert_array_equal(loaded.predict(binary.X_test), model.predict(binary.X_test))


def test_rare_class_reduces_folds(binary: Problem) -> None:
    y = binary.y_train.copy()
    y.iloc[:100] = "yes"
    y.iloc[:2] = "maybe"  # a third class with two rows
    result = tune(
        binary.features, binary.X_train, y, "multiclass", candidates="logistic", budget=1, cv=3
    )

    assert result.cv_splits == 2
    assert "cv reduced from 3 to 2 folds: class 'maybe' has only 2 rows" in result.notes[0]


def test_single_row_class_is_refused(binary: Problem) -> None:
    y = binary.y_train.copy()
    y.iloc[0] = "maybe"

    with pytest.raises(ModelingError, match="Class 'maybe' has a single training row"):
        tune(binary.features, binary.X_train, y, "multiclass", candidates="logistic", budget=1)


def test_small_budget_tries_each_candidate_once(regression: Problem) -> None:
    result = tune(
        regression.features,
        regression.X_train.iloc[:120],
        regression.y_train.iloc[:120],
        "regression",
        candidates=["ridge", "random_forest"],
        budget=1,
        cv=2,
    )

    assert len(result.trials) == 2
    assert "budget=1 is less than the 2 candidates" in result.notes[0]


def test_failing_candidate_is_named(binary: Problem) -> None:
    bad = Candidate("bad", LogisticRegression(), {"model__C": [-1.0]})

    with pytest.raises(ModelingError, match="Candidate 'bad' failed") as caught:
        tune(binary.features, binary.X_train, binary.y_train, "binary", candidates={"bad": bad})
    assert caught.value.candidate == "bad"


def test_custom_candidates_and_bad_arguments(binary: Problem) -> None:
    args = (binary.features, binary.X_train, binary.y_train, "binary")
    plain = Candidate("plain", LogisticRegression(), {})

    result = tune(*args, candidates={"plain": plain}, budget=5, cv=2)
    assert len(result.trials) == 1 and "only 1 settings" in result.notes[0]
    with pytest.raises(ModelingError, match="Candidate objects"):
        tune(*args, candidates={"plain": LogisticRegression()})
    with pytest.raises(ModelingError, match="budget must be an integer of at least 1"):
        tune(*args, budget=0)
    with pytest.raises(ModelingError, match="cv must be an integer of at least 2"):
        tune(*args, cv=1)
    with pytest.raises(ModelingError, match="n_jobs must be an integer"):
        tune(*args, n_jobs=0)
    with pytest.raises(ModelingError, match="unknown"):
        tune(*args, candidates=["ridge"])


def manual_refit(result: TuningResult, X: pd.DataFrame, y: pd.Series) -> Pipeline:
    """The winner's setting fitted by hand on every row of ``X``."""
    return clone(result.best_estimator).fit(X, y)


def test_halving_races_the_settings_of_the_full_search(binary: Problem) -> None:
    args = (binary.features, binary.X_train, binary.y_train, "binary")
    full = tune(*args, budget=6, cv=2, seed=1, strategy="full")
    race = tune(*args, budget=6, cv=2, seed=1)

    assert (full.strategy, race.strategy) == ("full", "halving")
    same = ["candidate", "trial", "params"]
    pd.testing.assert_frame_equal(full.trials[same], race.trials[same])
    # 6 settings, factor 3: all six on a third of the rows, the best two on all of them
    first, last = race.trials["rows"].min(), race.trials["rows"].max()
    assert (race.trials["rung"] == 0).sum() == 4 and (race.trials["rung"] == 1).sum() == 2
    assert last == 3 * first and len(binary.X_train) - 3 < last <= len(binary.X_train)
    assert set(full.trials["rows"]) == {len(binary.X_train)} and set(full.trials["rung"]) == {0}
    survivors = race.trials.loc[race.trials["rung"] == 1]
    assert race.best_name in set(survivors["candidate"])
    assert set(race.trials.loc[race.trials["rank"] <= 2, "rung"]) == {1}
    assert len(full.estimators) == 3 and list(race.estimators) == [race.best_name]
    # the winner is refitted on all training rows, not on the last rung's subsample
    by_hand = manual_refit(race, binary.X_train, binary.y_train)
    np.testing.assert_allclose(
        race.best_estimator.predict_proba(binary.X_test), by_hand.predict_proba(binary.X_test)
    )


def test_search_rows_caps_the_rows_a_setting_is_scored_on(binary: Problem) -> None:
    X, y = binary.X_train, binary.y_train
    result = tune(binary.features, X, y, "binary", budget=3, cv=2, search_rows=150)

    assert result.search_rows <= 150 and result.trials["rows"].max() == result.search_rows
    assert result.search_rows < len(X)
    by_hand = manual_refit(result, X, y)
    np.testing.assert_allclose(
        result.best_estimator.predict_proba(binary.X_test), by_hand.predict_proba(binary.X_test)
    )


def test_a_failing_race_names_its_candidates(binary: Problem) -> None:
    bad = Candidate("bad", LogisticRegression(), {"model__C": [-1.0]})
    good = Candidate("good", LogisticRegression(), {})
    args = (binary.features, binary.X_train, binary.y_train, "binary")

    with pytest.raises(ModelingError, match="halving search over candidates 'bad', 'good'") as e:
        tune(*args, candidates={"bad": bad, "good": good}, budget=2)
    assert e.value.candidate is None and "parameter of LogisticRegression" in str(e.value)
    with pytest.raises(ModelingError, match="strategy must be one of halving, full"):
        tune(*args, strategy="grid")
    with pytest.raises(ModelingError, match="search_rows must be an integer of at least 100"):
        tune(*args, search_rows=10)
    with pytest.raises(ModelingError, match="factor must be an integer of at least 2"):
        tune(*args, factor=1)


def test_the_first_rung_holds_enough_rows_of_the_rarest_class() -> None:
    from mlops_nb.modeling._halving import RARE_ROWS, first_rung

    assert first_rung(6, 300, 3, rows=1_000, rarest=500) == 100  # as "exhaust": 100, then 300
    assert first_rung(9, 900, 3, rows=900, rarest=450) == 100  # three rungs: 100, 300, 900
    assert first_rung(6, 300, 3, rows=1_000, rarest=200) == 150  # 30 of 200 in 1,000 rows
    assert first_rung(6, 300, 3, rows=1_000, rarest=50) == 300  # one rung: the full search
    assert first_rung(1, 300, 3, rows=1_000, rarest=None) == 300
    assert RARE_ROWS * 1_000 // 200 == 150


def test_a_rare_class_gets_a_race_it_can_fit(binary: Problem) -> None:
    y = pd.Series("no", index=binary.y_train.index)
    y.iloc[::60] = "yes"  # about 1.7 % of the rows
    rarest = int((y == "yes").sum())
    result = tune(binary.features, binary.X_train, y, "binary", budget=6, cv=2, seed=0)

    first = int(result.trials["rows"].min())
    assert first >= min(len(y), -(-30 * len(y) // rarest)) - 3
    assert result.best_estimator.predict_proba(binary.X_test).shape == (len(binary.X_test), 2)


def test_a_nan_score_ranks_last() -> None:
    from mlops_nb.modeling._halving import _ranks
    from mlops_nb.modeling.metrics import primary_metric

    trials = pd.DataFrame({"mean_cv_score": [0.7, np.nan, 0.9], "rung": [1, 1, 1]})
    assert list(_ranks(trials, primary_metric("binary"))) == [2, 3, 1]
    assert list(_ranks(trials, primary_metric("regression"))) == [1, 3, 2]
