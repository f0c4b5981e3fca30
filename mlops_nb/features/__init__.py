"""Features: decide column kinds, build the transformer, select features.

Typical notebook flow::

    types = infer_feature_types(train, target)
    pipe = build_feature_pipeline(types, task, selection="mutual_info", k=20)
    pipe.fit(train.drop(columns=target), train[target])
    feature_table(pipe)
"""

from mlops_nb.features.build import build_feature_pipeline, build_feature_transformer
from mlops_nb.features.select import FeatureSelector, SelectionResult, select_features
from mlops_nb.features.steps import MissingFlags, TextCategories
from mlops_nb.features.table import feature_table
from mlops_nb.features.types import FeatureTypes, infer_feature_types

__all__ = [
    "FeatureSelector",
    "FeatureTypes",
    "MissingFlags",
    "SelectionResult",
    "TextCategories",
    "build_feature_pipeline",
    "build_feature_transformer",
    "feature_table",
    "infer_feature_types",
    "select_features",
]
