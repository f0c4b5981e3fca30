"""mlops-nb: Jupyter-first MLOps.

Templates and users import from here (``import mlops_nb as mn``), not from deep
module paths. The subpackages (``mlops_nb.data``, ``mlops_nb.validation``, ...)
hold the rest.
"""

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
    ModelingError,
    ModelNotFoundError,
    RegistryError,
    DataSourceError,
    DataValidationError,
    MlopsNbError,
    ParameterError,
    PipelineSpecError,
    PreparationError,
    RunError,
    RunNotFoundError,
    StageFailedError,
    StageInputError,
)
from mlops_nb.features import (
    build_feature_pipeline,
    feature_table,
    infer_feature_types,
)
from mlops_nb.modeling import (
    compare_models,
    evaluate,
    evaluation_figures,
    primary_metric,
    slice_metrics,
    tune,
)
from mlops_nb.prep import before_after, cleanse, split, standardize
from mlops_nb.registry import Registry, decide_promotion, parse_model_ref
from mlops_nb.registry.promotion import (
    apply_decision,
    ensure_same_problem,
    find_version,
    model_name_for,
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

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ContractError",
    "DataSourceError",
    "DataValidationError",
    "MlopsNbError",
    "ModelNotFoundError",
    "ModelingError",
    "ParameterError",
    "PipelineSpecError",
    "PreparationError",
    "Registry",
    "RegistryError",
    "RunError",
    "RunNotFoundError",
    "Settings",
    "Stage",
    "StageFailedError",
    "StageInputError",
    "TrackingStore",
    "__version__",
    "apply_decision",
    "before_after",
    "build_feature_pipeline",
    "cleanse",
    "compare_models",
    "contract_summary",
    "decide_promotion",
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
    "load_contract",
    "load_settings",
    "load_source",
    "model_name_for",
    "parse_model_ref",
    "primary_metric",
    "profile",
    "redact",
    "require_target",
    "save_contract",
    "slice_metrics",
    "snapshot",
    "split",
    "standardize",
    "summary",
    "tune",
    "validate",
]
