"""Modeling: tune candidate estimators, evaluate the best, compare with the champion.

Typical notebook flow (train, then evaluate)::

    features = build_feature_pipeline(infer_feature_types(train, target), task)
    result = tune(features, X_train, y_train, task, budget=6, seed=seed)
    result.leaderboard                              # one row per candidate, best first
    evaluate(result.best_estimator, X_test, y_test, task)
    evaluation_figures(result.best_estimator, X_test, y_test, task)
    slice_metrics(result.best_estimator, X_test, y_test, task, "region")
    segment_rows(train, test, "region", "north", target=target, task=task)   # one model per segment
    tune(..., parallel="dask", scheduler="tcp://host:8786")   # the fits as tasks on a Dask cluster
    compare_models({"challenger": result.best_estimator, "champion": production},
                   X_test, y_test, task)
"""

from mlops_nb.modeling.candidates import Candidate, candidate_names, candidate_space
from mlops_nb.modeling.compare import compare_models, score_difference
from mlops_nb.modeling.metrics import (
    HIGHER_IS_BETTER,
    Metric,
    evaluate,
    metric_names,
    metric_values,
    primary_metric,
)
from mlops_nb.modeling.plots import (
    confusion_matrix_figure,
    evaluation_figures,
    predictions_figures,
    residuals_figure,
    roc_pr_figure,
)
from mlops_nb.modeling.predictions import Predictions, check_predictions, predict
from mlops_nb.modeling.segments import (
    SEGMENT_PREFIX,
    SegmentManifests,
    SegmentRows,
    segment_manifests,
    segment_rows,
    segment_value,
    segments_figure,
    segments_table,
)
from mlops_nb.modeling.slices import slice_metrics
from mlops_nb.modeling.tuning import TuningResult, resolve_parallel, tune

__all__ = [
    "HIGHER_IS_BETTER",
    "SEGMENT_PREFIX",
    "Candidate",
    "Metric",
    "Predictions",
    "SegmentManifests",
    "SegmentRows",
    "TuningResult",
    "candidate_names",
    "candidate_space",
    "check_predictions",
    "compare_models",
    "confusion_matrix_figure",
    "evaluate",
    "evaluation_figures",
    "metric_names",
    "metric_values",
    "predict",
    "predictions_figures",
    "primary_metric",
    "residuals_figure",
    "resolve_parallel",
    "roc_pr_figure",
    "score_difference",
    "segment_manifests",
    "segment_rows",
    "segment_value",
    "segments_figure",
    "segments_table",
    "slice_metrics",
    "tune",
]
