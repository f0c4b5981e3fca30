"""Cross-validated hyperparameter search over candidate estimators.

``budget`` is the total number of hyperparameter settings tried across all
candidates; how they are tried is the ``strategy``:

* ``"halving"`` (default): all settings race in one successive-halving
  search with the training rows as the resource (see
  :mod:`mlops_nb.modeling._halving`): the first rung cross-validates every
  setting on a subsample, each next rung keeps the best ``1/factor`` on
  ``factor`` times more rows, up to ``search_rows`` rows; only the winner is
  refitted on all training rows. The search's cost stops growing with the
  data above ``search_rows``.
* ``"full"``: each candidate's settings are cross-validated on all training
  rows, and the best setting of every candidate is refitted on them (so
  :attr:`TuningResult.estimators` holds all candidates).

Both try the same settings for the same seed. Every candidate
gets at least one setting; the rest is shared round-robin in candidate
order, so ``budget=6`` over three candidates tries two settings each, and
``budget=7`` tries 3, 2 and 2. A budget below the number of candidates still
tries each once (noted in :attr:`TuningResult.notes`).

Every candidate is searched with the same folds (shuffled with ``seed``) and
the same ``seed`` for sampling settings, so a seed fixes the whole result.
Scores are in the primary metric's own units (RMSE positive) -- see
:func:`~mlops_nb.modeling.primary_metric`.

Where the fits run (``parallel``): ``"local"`` in this process, ``n_jobs`` at
once; ``"dask"`` as tasks on a Dask cluster (every candidate's folds queued at
once, see :mod:`mlops_nb.modeling._cluster`). The result is the same either
way for the same seed; only ``fit_seconds`` and the recorded workers differ.
:func:`resolve_parallel` turns a template's ``"auto"`` into one of the two.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import RandomizedSearchCV
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from mlops_nb.config import SCHEDULER_ENV
from mlops_nb.errors import MlopsNbError, ModelingError
from mlops_nb.modeling._checks import check_data, check_task, is_classification
from mlops_nb.modeling._cluster import (
    ClusterShape,
    cluster_client,
    fit_on_cluster,
    scheduler_address,
)
from mlops_nb.modeling._halving import FACTOR, SEARCH_ROWS, Race, race_search, race_tables
from mlops_nb.modeling._search import check_count, cv_splitter, share_budget, space_size
from mlops_nb.modeling._tables import leaderboard_table, plain_params, trials_table
from mlops_nb.modeling.candidates import Candidate, candidate_space
from mlops_nb.modeling.metrics import Metric, primary_metric

__all__ = [
    "PARALLEL_ENV",
    "PARALLEL_MODES",
    "STRATEGIES",
    "TuningResult",
    "resolve_parallel",
    "tune",
]

PARALLEL_MODES = ("local", "dask")
"""Where :func:`tune` runs its fits."""
PARALLEL_ROWS = 10_000
"""From this many training rows on, ``tune(n_jobs=None)`` fits on all cores (``bench/search.py``:
20,000 rows of the churn sample searched 1.33x faster on 2 cores than on one)."""
PARALLEL_ENV = "MLOPS_NB_PARALLEL"
"""Set to ``dask`` for a stage's kernel by the Dask executor: ``parallel="auto"`` means dask."""


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
            ``n_trials``, ``fit_seconds`` (its whole search and refit; on a
            cluster, wall seconds while sharing the workers) and
            ``params`` (its best setting).
        estimators: Candidate name -> its best setting's full pipeline,
            refitted on all training rows: every candidate with the
            ``"full"`` strategy, the winner only with ``"halving"``.
        best_name: Name of the top candidate of the leaderboard.
        cv_splits: Number of folds used.
        notes: What differed from the request (fewer folds, budget).
        parallel: Where the fits ran: ``"local"`` or ``"dask"``.
        workers: Processes the fits were spread over (1 locally, else the
            cluster's workers).
        cores: Fits that could run at once (``n_jobs`` locally, else the
            workers' threads).
        strategy: ``"halving"`` or ``"full"`` (module docstring).
        search_rows: Most rows a setting was cross-validated on.

    With ``"halving"`` the trials and the leaderboard have two more
    columns, ``rung`` (0 = first) and ``rows`` (the rows the score stands
    on), and rank a setting that reached a higher rung above one dropped
    earlier.
    """

    metric: Metric
    trials: pd.DataFrame
    leaderboard: pd.DataFrame
    estimators: dict[str, Pipeline]
    best_name: str
    cv_splits: int
    notes: list[str] = field(default_factory=list)
    parallel: str = "local"
    workers: int = 1
    cores: int = 1
    strategy: str = "full"
    search_rows: int = 0

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
    n_jobs: int | None = None,
    parallel: str = "local",
    scheduler: str | None = None,
    strategy: str = "halving",
    search_rows: int = SEARCH_ROWS,
    factor: int = FACTOR,
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
            native code (OpenMP, BLAS) while tuning. ``-1``: all cores, each
            fit's native code on one thread (joblib's worker limit); ``None``:
            all cores from :data:`PARALLEL_ROWS` training rows on, else 1 (a
            pool of worker processes costs more than it saves on a few
            thousand rows). Results do not depend on it. Only with
            ``parallel="local"``.
        parallel: ``"local"``: fit here; ``"dask"``: fit on the Dask cluster
            at ``scheduler`` (all of its cores); ``"auto"``: see
            :func:`resolve_parallel`. Results do not depend on it.
        scheduler: The Dask scheduler's address (``tcp://host:8786``) for
            ``parallel="dask"``; ``None``: ``MLOPS_NB_DASK_SCHEDULER``.
        strategy: ``"halving"`` or ``"full"`` (module docstring).
        search_rows: With ``"halving"``, the most rows a setting is
            cross-validated on (the last rung); at least 100.
        factor: With ``"halving"``, each rung keeps ``1/factor`` of the
            settings on ``factor`` times more rows; at least 2.

    Raises:
        ModelingError: bad arguments, a candidate fails to fit (naming it),
            or with ``parallel="dask"``: no scheduler given, the scheduler
            cannot be reached (within a few seconds) or has no workers, or
            dask.distributed is not installed.
    """
    check_task(task)
    X, target = check_data(X, y, where="tune")
    budget, cv = check_count(budget, "budget", 1), check_count(cv, "cv", 2)
    if n_jobs is None:
        n_jobs = -1 if len(X) >= PARALLEL_ROWS and (os.cpu_count() or 1) > 1 else 1
    elif n_jobs != -1:
        n_jobs = check_count(n_jobs, "n_jobs", 1, example="n_jobs=1, or -1 for all cores")
    mode = resolve_parallel(parallel)
    strategy = _strategy(strategy)
    search_rows = check_count(search_rows, "search_rows", 100, example="search_rows=100000")
    factor = check_count(factor, "factor", 2, example="factor=3")
    address = scheduler_address(scheduler) if mode == "dask" else ""
    chosen = _candidates(candidates, task, seed)
    splitter, notes = cv_splitter(target, task, cv, seed)
    shares, budget_notes = share_budget(
        budget, {name: space_size(c.param_distributions) for name, c in chosen.items()}
    )
    metric = primary_metric(task)
    notes = [*notes, *budget_notes]
    if strategy == "halving":
        race = Race(chosen, shares, seed)
        searcher = race_search(
            features,
            race,
            splitter,
            metric,
            seed=seed,
            n_jobs=-1 if mode == "dask" else n_jobs,
            rows=len(X),
            search_rows=search_rows,
            factor=factor,
            rarest=_rarest(target, task),
        )
        return _run_race(searcher, race, X, y, metric, notes, n_jobs, address)

    def search(name: str, jobs: int, refit: bool) -> RandomizedSearchCV:
        return _search(features, chosen[name], shares[name], splitter, metric, seed, jobs, refit)

    if mode == "dask":
        with cluster_client(address) as (client, shape):
            unfitted = {name: search(name, -1, refit=False) for name in chosen}
            fitted = fit_on_cluster(client, unfitted, X, y, _fit)
        return _result(fitted, metric, splitter.get_n_splits(), notes, shape, len(X))
    found: dict[str, tuple[RandomizedSearchCV, Pipeline, float]] = {}
    with threadpool_limits(limits=None if n_jobs == -1 else n_jobs):
        for name in chosen:
            done, seconds = _fit(search(name, n_jobs, refit=True), X, y, name)
            found[name] = (done, done.best_estimator_, seconds)
    cores = (os.cpu_count() or 1) if n_jobs == -1 else n_jobs
    shape = ClusterShape("", 1, cores)
    return _result(found, metric, splitter.get_n_splits(), notes, shape, len(X))


def _rarest(target: Any, task: str) -> int | None:
    """Rows of the rarest class for classification, ``None`` for regression."""
    if not is_classification(task):
        return None
    return int(pd.Series(np.asarray(target)).value_counts().min())


def _run_race(
    searcher: Any,
    race: Race,
    X: pd.DataFrame,
    y: Any,
    metric: Metric,
    notes: list[str],
    n_jobs: int,
    address: str,
) -> TuningResult:
    """Run the halving race here or on the cluster at ``address``; refit the winner once."""
    names = list(dict.fromkeys(name for name, _ in race.owners))
    key = names[0] if len(names) == 1 else ", ".join(map(repr, names))

    def race_fit(search: Any, X: Any, y: Any, name: str) -> tuple[Any, float]:
        return _fit(search, X, y, name, one_candidate=len(names) == 1)

    if address:
        with cluster_client(address) as (client, shape):
            done, estimator, _ = fit_on_cluster(client, {key: searcher}, X, y, race_fit)[key]
        refit_seconds = 0.0  # the cluster's refit is inside the race's wall seconds
    else:
        with threadpool_limits(limits=None if n_jobs == -1 else n_jobs):
            done, _ = race_fit(searcher, X, y, key)
            estimator, refit_seconds = _refit_winner(done, X, y)
        shape = ClusterShape("", 1, (os.cpu_count() or 1) if n_jobs == -1 else n_jobs)
    n_splits = searcher.cv.get_n_splits()
    trials, board, winner = race_tables(done, race, metric, n_splits, refit_seconds)
    return TuningResult(
        metric=metric,
        trials=trials,
        leaderboard=board,
        estimators={winner: estimator},
        best_name=winner,
        cv_splits=n_splits,
        notes=notes,
        **_where(shape),
        strategy="halving",
        search_rows=int(done.n_resources_[-1]),
    )


def _where(shape: ClusterShape) -> dict[str, Any]:
    """The :class:`TuningResult` fields that say where the fits ran."""
    parallel = "dask" if shape.scheduler else "local"
    return {"parallel": parallel, "workers": shape.workers, "cores": shape.cores}


def resolve_parallel(parallel: str = "auto") -> str:
    """Where a search runs: ``"local"`` or ``"dask"``; ``"auto"`` decides from the environment.

    ``"auto"`` is ``"dask"`` when ``MLOPS_NB_PARALLEL=dask``, which the Dask
    executor sets for every stage's kernel (with ``MLOPS_NB_DASK_SCHEDULER``),
    so a run with ``--executor dask`` searches on its cluster and any other
    run searches locally. ``"local"`` and ``"dask"`` are returned as they are.

    Raises:
        ModelingError: any other value.
    """
    choices = ("auto", *PARALLEL_MODES)
    chosen = parallel.strip().lower() if isinstance(parallel, str) else parallel
    if chosen not in choices:
        raise ModelingError(
            f"parallel must be one of {', '.join(choices)}, got {parallel!r}; e.g. "
            f"parallel='dask' to search on the Dask cluster at {SCHEDULER_ENV}.",
            parameter="parallel",
        )
    if chosen == "auto":
        return "dask" if os.environ.get(PARALLEL_ENV, "").strip().lower() == "dask" else "local"
    return str(chosen)


def _result(
    searches: dict[str, tuple[RandomizedSearchCV, Pipeline, float]],
    metric: Metric,
    n_splits: int,
    notes: list[str],
    shape: ClusterShape,
    rows: int,
) -> TuningResult:
    fitted = {name: search for name, (search, _, _) in searches.items()}
    board = leaderboard_table(
        {name: (search, seconds) for name, (search, _, seconds) in searches.items()},
        metric,
        rows,
    )
    return TuningResult(
        metric=metric,
        trials=trials_table(fitted, metric, n_splits, rows),
        leaderboard=board,
        estimators={name: estimator for name, (_, estimator, _) in searches.items()},
        best_name=str(board["candidate"].iloc[0]),
        cv_splits=n_splits,
        notes=notes,
        **_where(shape),
        strategy="full",
        search_rows=rows,
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
    refit: bool,
) -> RandomizedSearchCV:
    steps = [*clone(features).steps, ("model", clone(candidate.estimator))]
    return RandomizedSearchCV(
        Pipeline(steps),
        candidate.param_distributions,
        n_iter=n_iter,
        scoring=metric.scorer,
        cv=splitter,
        refit=refit,
        random_state=seed,
        n_jobs=n_jobs,
        error_score="raise",
    )


def _fit(
    search: Any, X: pd.DataFrame, y: Any, name: str, *, one_candidate: bool = True
) -> tuple[Any, float]:
    """Fit a search of candidate ``name`` (or of the race over the candidates ``name``)."""
    started = time.perf_counter()
    try:
        search.fit(X, y)
    except MlopsNbError:
        raise
    except Exception as error:
        count = search.n_iter if isinstance(search, RandomizedSearchCV) else len(search.param_grid)
        if one_candidate:
            what, candidate = f"Candidate {name!r}", name
        else:
            what, candidate = f"The halving search over candidates {name}", None
        raise ModelingError(
            f"{what} failed while cross-validating {count} setting(s): "
            f"{type(error).__name__}: {error}. Check the parameter spaces and the training "
            f"data, or leave a candidate out with candidates=[...].",
            candidate=candidate,
        ) from error
    return search, time.perf_counter() - started


def _refit_winner(search: Any, X: pd.DataFrame, y: Any) -> tuple[Pipeline, float]:
    """The race's best setting refitted on all training rows, and its seconds."""
    started = time.perf_counter()
    model: Pipeline = clone(search.estimator).set_params(**clone(search.best_params_, safe=False))
    try:
        model.fit(X, y)
    except Exception as error:
        raise ModelingError(
            f"The winning setting {_tables_params(search.best_params_)} failed to refit on all "
            f"{len(X)} training rows: {type(error).__name__}: {error}. Check the training data, "
            f"or leave its candidate out with candidates=[...].",
        ) from error
    return model, time.perf_counter() - started


def _tables_params(params: Mapping[str, Any]) -> dict[str, Any]:
    model = params.get("model")
    named = {"model": type(model).__name__} if model is not None else {}
    return {**named, **plain_params({k: v for k, v in params.items() if k != "model"})}


STRATEGIES = ("halving", "full")
"""How :func:`tune` tries its settings (module docstring)."""


def _strategy(strategy: Any) -> str:
    chosen = strategy.strip().lower() if isinstance(strategy, str) else strategy
    if chosen not in STRATEGIES:
        raise ModelingError(
            f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}; 'halving' races "
            "all settings on growing subsamples, 'full' cross-validates each on all rows.",
            parameter="strategy",
        )
    return str(chosen)
