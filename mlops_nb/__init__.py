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
from mlops_nb.prep import before_after, cleanse, split, standardize
from mlops_nb.stage import Stage
from mlops_nb.validation import (
    contract_summary,
    find_contract,
    infer_contract,
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
    "ParameterError",
    "PipelineSpecError",
    "PreparationError",
    "RunError",
    "RunNotFoundError",
    "Settings",
    "Stage",
    "StageFailedError",
    "StageInputError",
    "__version__",
    "before_after",
    "build_feature_pipeline",
    "cleanse",
    "contract_summary",
    "feature_table",
    "find_contract",
    "generate_churn",
    "infer_contract",
    "infer_feature_types",
    "infer_task",
    "load_contract",
    "load_settings",
    "load_source",
    "profile",
    "redact",
    "require_target",
    "save_contract",
    "snapshot",
    "split",
    "standardize",
    "summary",
    "validate",
]
