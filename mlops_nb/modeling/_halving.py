"""The halving race of :func:`~mlops_nb.modeling.tune`: every candidate's settings in one pool.

The settings are the same ones the full search tries (each candidate's share
of the budget, sampled with the same seed), put in one grid so they race
against each other: the first rung cross-validates all of them on a random
subsample of the training rows, and each next rung keeps the best
``1/factor`` of them on ``factor`` times more rows, up to ``search_rows``
rows (scikit-learn's ``HalvingGridSearchCV`` with ``resource="n_samples"``).
A weak candidate is dropped after a fit on a fraction of the rows instead of
full cross-validation; above ``search_rows`` the search no longer grows with
the data, only the one refit of the winner on all training rows does.

Scores of settings dropped at an early rung are on fewer rows than the
winner's: the tables rank by the rung reached first, then by score, and say
how many rows each score stands on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingGridSearchCV, ParameterSampler
from sklearn.pipeline import Pipeline

from mlops_nb.modeling._tables import plain_params
from mlops_nb.modeling.candidates import Candidate
from mlops_nb.modeling.metrics import Metric

__all__ = ["Race", "race_search", "race_tables"]

SEARCH_ROWS = 100_000
"""Default most rows a setting is cross-validated on (the last rung's subsample)."""
FACTOR = 3
"""Default rung factor: each rung keeps a third of the settings on three times the rows."""


class Race:
    """The pooled settings of a halving search and which candidate owns each.

    Attributes:
        grid: ``HalvingGridSearchCV`` parameter grid, one single-valued dict
            per setting (``model`` is the candidate's own estimator clone).
        owners: Per setting, ``(candidate name, 1-based trial within it)``.
    """

    def __init__(self, candidates: Mapping[str, Candidate], shares: Mapping[str, int], seed: int):
        self.grid: list[dict[str, list[Any]]] = []
        self.owners: list[tuple[str, int]] = []
        self._owner_of: dict[int, int] = {}
        for name, candidate in candidates.items():
            settings = ParameterSampler(
                candidate.param_distributions, n_iter=shares[name], random_state=seed
            )
            for trial, setting in enumerate(settings, start=1):
                model = clone(candidate.estimator)
                self._owner_of[id(model)] = len(self.owners)
                self.grid.append({"model": [model], **{k: [v] for k, v in setting.items()}})
                self.owners.append((name, trial))

    def setting_of(self, params: Mapping[str, Any]) -> int:
        """Index of the setting a ``cv_results_["params"]`` entry stands for."""
        return self._owner_of[id(params["model"])]


def race_search(
    features: Pipeline,
    race: Race,
    splitter: Any,
    metric: Metric,
    *,
    seed: int,
    n_jobs: int,
    rows: int,
    search_rows: int,
    factor: int,
    rarest: int | None = None,
) -> HalvingGridSearchCV:
    """The unfitted halving search over ``race``, without refit (the caller refits once).

    ``rarest`` (classification) is the row count of the rarest class in the
    ``rows`` training rows: the first rung is made large enough to hold about
    :data:`RARE_ROWS` rows of it, because a rung's subsample is drawn without
    stratification and a fold without a class cannot be fitted or scored.
    When that leaves no room for halving, the race has fewer rungs (one: every
    setting on ``search_rows`` rows, as the full search on those rows).
    """
    top = min(rows, search_rows)
    first_model = race.grid[0]["model"][0]
    steps = [*clone(features).steps, ("model", clone(first_model))]
    return HalvingGridSearchCV(
        Pipeline(steps),
        race.grid,
        factor=factor,
        resource="n_samples",
        max_resources=top,
        min_resources=first_rung(len(race.grid), top, factor, rows, rarest),
        scoring=metric.scorer,
        cv=splitter,
        refit=False,
        random_state=seed,
        n_jobs=n_jobs,
        error_score="raise",
    )


RARE_ROWS = 30
"""Rows of the rarest class a first rung's subsample is sized to hold (on average)."""


def first_rung(settings: int, top: int, factor: int, rows: int, rarest: int | None) -> int:
    """Rows of the first rung: the last rung gets ``top`` rows, unless a rare class needs more.

    As scikit-learn's ``min_resources="exhaust"``: ``top`` divided by ``factor``
    once per rung the settings need, but at least enough rows to expect
    :data:`RARE_ROWS` rows of the rarest class, and never more than ``top``.
    """
    rungs = 1  # 1 + floor(log_factor(settings)), in integers
    while factor**rungs <= settings:
        rungs += 1
    exhaust = top // int(factor ** (rungs - 1))
    needed = -(-RARE_ROWS * rows // rarest) if rarest else 0  # ceiling division
    return max(1, min(top, max(exhaust, needed)))


def race_tables(
    search: HalvingGridSearchCV, race: Race, metric: Metric, n_splits: int, refit_seconds: float
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Trials (one row per setting, at its last rung), the leaderboard and the winner's name.

    ``refit_seconds`` (the winner's refit on all rows) is added to the
    winner's ``fit_seconds`` on the leaderboard.
    """
    results = search.cv_results_
    last: dict[int, int] = {}
    fit_seconds = np.zeros(len(race.owners))
    for row, params in enumerate(results["params"]):
        setting = race.setting_of(params)
        last[setting] = row  # rungs are in order: the last row seen is the highest rung
        fit_seconds[setting] += results["mean_fit_time"][row] * n_splits
    ordered = sorted(last)
    rows = [last[setting] for setting in ordered]
    trials = pd.DataFrame(
        {
            "candidate": [race.owners[s][0] for s in ordered],
            "trial": [race.owners[s][1] for s in ordered],
            "params": [_setting_params(results["params"][r]) for r in rows],
            "mean_cv_score": metric.sign * results["mean_test_score"][rows],
            "std_cv_score": results["std_test_score"][rows],
            "fit_seconds": fit_seconds[ordered],
            "rung": results["iter"][rows].astype(int),
            "rows": results["n_resources"][rows].astype(int),
        }
    )
    trials["rank"] = _ranks(trials, metric)
    winner = race.owners[race.setting_of(results["params"][search.best_index_])][0]
    board_rows = []
    for name in dict.fromkeys(trials["candidate"]):
        own = trials.loc[trials["candidate"] == name]
        best = own.loc[own["rank"].idxmin()]
        board_rows.append(
            {
                "candidate": name,
                "cv_score": float(best["mean_cv_score"]),
                "cv_std": float(best["std_cv_score"]),
                "n_trials": len(own),
                "fit_seconds": float(own["fit_seconds"].sum())
                + (refit_seconds if name == winner else 0.0),
                "params": best["params"],
                "rows": int(best["rows"]),
                "_rank": int(best["rank"]),
            }
        )
    board = pd.DataFrame(board_rows).sort_values("_rank", kind="stable").drop(columns="_rank")
    board.insert(0, "rank", np.arange(1, len(board) + 1))
    return trials.reset_index(drop=True), board.reset_index(drop=True), winner


def _setting_params(params: Mapping[str, Any]) -> dict[str, Any]:
    return plain_params({key: value for key, value in params.items() if key != "model"})


def _ranks(trials: pd.DataFrame, metric: Metric) -> pd.Series:
    """1 = best: a higher rung first, then the better score (ties share a rank; NaN is worst)."""
    score = (trials["mean_cv_score"] * (-1 if metric.higher_is_better else 1)).fillna(np.inf)
    keys = list(zip(-trials["rung"], score, strict=True))
    return pd.Series(
        [1 + sum(1 for other in keys if other < key) for key in keys], index=trials.index, dtype=int
    )
