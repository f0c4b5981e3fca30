"""Trial and leaderboard tables of :func:`~mlops_nb.modeling.tune`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import RandomizedSearchCV

from mlops_nb.jsonvalues import scalar
from mlops_nb.modeling.metrics import Metric

PREFIX = "model__"


def plain_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters without the ``model__`` prefix, numpy scalars as Python values."""
    return {key.removeprefix(PREFIX): scalar(value) for key, value in params.items()}


def trials_table(
    searches: Mapping[str, RandomizedSearchCV], metric: Metric, n_splits: int, rows: int
) -> pd.DataFrame:
    """One row per setting tried, ranked over all candidates (1 = best).

    ``rung`` is 0 and ``rows`` is ``rows`` (all training rows) for every
    setting: the columns are those of the halving race's table.
    """
    frames = []
    for name, search in searches.items():
        results = search.cv_results_
        frames.append(
            pd.DataFrame(
                {
                    "candidate": name,
                    "trial": np.arange(1, len(results["params"]) + 1),
                    "params": [plain_params(p) for p in results["params"]],
                    "mean_cv_score": metric.sign * results["mean_test_score"],
                    "std_cv_score": results["std_test_score"],
                    "fit_seconds": results["mean_fit_time"] * n_splits,
                    "rung": 0,
                    "rows": rows,
                }
            )
        )
    trials = pd.concat(frames, ignore_index=True)
    ranks = trials["mean_cv_score"].rank(ascending=not metric.higher_is_better, method="min")
    trials["rank"] = ranks.astype(int)
    return trials


def leaderboard_table(
    searches: Mapping[str, tuple[RandomizedSearchCV, float]], metric: Metric, n_rows: int
) -> pd.DataFrame:
    """One row per candidate (its best setting), best first; ties keep candidate order."""
    rows = []
    for name, (search, seconds) in searches.items():
        best = search.best_index_
        rows.append(
            {
                "candidate": name,
                "cv_score": float(metric.sign * search.cv_results_["mean_test_score"][best]),
                "cv_std": float(search.cv_results_["std_test_score"][best]),
                "n_trials": len(search.cv_results_["params"]),
                "fit_seconds": seconds,
                "params": plain_params(search.best_params_),
                "rows": n_rows,
            }
        )
    board = pd.DataFrame(rows).sort_values(
        "cv_score", ascending=not metric.higher_is_better, kind="stable"
    )
    board.insert(0, "rank", np.arange(1, len(board) + 1))
    return board.reset_index(drop=True)
