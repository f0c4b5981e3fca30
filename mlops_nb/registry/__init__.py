"""The model registry: skops packages with signature, card and lineage; audited aliases.

>>> reg = Registry.from_settings(load_settings())
>>> mv = reg.register("churn", model, signature=contract, task="classification",
...                   target="churned", metrics={"roc_auc": 0.91}, data_version=snap.version,
...                   pipeline_run=run_id, training_run=train_id)
>>> reg.set_alias("churn", "production", mv.version, reason="first model")
>>> reg.load(*parse_model_ref("churn@production")).model.predict(X)

Each version is a folder ``outputs/registry/<name>/<version>/`` (model.skops,
signature.yaml, metadata.json, model_card.md/.html) and a row in the shared
SQLite database; every alias change is appended to an audit history.
"""

from mlops_nb.registry.card import render_card
from mlops_nb.registry.gate import PromotionDecision, decide_promotion
from mlops_nb.registry.names import (
    LATEST,
    parse_model_ref,
    validate_alias,
    validate_name,
)
from mlops_nb.registry.registry import LoadedModel, ModelVersion, Registry

__all__ = [
    "LATEST",
    "LoadedModel",
    "ModelVersion",
    "PromotionDecision",
    "Registry",
    "decide_promotion",
    "parse_model_ref",
    "render_card",
    "validate_alias",
    "validate_name",
]
