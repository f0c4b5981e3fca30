"""mlops-nb: Jupyter-first MLOps.

Templates and users import from here, not from deep module paths.
"""

from mlops_nb.config import Settings, load_settings
from mlops_nb.errors import (
    ConfigError,
    ContractError,
    DataSourceError,
    DataValidationError,
    MlopsNbError,
    ParameterError,
    PipelineSpecError,
    RunError,
    RunNotFoundError,
    StageFailedError,
    StageInputError,
)
from mlops_nb.stage import Stage

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "ContractError",
    "DataSourceError",
    "DataValidationError",
    "MlopsNbError",
    "ParameterError",
    "PipelineSpecError",
    "RunError",
    "RunNotFoundError",
    "Settings",
    "Stage",
    "StageFailedError",
    "StageInputError",
    "__version__",
    "load_settings",
]
