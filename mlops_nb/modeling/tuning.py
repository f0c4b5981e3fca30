"""Cross-validated hyperparameter search over candidate estimators.

``budget`` is the total number of hyperparameter settings tried across all
candidates (each setting is cross-validated on ``cv`` folds, then the best
setting of each candidate is refitted on all training rows). Every candidate
gets at least one setting; the rest is shared round-robin in candidate
order, so ``budget=6`` over three candidates tries two settings each, and
``budget=7`` tries 3, 2 and 2. A budget below the number of candidates still
tries each once (noted in :attr:`TuningResult.notes`).

Every candidate is searched with the same folds (shuffled with ``seed``) and
the same ``seed`` for sampling settings, so a seed fixes the whole result.
Scores are in the primary metric's own units (RMSE positive) -- see
:func:`~mlops_nb.modeling.primary_metric`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import RandomizedSearchCV
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from mlops_nb.errors import MlopsNbError, ModelingError
from mlops_nb.modeling._checks import check_data, check_task
from mlops_nb.modeling._search import check_count, cv_splitter, share_budget, space_size
from mlops_nb.modeling._tables import leaderboard_table, trials_table
from mlops_nb.modeling.candidates import Candidate, candidate_space
from mlops_nb.modeling.metrics import Metric, primary_metric

__all__ = ["TuningResult", "tune"]


@dataclass(frozen=True)
class TuningResult:
    """What :func:`tune` found.

    Attributes:
        metric: The primary metric that ranked the settings.
        trials: One row per setting tried: ``candidate``, ``trial`` (1-based
            within the candidate), ``params`` (dict, without the ``model__``
            prefix), ``mean_cv_score``, ``std_cv_score``, ``fit_seconds``
            (summed over folds) and ``rank`` (1 = best over all trials).
        leaderboard: One row per candidate, best first: ``rank``,
            ``candidate``, ``cv_score`` and ``cv_std`` of its best setting,
            ``n_trials``, ``fit_seconds`` (its whole search and refit) and
            ``params`` (its best setting).
        estimators: Candidate name -> its best setting's full pipeline,
            refitted on all training rows.
        best_name: Name of the top candidate of the leaderboard.
        cv_splits: Number of folds used.
        notes: What differed from the request (fewer folds, budget).
    """

    metric: Metric
    trials: pd.DataFrame
    leaderboard: pd.DataFrame
    estimators: dict[str, Pipeline]
    best_name: str
    cv_splits: int
    notes: list[str] = field(default_factory=list)

    @property
    def best_estimator(self) -> Pipeline:
        """The fitted pipeline of :attr:`best_name`."""
        return self.estimators[self.best_name]

    @property
    def best(self) -> pd.Series:
        """The leaderboard row of :attr:`best_name` (``cv_score``, ``cv_std``, ``params``...)."""
        rows = self.leaderboard.loc[self.leaderboard["candidate"] == self.best_name]
        return rows.iloc[0]

    @property
    def best_score(self) -> float:
        """The cross-validated score of :attr:`best_name`, in :attr:`metric`'s units."""
        return float(self.best["cv_score"])


def tune(
    features: Pipeline,
    X: pd.DataFrame,
    y: Any,
    task: str,
    *,
    candidates: Mapping[str, Candidate] | Iterable[str] | str | None = None,
    budget: int = 6,
    cv: int = 3,
    seed: int = 0,
    n_jobs: int = 1,
) -> TuningResult:
    """Tune each candidate behind (a clone of) the feature pipeline.

    Args:
        features: Unfitted feature pipeline from
            :func:`~mlops_nb.features.build_feature_pipeline`; each candidate
            becomes ``Pipeline([*features.steps, ("model", estimator)])``.
        X: Training rows (raw feature columns).
        y: Training target.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        candidates: Candidates by name (see :func:`candidate_space`), or
            names of default candidates; ``None``: all defaults.
        budget: Total settings tried over all candidates (module docstring).
        cv: Folds per setting (fewer if a class is too rare; see notes).
        seed: Seed of the folds, the sampled settings and the default
            candidates.
        n_jobs: Parallel fits of the search; it also caps the threads of
            native code (OpenMP, BLAS) while tuning. ``-1``: all cores.
            Results do not depend on it.

    Raises:
        ModelingError: bad arguments, or a candidate fails to fit (naming it).
    """
    check_task(task)
    X, target = check_data(X, y, where="tune")
    budget, cv = check_count(budget, "budget", 1), check_count(cv, "cv", 2)
    if n_jobs != -1:
        n_jobs = check_count(n_jobs, "n_jobs", 1, example="n_jobs=1, or -1 for all cores")
    chosen = _candidates(candidates, task, seed)
    splitter, notes = cv_splitter(target, task, cv, seed)
    shares, budget_notes = share_budget(
        budget, {name: space_size(c.param_distributions) for name, c in chosen.items()}
    )
    metric = primary_metric(task)
    searches: dict[str, tuple[RandomizedSearchCV, float]] = {}
    with threadpool_limits(limits=None if n_jobs == -1 else n_jobs):
        for name, candidate in chosen.items():
            search = _search(features, candidate, shares[name], splitter, metric, seed, n_jobs)
            searches[name] = _fit(search, X, y, name)
    return _result(searches, metric, splitter.get_n_splits(), [*notes, *budget_notes])


def _result(
    searches: dict[str, tuple[RandomizedSearchCV, float]],
    metric: Metric,
    n_splits: int,
    notes: list[str],
) -> TuningResult:
    fitted = {name: search for name, (search, _) in searches.items()}
    board = leaderboard_table(searches, metric)
    return TuningResult(
        metric=metric,
        trials=trials_table(fitted, metric, n_splits),
        leaderboard=board,
        estimators={name: search.best_estimator_ for name, search in fitted.items()},
        best_name=str(board["candidate"].iloc[0]),
        cv_splits=n_splits,
        notes=notes,
    )


def _candidates(
    candidates: Mapping[str, Candidate] | Iterable[str] | str | None, task: str, seed: int
) -> dict[str, Candidate]:
    if not isinstance(candidates, Mapping):
        return candidate_space(task, seed=seed, names=candidates)
    wrong = [name for name, c in candidates.items() if not isinstance(c, Candidate)]
    if wrong or not candidates:
        raise ModelingError(
            f"candidates must map names to Candidate objects (wrong: {wrong or 'none given'}); "
            "build them with candidate_space(task) or Candidate(name, estimator, space).",
            parameter="candidates",
        )
    return dict(candidates)


def _search(
    features: Pipeline,
    candidate: Candidate,
    n_iter: int,
    splitter: Any,
    metric: Metric,
    seed: int,
    n_jobs: int,
) -> RandomizedSearchCV:
    steps = [*clone(features).steps, ("model", clone(candidate.estimator))]
    return RandomizedSearchCV(
        Pipeline(steps),
        candidate.param_distributions,
        n_iter=n_iter,
        scoring=metric.scorer,
        cv=splitter,
        refit=True,
        random_state=seed,
        n_jobs=n_jobs,
        error_score="raise",
    )


def _fit(search: RandomizedSearchCV, X: pd.DataFrame, y: Any, name: str) -> tuple[Any, float]:
    started = time.perf_counter()
    try:
        search.fit(X, y)
    except MlopsNbError:
        raise
    except Exception as error:
        raise ModelingError(
            f"Candidate {name!r} failed while cross-validating {search.n_iter} setting(s): "
            f"{type(error).__name__}: {error}. Check its parameter space and the training "
            f"data, or leave it out with candidates=[...].",
            candidate=name,
        ) from error
    return search, time.perf_counter() - started
