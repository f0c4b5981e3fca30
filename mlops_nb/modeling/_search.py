"""Budget sharing and cross-validation folds for :func:`~mlops_nb.modeling.tune`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold

from mlops_nb.errors import ModelingError
from mlops_nb.modeling._checks import is_classification


def check_count(value: Any, name: str, minimum: int, example: str = "") -> int:
    """Return ``value`` if it is an int of at least ``minimum``, else raise ModelingError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ModelingError(
            f"{name} must be an integer of at least {minimum}, got {value!r}; "
            f"pass e.g. {example or f'{name}={max(minimum, 3)}'}.",
            parameter=name,
        )
    return int(value)


def space_size(distributions: Mapping[str, Any]) -> float:
    """Number of distinct settings in a search space (``inf`` if any is continuous)."""
    sizes = [
        len(values) if isinstance(values, Sequence) and not isinstance(values, str) else math.inf
        for values in distributions.values()
    ]
    return math.prod(sizes)


def share_budget(budget: int, sizes: Mapping[str, float]) -> tuple[dict[str, int], list[str]]:
    """Split ``budget`` trials between candidates: one each, then round-robin.

    A candidate never gets more trials than its space has settings. Returns
    the trials per candidate and notes when the total differs from ``budget``.
    """
    shares = {name: 1 for name in sizes}
    left = budget - len(shares)
    while left > 0:
        open_names = [name for name in shares if shares[name] < sizes[name]]
        if not open_names:
            break
        for name in open_names[:left]:
            shares[name] += 1
        left -= len(open_names[:left])
    total = sum(shares.values())
    notes = []
    if total > budget:
        notes.append(
            f"budget={budget} is less than the {len(shares)} candidates: each was tried "
            f"once ({total} trials); raise budget or choose fewer candidates."
        )
    elif total < budget:
        notes.append(
            f"the candidates' parameter spaces hold only {total} settings; tried each "
            f"once instead of budget={budget}."
        )
    return shares, notes


def cv_splitter(y: Any, task: str, cv: int, seed: int) -> tuple[Any, list[str]]:
    """Shuffled folds: stratified for classification, plain K-fold for regression.

    Classification uses fewer folds than ``cv`` when the rarest class has
    fewer rows than ``cv`` (and says so in the returned notes).

    Raises:
        ModelingError: a class with a single row, or fewer rows than folds.
    """
    target = pd.Series(np.asarray(y))
    if not is_classification(task):
        if len(target) < cv:
            raise ModelingError(
                f"{len(target)} training rows cannot make cv={cv} folds; lower cv or add rows.",
                parameter="cv",
            )
        return KFold(n_splits=cv, shuffle=True, random_state=seed), []
    counts = target.value_counts()
    rarest, smallest = counts.index[-1], int(counts.iloc[-1])
    if smallest < 2:
        raise ModelingError(
            f"Class {rarest!r} has a single training row, too few to cross-validate; "
            "drop or merge that class, or collect more rows.",
            parameter="cv",
        )
    folds = min(cv, smallest)
    notes = (
        []
        if folds == cv
        else [f"cv reduced from {cv} to {folds} folds: class {rarest!r} has only {smallest} rows."]
    )
    return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed), notes
