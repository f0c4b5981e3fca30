"""Describe the output features of a fitted feature transformer or pipeline."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils.validation import check_is_fitted

from mlops_nb.errors import PreparationError
from mlops_nb.features.select import FeatureSelector
from mlops_nb.features.steps import MissingFlags

KINDS = {"numeric": "numeric", "missing": "missing flag", "categorical": "one-hot"}
INFREQUENT_SUFFIX = "_infrequent_sklearn"


def feature_table(fitted: Pipeline | ColumnTransformer) -> pd.DataFrame:
    """List the output features with the column each comes from.

    Args:
        fitted: A fitted pipeline from :func:`build_feature_pipeline` (an
            estimator may follow its steps) or a fitted transformer from
            :func:`build_feature_transformer`.

    Returns:
        ``feature``, ``source`` (input column), ``kind`` (``numeric``,
        ``missing flag``, ``one-hot`` or ``one-hot (infrequent)``); with a
        selection step also ``selected`` and ``score``.

    Raises:
        sklearn.exceptions.NotFittedError: ``fitted`` is not fitted yet.
        PreparationError: ``fitted`` holds no ColumnTransformer.
    """
    transformer, selector = _parts(fitted)
    check_is_fitted(transformer)
    names = transformer.get_feature_names_out()
    rows: list[dict[str, Any]] = []
    for branch, step, columns in transformer.transformers_:
        out = names[transformer.output_indices_[branch]]
        if len(out) == 0:
            continue
        sources = _sources(step, list(columns), len(out))
        for feature, source in zip(out, sources, strict=True):
            rows.append({"feature": feature, "source": source, "kind": _kind(branch, feature)})
    table = pd.DataFrame(rows, columns=["feature", "source", "kind"])
    if selector is not None:
        check_is_fitted(selector, "support_")
        table["selected"] = selector.support_
        table["score"] = selector.scores_
    return table


def _parts(fitted: Any) -> tuple[ColumnTransformer, FeatureSelector | None]:
    if isinstance(fitted, ColumnTransformer):
        return fitted, None
    if isinstance(fitted, Pipeline):
        steps = [step for _, step in fitted.steps]
        if steps and isinstance(steps[0], ColumnTransformer):
            follow = steps[1] if len(steps) > 1 else None
            return steps[0], follow if isinstance(follow, FeatureSelector) else None
    raise PreparationError(
        f"feature_table() needs a ColumnTransformer or a Pipeline starting with one, "
        f"got {type(fitted).__name__}; pass the result of build_feature_pipeline().",
    )


def _sources(step: Any, columns: list[Any], count: int) -> list[Any]:
    last = step.steps[-1][1] if isinstance(step, Pipeline) else step
    if isinstance(last, OneHotEncoder):
        return list(np.repeat(np.asarray(columns, dtype=object), _outputs_per_input(last)))
    if isinstance(last, MissingFlags):
        return [columns[i] for i in last.features_]
    if count == len(columns):
        return columns
    return [None] * count


def _outputs_per_input(encoder: OneHotEncoder) -> list[int]:
    infrequent = getattr(encoder, "infrequent_categories_", [None] * len(encoder.categories_))
    dropped = getattr(encoder, "drop_idx_", None)
    counts = []
    for i, categories in enumerate(encoder.categories_):
        count = len(categories)
        if infrequent[i] is not None:
            count -= len(infrequent[i]) - 1
        if dropped is not None and dropped[i] is not None:
            count -= 1
        counts.append(count)
    return counts


def _kind(branch: str, feature: str) -> str:
    kind = KINDS.get(branch, branch)
    if kind == "one-hot" and feature.endswith(INFREQUENT_SUFFIX):
        return "one-hot (infrequent)"
    return kind
