"""Candidate estimators and their hyperparameter search spaces.

Each candidate is an unfitted scikit-learn estimator plus the distributions
:class:`~sklearn.model_selection.RandomizedSearchCV` samples from; keys are
prefixed ``model__`` because the estimator becomes the ``model`` step of a
pipeline behind the feature steps.

Default candidates (ranges are small so a fit on a few thousand rows takes
well under a second):

* classification: ``logistic`` (``LogisticRegression``, C log-uniform in
  1e-2-1e2), ``random_forest``, ``hist_gradient_boosting``;
* regression: ``ridge`` (``Ridge``, alpha log-uniform in 1e-3-1e3),
  ``random_forest``, ``hist_gradient_boosting``.

Both forests draw ``n_estimators`` 50-200, ``max_depth`` 3, 5, 8 or 12,
``min_samples_leaf`` 1-20 and ``max_features`` "sqrt" or 0.5; both boosters
draw ``learning_rate`` 0.02-0.3 (log-uniform), ``max_iter`` 50-200,
``max_leaf_nodes`` 8-31, ``min_samples_leaf`` 10-40 and ``l2_regularization``
1e-4-1 (log-uniform), without early stopping (so results do not depend on an
internal validation split). Every random estimator gets ``random_state=seed``
and forests ``n_jobs=1``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from scipy.stats import loguniform, randint
from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge

from mlops_nb.errors import ModelingError
from mlops_nb.modeling._checks import is_classification

__all__ = ["Candidate", "candidate_names", "candidate_space"]


@dataclass(frozen=True)
class Candidate:
    """One estimator to tune.

    Attributes:
        name: Short name, used in the leaderboard and the tracking records.
        estimator: Unfitted scikit-learn estimator.
        param_distributions: ``RandomizedSearchCV`` distributions, keys
            prefixed ``model__`` (lists are sampled uniformly).
    """

    name: str
    estimator: BaseEstimator
    param_distributions: dict[str, Any] = field(default_factory=dict)


def _forest(model: type[BaseEstimator], seed: int) -> Candidate:
    space = {
        "model__n_estimators": randint(50, 201),
        "model__max_depth": [3, 5, 8, 12],
        "model__min_samples_leaf": randint(1, 21),
        "model__max_features": ["sqrt", 0.5],
    }
    return Candidate("random_forest", model(random_state=seed, n_jobs=1), space)


def _boosting(model: type[BaseEstimator], seed: int) -> Candidate:
    space = {
        "model__learning_rate": loguniform(0.02, 0.3),
        "model__max_iter": randint(50, 201),
        "model__max_leaf_nodes": randint(8, 32),
        "model__min_samples_leaf": randint(10, 41),
        "model__l2_regularization": loguniform(1e-4, 1.0),
    }
    estimator = model(random_state=seed, early_stopping=False)
    return Candidate("hist_gradient_boosting", estimator, space)


def _logistic(seed: int) -> Candidate:
    estimator = LogisticRegression(max_iter=2000, random_state=seed)
    return Candidate("logistic", estimator, {"model__C": loguniform(1e-2, 1e2)})


def _ridge(seed: int) -> Candidate:
    return Candidate("ridge", Ridge(), {"model__alpha": loguniform(1e-3, 1e3)})


_CLASSIFIERS: dict[str, Callable[[int], Candidate]] = {
    "logistic": _logistic,
    "random_forest": lambda seed: _forest(RandomForestClassifier, seed),
    "hist_gradient_boosting": lambda seed: _boosting(HistGradientBoostingClassifier, seed),
}
_REGRESSORS: dict[str, Callable[[int], Candidate]] = {
    "ridge": _ridge,
    "random_forest": lambda seed: _forest(RandomForestRegressor, seed),
    "hist_gradient_boosting": lambda seed: _boosting(HistGradientBoostingRegressor, seed),
}


def candidate_names(task: str) -> list[str]:
    """Names of the default candidates for ``task``, in their default order."""
    return list(_CLASSIFIERS if is_classification(task) else _REGRESSORS)


def candidate_space(
    task: str, *, seed: int = 0, names: Iterable[str] | str | None = None
) -> dict[str, Candidate]:
    """Return fresh default candidates for ``task``, by name.

    Args:
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        seed: ``random_state`` of every random estimator.
        names: Subset to return, in this order (a list, or one string of
            comma-separated names); ``None`` returns all of them.

    Raises:
        ModelingError: unknown task, unknown or repeated name, or no name.
    """
    makers = _CLASSIFIERS if is_classification(task) else _REGRESSORS
    chosen = _chosen_names(names, list(makers), task)
    return {name: makers[name](seed) for name in chosen}


def _chosen_names(names: Iterable[str] | str | None, valid: list[str], task: str) -> list[str]:
    if names is None:
        return valid
    if isinstance(names, str):
        names = [part.strip() for part in names.split(",") if part.strip()]
    chosen = list(names)
    unknown = [name for name in chosen if name not in valid]
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        problem = f"unknown {unknown}" if unknown else "none or repeated"
        raise ModelingError(
            f"Candidate names {chosen} for task {task!r}: {problem}; choose one or more "
            f"distinct names of: {', '.join(valid)}.",
            parameter="candidates",
        )
    return chosen
