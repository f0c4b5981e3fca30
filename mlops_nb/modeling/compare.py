"""Several models scored on the same rows: champion vs challenger.

The promotion decision itself belongs to the registry; this module gives it
the table and the signed margin::

    table = compare_models({"challenger": best, "champion": production}, X_test, y_test, task)
    metrics = table.set_index("model")
    margin = score_difference(metrics.loc["challenger"], metrics.loc["champion"], "roc_auc")
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from mlops_nb.errors import ModelingError
from mlops_nb.modeling._checks import check_data, check_task
from mlops_nb.modeling.metrics import Metric, check_metric, metric_names, metric_values
from mlops_nb.modeling.predictions import Predictions, check_predictions, predict

__all__ = ["compare_models", "score_difference"]


def compare_models(
    models: Mapping[str, Any],
    X: Any,
    y: Any,
    task: str,
    *,
    predictions: Mapping[str, Predictions] | None = None,
) -> pd.DataFrame:
    """Score each model on the same labelled rows.

    Args:
        models: Name -> fitted pipeline taking the raw columns of ``X``; a
            ``None`` model (e.g. no champion yet) gets a row of NaN metrics
            and the note ``"no model"``.
        X: Feature rows (DataFrame), e.g. the holdout.
        y: True target, one value per row.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        predictions: Name -> that model's :func:`~mlops_nb.modeling.predict`
            of these same rows, made already; those models are not asked to
            predict again.

    Returns:
        One row per model, in the given order: ``model``, ``n``, the task's
        metrics (see :func:`~mlops_nb.modeling.evaluate`) and ``note``.

    Raises:
        ModelingError: no model, bad ``X``/``y``, a model that cannot
            predict ``X`` (the message names it), or given predictions of other
            rows or of no listed model.
    """
    check_task(task)
    X, _ = check_data(X, y, where="compare_models")
    if not models:
        raise ModelingError(
            "compare_models got no models; pass e.g. {'challenger': model}.",
            parameter="models",
        )
    known = dict(predictions or {})
    stray = sorted(map(str, set(known) - set(models)))
    if stray:
        raise ModelingError(
            f"compare_models got predictions for {', '.join(map(repr, stray))}, which "
            f"models does not list; its models are {', '.join(map(repr, models))}.",
            parameter="predictions",
        )
    rows = [_row(str(name), model, X, y, task, known.get(name)) for name, model in models.items()]
    return pd.DataFrame(rows, columns=["model", "n", *metric_names(task), "note"])


def _row(
    name: str, model: Any, X: pd.DataFrame, y: Any, task: str, made: Predictions | None
) -> dict[str, Any]:
    if model is None:
        nan = dict.fromkeys(metric_names(task), float("nan"))
        return {"model": name, "n": len(X), **nan, "note": "no model"}
    if made is None:
        made = predict(model, X, y, task, name=name)
    else:
        made = check_predictions(made, y, task, where=f"compare_models, {name}")
    return {"model": name, **metric_values(made), "note": ""}


def score_difference(
    challenger_metrics: Mapping[str, Any], champion_metrics: Mapping[str, Any], metric: Metric | str
) -> float:
    """How much better the challenger scores than the champion on ``metric``.

    Positive means the challenger is better whatever the metric's direction:
    for ``rmse`` 0.9 against a champion's 1.0 gives ``+0.1``. NaN when either
    value is missing or NaN (e.g. there is no champion).

    Args:
        challenger_metrics: Metrics of the challenger (a dict, or a row of
            :func:`compare_models`' table).
        champion_metrics: Metrics of the champion, same keys.
        metric: A :class:`Metric` or a metric name (e.g. ``"roc_auc"``).

    Raises:
        ModelingError: an unknown metric name.
    """
    chosen = check_metric(metric)
    challenger = _value(challenger_metrics, chosen.name)
    champion = _value(champion_metrics, chosen.name)
    if math.isnan(challenger) or math.isnan(champion):
        return float("nan")
    return chosen.sign * (challenger - champion)


def _value(metrics: Mapping[str, Any], name: str) -> float:
    value = metrics.get(name) if metrics is not None else None
    return float("nan") if value is None else float(value)
