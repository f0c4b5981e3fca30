"""mlops-nb: Jupyter-first MLOps.

Templates and users import from here (``import mlops_nb as mn``), not from deep
module paths. The subpackages (``mlops_nb.data``, ``mlops_nb.validation``, ...)
hold the rest.

Names are imported on first use (PEP 562), so ``import mlops_nb`` and the
``mlops-nb`` command start fast and a template pays only for what it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_nb.exports import lazy_getattr

__version__ = "0.1.0"

_EXPORTS = {
    "TRAINING_KEYS_FILE": "mlops_nb.registry.champion",
    "ChampionComparison": "mlops_nb.registry.champion",
    "ConfigError": "mlops_nb.errors",
    "ContractError": "mlops_nb.errors",
    "DataSourceError": "mlops_nb.errors",
    "DataValidationError": "mlops_nb.errors",
    "DriftDetector": "mlops_nb.monitoring",
    "DriftExplorer": "mlops_nb.widgets",
    "DriftReport": "mlops_nb.monitoring",
    "MlopsNbError": "mlops_nb.errors",
    "ModelNotFoundError": "mlops_nb.errors",
    "ModelingError": "mlops_nb.errors",
    "MonitoringError": "mlops_nb.monitoring",
    "PREDICTION_COLUMN": "mlops_nb.monitoring.loop",
    "PROFILE_FILE": "mlops_nb.monitoring.loop",
    "ParameterError": "mlops_nb.errors",
    "PerformanceReport": "mlops_nb.monitoring",
    "PipelineSpecError": "mlops_nb.errors",
    "PreparationError": "mlops_nb.errors",
    "ReferenceProfile": "mlops_nb.monitoring",
    "Registry": "mlops_nb.registry",
    "RegistryBrowser": "mlops_nb.widgets",
    "RegistryError": "mlops_nb.errors",
    "RunBrowser": "mlops_nb.widgets",
    "RunDiff": "mlops_nb.pipeline.compare",
    "RunError": "mlops_nb.errors",
    "RunNotFoundError": "mlops_nb.errors",
    "Settings": "mlops_nb.config",
    "SplitRule": "mlops_nb.prep.keys",
    "Stage": "mlops_nb.stage",
    "StageFailedError": "mlops_nb.errors",
    "StageInputError": "mlops_nb.errors",
    "TrackingStore": "mlops_nb.tracking",
    "apply_decision": "mlops_nb.registry.promotion",
    "before_after": "mlops_nb.prep",
    "build_bundle": "mlops_nb.serving",
    "build_feature_pipeline": "mlops_nb.features",
    "cleanse": "mlops_nb.prep",
    "compare_models": "mlops_nb.modeling",
    "compare_runs": "mlops_nb.pipeline.compare",
    "contract_summary": "mlops_nb.validation",
    "decide_promotion": "mlops_nb.registry",
    "drift_figure": "mlops_nb.monitoring",
    "drift_overview_figure": "mlops_nb.monitoring",
    "ensure_same_problem": "mlops_nb.registry.promotion",
    "evaluate": "mlops_nb.modeling",
    "evaluation_figures": "mlops_nb.modeling",
    "feature_table": "mlops_nb.features",
    "find_contract": "mlops_nb.validation",
    "find_version": "mlops_nb.registry.promotion",
    "generate_churn": "mlops_nb.data",
    "infer_contract": "mlops_nb.validation",
    "infer_feature_types": "mlops_nb.features",
    "infer_task": "mlops_nb.data",
    "input_contract": "mlops_nb.validation",
    "judge_challenger": "mlops_nb.registry.champion",
    "load_contract": "mlops_nb.validation",
    "load_current_data": "mlops_nb.monitoring.loop",
    "load_settings": "mlops_nb.config",
    "load_source": "mlops_nb.data",
    "model_name_for": "mlops_nb.registry.promotion",
    "monitor_decision": "mlops_nb.monitoring.loop",
    "parse_model_ref": "mlops_nb.registry",
    "performance_check": "mlops_nb.monitoring",
    "predict_file": "mlops_nb.serving",
    "prediction_scores": "mlops_nb.monitoring.loop",
    "previous_run": "mlops_nb.pipeline.compare",
    "primary_metric": "mlops_nb.modeling",
    "profile": "mlops_nb.data",
    "read_inference_log": "mlops_nb.serving",
    "redact": "mlops_nb.data",
    "reference_frame": "mlops_nb.monitoring.loop",
    "require_target": "mlops_nb.data",
    "retraining_frame": "mlops_nb.monitoring.loop",
    "retraining_outcome": "mlops_nb.monitoring.loop",
    "row_keys": "mlops_nb.prep.keys",
    "run_pipeline": "mlops_nb.pipeline.runner",
    "save_contract": "mlops_nb.validation",
    "score_frame": "mlops_nb.serving",
    "slice_metrics": "mlops_nb.modeling",
    "snapshot": "mlops_nb.data",
    "split": "mlops_nb.prep",
    "standardize": "mlops_nb.prep",
    "start_server": "mlops_nb.serving",
    "summary": "mlops_nb.data",
    "training_contract": "mlops_nb.monitoring.loop",
    "tune": "mlops_nb.modeling",
    "validate": "mlops_nb.validation",
}

__all__ = [
    "PREDICTION_COLUMN",
    "PROFILE_FILE",
    "TRAINING_KEYS_FILE",
    "ChampionComparison",
    "ConfigError",
    "ContractError",
    "DataSourceError",
    "DataValidationError",
    "DriftDetector",
    "DriftExplorer",
    "DriftReport",
    "MlopsNbError",
    "ModelNotFoundError",
    "ModelingError",
    "MonitoringError",
    "ParameterError",
    "PerformanceReport",
    "PipelineSpecError",
    "PreparationError",
    "ReferenceProfile",
    "Registry",
    "RegistryBrowser",
    "RegistryError",
    "RunBrowser",
    "RunDiff",
    "RunError",
    "RunNotFoundError",
    "Settings",
    "SplitRule",
    "Stage",
    "StageFailedError",
    "StageInputError",
    "TrackingStore",
    "__version__",
    "apply_decision",
    "before_after",
    "build_bundle",
    "build_feature_pipeline",
    "cleanse",
    "compare_models",
    "compare_runs",
    "contract_summary",
    "decide_promotion",
    "drift_figure",
    "drift_overview_figure",
    "ensure_same_problem",
    "evaluate",
    "evaluation_figures",
    "feature_table",
    "find_contract",
    "find_version",
    "generate_churn",
    "infer_contract",
    "infer_feature_types",
    "infer_task",
    "input_contract",
    "judge_challenger",
    "load_contract",
    "load_current_data",
    "load_settings",
    "load_source",
    "model_name_for",
    "monitor_decision",
    "parse_model_ref",
    "performance_check",
    "predict_file",
    "prediction_scores",
    "previous_run",
    "primary_metric",
    "profile",
    "read_inference_log",
    "redact",
    "reference_frame",
    "require_target",
    "retraining_frame",
    "retraining_outcome",
    "row_keys",
    "run_pipeline",
    "save_contract",
    "score_frame",
    "slice_metrics",
    "snapshot",
    "split",
    "standardize",
    "start_server",
    "summary",
    "training_contract",
    "tune",
    "validate",
]


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from mlops_nb.config import Settings, load_settings
    from mlops_nb.data import (
        generate_churn,
        infer_task,
        load_source,
        profile,
        redact,
        require_target,
        snapshot,
        summary,
    )
    from mlops_nb.errors import (
        ConfigError,
        ContractError,
        DataSourceError,
        DataValidationError,
        MlopsNbError,
        ModelingError,
        ModelNotFoundError,
        ParameterError,
        PipelineSpecError,
        PreparationError,
        RegistryError,
        RunError,
        RunNotFoundError,
        StageFailedError,
        StageInputError,
    )
    from mlops_nb.features import build_feature_pipeline, feature_table, infer_feature_types
    from mlops_nb.modeling import (
        compare_models,
        evaluate,
        evaluation_figures,
        primary_metric,
        slice_metrics,
        tune,
    )
    from mlops_nb.monitoring import (
        DriftDetector,
        DriftReport,
        MonitoringError,
        PerformanceReport,
        ReferenceProfile,
        drift_figure,
        drift_overview_figure,
        performance_check,
    )
    from mlops_nb.monitoring.loop import (
        PREDICTION_COLUMN,
        PROFILE_FILE,
        load_current_data,
        monitor_decision,
        prediction_scores,
        reference_frame,
        retraining_frame,
        retraining_outcome,
        training_contract,
    )
    from mlops_nb.pipeline.compare import RunDiff, compare_runs, previous_run
    from mlops_nb.pipeline.runner import run_pipeline
    from mlops_nb.prep import before_after, cleanse, split, standardize
    from mlops_nb.prep.keys import SplitRule, row_keys
    from mlops_nb.registry import Registry, decide_promotion, parse_model_ref
    from mlops_nb.registry.champion import (
        TRAINING_KEYS_FILE,
        ChampionComparison,
        judge_challenger,
    )
    from mlops_nb.registry.promotion import (
        apply_decision,
        ensure_same_problem,
        find_version,
        model_name_for,
    )
    from mlops_nb.serving import (
        build_bundle,
        predict_file,
        read_inference_log,
        score_frame,
        start_server,
    )
    from mlops_nb.stage import Stage
    from mlops_nb.tracking import TrackingStore
    from mlops_nb.validation import (
        contract_summary,
        find_contract,
        infer_contract,
        input_contract,
        load_contract,
        save_contract,
        validate,
    )
    from mlops_nb.widgets import DriftExplorer, RegistryBrowser, RunBrowser
