"""Tests of the default candidates and their search spaces."""

from __future__ import annotations

import pytest
from sklearn.base import is_classifier, is_regressor

from mlops_nb.errors import ModelingError
from mlops_nb.modeling import Candidate, candidate_names, candidate_space
from mlops_nb.modeling._search import share_budget, space_size


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_classification_candidates(task: str) -> None:
    space = candidate_space(task, seed=7)

    assert list(space) == ["logistic", "random_forest", "hist_gradient_boosting"]
    assert all(is_classifier(c.estimator) for c in space.values())
    assert space["random_forest"].estimator.get_params()["random_state"] == 7
    assert space["random_forest"].estimator.get_params()["n_jobs"] == 1


def test_regression_candidates() -> None:
    space = candidate_space("regression")

    assert list(space) == ["ridge", "random_forest", "hist_gradient_boosting"]
    assert candidate_names("regression") == list(space)
    assert all(is_regressor(c.estimator) for c in space.values())


def test_candidates_are_unfitted_and_prefixed() -> None:
    for candidate in candidate_space("binary").values():
        assert isinstance(candidate, Candidate)
        assert not hasattr(candidate.estimator, "n_features_in_")
        assert candidate.param_distributions
        assert all(key.startswith("model__") for key in candidate.param_distributions)
        valid = candidate.estimator.get_params()
        assert all(key.removeprefix("model__") in valid for key in candidate.param_distributions)


def test_each_call_returns_fresh_estimators() -> None:
    first, second = candidate_space("binary"), candidate_space("binary")

    assert first["logistic"].estimator is not second["logistic"].estimator


def test_names_select_a_subset_in_order() -> None:
    assert list(candidate_space("binary", names=["random_forest", "logistic"])) == [
        "random_forest",
        "logistic",
    ]
    assert list(candidate_space("regression", names="ridge, random_forest")) == [
        "ridge",
        "random_forest",
    ]


@pytest.mark.parametrize("names", [["ridge"], [], ["logistic", "logistic"]])
def test_bad_names_list_the_valid_ones(names: list[str]) -> None:
    with pytest.raises(ModelingError, match="logistic, random_forest, hist_gradient_boosting"):
        candidate_space("binary", names=names)


def test_unknown_task() -> None:
    with pytest.raises(ModelingError, match="binary, multiclass, regression"):
        candidate_space("ranking")


def test_space_size() -> None:
    assert space_size({}) == 1
    assert space_size({"a": [1, 2], "b": ("x", "y", "z")}) == 6
    assert space_size(candidate_space("binary")["logistic"].param_distributions) == float("inf")


@pytest.mark.parametrize(
    ("budget", "expected", "noted"),
    [
        (6, {"a": 2, "b": 2, "c": 2}, False),
        (7, {"a": 3, "b": 2, "c": 2}, False),
        (2, {"a": 1, "b": 1, "c": 1}, True),
    ],
)
def test_share_budget(budget: int, expected: dict[str, int], noted: bool) -> None:
    inf = float("inf")
    shares, notes = share_budget(budget, {"a": inf, "b": inf, "c": inf})

    assert shares == expected
    assert bool(notes) is noted


def test_share_budget_respects_small_grids() -> None:
    shares, notes = share_budget(6, {"a": 1, "b": 2, "c": float("inf")})

    assert shares == {"a": 1, "b": 2, "c": 3}
    assert notes == []
    shares, notes = share_budget(9, {"a": 1, "b": 2})
    assert shares == {"a": 1, "b": 2}
    assert "only 3 settings" in notes[0]
