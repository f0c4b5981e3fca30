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

Names are imported on first use (PEP 562), so a reader of decision.json
(:mod:`mlops_nb.registry.gate`) does not load scikit-learn and skops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_nb.exports import lazy_getattr

_EXPORTS = {
    "LATEST": "mlops_nb.registry.names",
    "LoadedModel": "mlops_nb.registry.versions",
    "ModelVersion": "mlops_nb.registry.versions",
    "PromotionDecision": "mlops_nb.registry.gate",
    "PromotionRecord": "mlops_nb.registry.gate",
    "Registry": "mlops_nb.registry.registry",
    "decide_promotion": "mlops_nb.registry.gate",
    "parse_model_ref": "mlops_nb.registry.names",
    "render_card": "mlops_nb.registry.card",
    "validate_alias": "mlops_nb.registry.names",
    "validate_name": "mlops_nb.registry.names",
}

__all__ = [
    "LATEST",
    "LoadedModel",
    "ModelVersion",
    "PromotionDecision",
    "PromotionRecord",
    "Registry",
    "decide_promotion",
    "parse_model_ref",
    "render_card",
    "validate_alias",
    "validate_name",
]

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from mlops_nb.registry.card import render_card
    from mlops_nb.registry.gate import PromotionDecision, PromotionRecord, decide_promotion
    from mlops_nb.registry.names import LATEST, parse_model_ref, validate_alias, validate_name
    from mlops_nb.registry.registry import Registry
    from mlops_nb.registry.versions import LoadedModel, ModelVersion
