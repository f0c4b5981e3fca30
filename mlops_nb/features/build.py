"""Build the (unfitted) feature transformer and feature pipeline.

The transformer has up to three branches, each fitted on the training rows
only, so nothing about the test rows leaks into the model:

* ``numeric``: median imputation -> :class:`~mlops_nb.prep.OutlierClipper`
  -> standard scaling;
* ``missing``: a 0/1 flag per numeric column that had missing training
  values (:class:`~mlops_nb.features.steps.MissingFlags`);
* ``categorical``: values as text -> missing as ``"missing"`` -> one-hot
  encoding, where categories beyond ``max_categories`` and categories never
  seen in training share the ``infrequent`` column (or, when there is no such
  column, encode as all zeros) instead of failing.

Outputs are DataFrames named ``<branch>__<column>`` (one-hot columns
``categorical__<column>_<category>``). Columns not listed in the
:class:`~mlops_nb.features.types.FeatureTypes` (identifiers, the target...)
are dropped.

Saving: fitted transformers and pipelines hold only scikit-learn, NumPy and
mlops_nb types, so they load under the package's one trust policy,
:func:`mlops_nb.artifacts.trusted_types`.
"""

from __future__ import annotations

from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops_nb.errors import PreparationError
from mlops_nb.features.select import FeatureSelector, check_selection
from mlops_nb.features.steps import MissingFlags, TextCategories
from mlops_nb.features.types import FeatureTypes
from mlops_nb.prep.outliers import OutlierClipper
from mlops_nb.prep.split import check_task

OUTLIER_OPTIONS = ("iqr", "quantile", "none")
MISSING_CATEGORY = "missing"


def build_feature_transformer(
    types: FeatureTypes,
    *,
    outliers: str = "iqr",
    outlier_factor: float = 3.0,
    scale: bool = True,
    max_categories: int | None = 20,
    missing_indicator: bool = True,
) -> ColumnTransformer:
    """Return an unfitted transformer from raw feature columns to numbers.

    Args:
        types: Which columns are numeric and categorical features.
        outliers: ``"iqr"`` or ``"quantile"`` clipping of numeric features
            (see :class:`~mlops_nb.prep.OutlierClipper`), or ``"none"``.
        outlier_factor: IQR multiplier for ``outliers="iqr"``.
        scale: Standardise numeric features (mean 0, variance 1).
        max_categories: Most one-hot columns per categorical feature,
            including the shared ``infrequent`` one; ``None``: no limit.
        missing_indicator: Add the ``missing`` branch of 0/1 flags.

    Raises:
        PreparationError: no feature column, or an unknown ``outliers``.
    """
    if not types.features:
        dropped = ", ".join(f"{c} ({why})" for c, why in types.dropped.items()) or "none"
        raise PreparationError(
            f"No feature columns to transform; dropped: {dropped}. "
            "List columns explicitly with infer_feature_types(numeric=..., categorical=...).",
        )
    branches = []
    if types.numeric:
        numeric = _numeric_steps(outliers, outlier_factor, scale)
        branches.append(("numeric", numeric, list(types.numeric)))
        if missing_indicator:
            branches.append(("missing", MissingFlags(), list(types.numeric)))
    if types.categorical:
        branches.append(
            ("categorical", _categorical_steps(max_categories), list(types.categorical))
        )
    transformer = ColumnTransformer(branches, remainder="drop", verbose_feature_names_out=True)
    return transformer.set_output(transform="pandas")


def build_feature_pipeline(
    types: FeatureTypes,
    task: str,
    *,
    selection: str = "none",
    k: int | None = None,
    min_importance: float = 0.0,
    seed: int = 0,
    **transformer_options: Any,
) -> Pipeline:
    """Return an unfitted ``Pipeline([("transform", ...), ("select", ...)])``.

    Append an estimator to it (``Pipeline([*pipe.steps, ("model", est)])``)
    to train; selection is then fitted on the training rows with the rest.

    Args:
        types: Feature columns, see :func:`infer_feature_types`.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        selection: ``"none"``, ``"mutual_info"`` or ``"variance"``
            (see :mod:`mlops_nb.features.select`).
        k: Keep at most ``k`` transformed features.
        min_importance: Minimum selection score to keep a feature.
        seed: Random seed of the selection.
        **transformer_options: Passed to :func:`build_feature_transformer`.
    """
    check_task(task)
    check_selection(selection, task, k)
    transformer = build_feature_transformer(types, **transformer_options)
    selector = FeatureSelector(
        method=selection, task=task, k=k, min_importance=min_importance, seed=seed
    )
    pipeline = Pipeline([("transform", transformer), ("select", selector)])
    return pipeline.set_output(transform="pandas")


def _numeric_steps(outliers: str, factor: float, scale: bool) -> Pipeline:
    if outliers not in OUTLIER_OPTIONS:
        raise PreparationError(
            f"Unknown outliers option {outliers!r}; use one of {', '.join(OUTLIER_OPTIONS)}.",
            parameter="outliers",
        )
    steps: list[tuple[str, object]] = [
        ("impute", SimpleImputer(strategy="median", keep_empty_features=True))
    ]
    if outliers != "none":
        steps.append(("clip", OutlierClipper(method=outliers, factor=factor)))
    if scale:
        steps.append(("scale", StandardScaler()))
    return Pipeline(steps)


def _categorical_steps(max_categories: int | None) -> Pipeline:
    encoder = OneHotEncoder(
        handle_unknown="infrequent_if_exist",
        max_categories=max_categories,
        sparse_output=False,
    )
    imputer = SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)
    return Pipeline([("text", TextCategories()), ("impute", imputer), ("encode", encoder)])
