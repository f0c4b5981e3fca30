"""The project's governance policy: the ``governance:`` section of pipeline.yaml.

.. code-block:: yaml

    governance:
      protected_aliases: [production]     # moved only by an approval (or an emergency rollback)
      sensitive: [gender, age_band]       # columns the fairness gate groups by
      exclude_sensitive: true             # ... and keeps out of the features
      max_disparity: {selection_rate: 0.2, tpr: 0.2, roc_auc: 0.1}
      min_group_rows: 30                  # smaller groups are reported, never judged
      allow_pii_features: []              # personal-data columns a model may still read
      models:                             # per model: any key above, and the card's texts
        churn:
          intended_use: Rank customers by churn risk for retention outreach.
          limitations: Trained on one region's customers.

A model's policy is the global keys overridden by its own entry under
``models:``. Everything is optional: without the section nothing is
protected, nothing is judged for fairness and the card says "not stated".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_nb.config import Settings, project_mapping
from mlops_nb.errors import ConfigError

__all__ = ["DISPARITY_MEASURES", "NOT_STATED", "ModelPolicy", "model_policy", "read_policy"]

NOT_STATED = "not stated"
"""What a model card says for an intended use or limitations nobody wrote down."""

DISPARITY_MEASURES = ("metric", "selection_rate", "tpr")
"""What ``max_disparity`` may bound besides a metric's own name (``metric``: the primary one)."""

_KEYS = {
    "protected_aliases",
    "sensitive",
    "exclude_sensitive",
    "max_disparity",
    "min_group_rows",
    "allow_pii_features",
    "intended_use",
    "limitations",
}


@dataclass(frozen=True)
class ModelPolicy:
    """What governance asks of one model.

    Attributes:
        protected_aliases: Aliases that move only through an approval.
        sensitive: Columns the fairness check groups the holdout by.
        exclude_sensitive: Whether the sensitive columns are kept out of the features.
        max_disparity: Measure → the largest difference between two groups
            allowed (``selection_rate``, ``tpr``, ``metric`` or a metric name).
        min_group_rows: Groups with fewer holdout rows are shown, never judged.
        allow_pii_features: Personal-data columns a model may read anyway.
        intended_use: The card's intended use (None: not stated).
        limitations: The card's limitations (None: not stated).
    """

    protected_aliases: tuple[str, ...] = ()
    sensitive: tuple[str, ...] = ()
    exclude_sensitive: bool = False
    max_disparity: Mapping[str, float] = field(default_factory=dict)
    min_group_rows: int = 30
    allow_pii_features: tuple[str, ...] = ()
    intended_use: str | None = None
    limitations: str | None = None

    def is_protected(self, alias: str) -> bool:
        """Whether ``alias`` moves only through an approval."""
        return alias in self.protected_aliases

    def to_dict(self) -> dict[str, Any]:
        """The policy as JSON values."""
        return {
            "protected_aliases": list(self.protected_aliases),
            "sensitive": list(self.sensitive),
            "exclude_sensitive": self.exclude_sensitive,
            "max_disparity": dict(self.max_disparity),
            "min_group_rows": self.min_group_rows,
            "allow_pii_features": list(self.allow_pii_features),
            "intended_use": self.intended_use,
            "limitations": self.limitations,
        }


def read_policy(path: Path) -> dict[str, Any]:
    """The ``governance:`` mapping of the pipeline file at ``path``, checked (empty without one).

    Raises:
        ConfigError: a key or value that is not what the section allows, naming it.
    """
    if not path.is_file():
        return {}
    section = project_mapping(path).get("governance") or {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"{path}: 'governance' must be a mapping of policy keys", path=path)
    models = section.get("models") or {}
    if not isinstance(models, Mapping):
        raise ConfigError(f"{path}: governance.models must map model names to policies", path=path)
    _check(path, "governance", {k: v for k, v in section.items() if k != "models"})
    for name, entry in models.items():
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{path}: governance.models.{name} must be a mapping", path=path)
        _check(path, f"governance.models.{name}", entry)
    return dict(section)


def model_policy(settings: Settings | Path, name: str | None) -> ModelPolicy:
    """The policy of model ``name``: the global keys, overridden by its ``models:`` entry."""
    path = settings if isinstance(settings, Path) else settings.pipeline_file
    section = read_policy(path)
    merged = {k: v for k, v in section.items() if k != "models"}
    if name is not None:
        merged.update((section.get("models") or {}).get(name) or {})
    return ModelPolicy(
        protected_aliases=_names(merged.get("protected_aliases")),
        sensitive=_names(merged.get("sensitive")),
        exclude_sensitive=bool(merged.get("exclude_sensitive", False)),
        max_disparity={str(k): float(v) for k, v in (merged.get("max_disparity") or {}).items()},
        min_group_rows=int(merged.get("min_group_rows", 30)),
        allow_pii_features=_names(merged.get("allow_pii_features")),
        intended_use=_text(merged.get("intended_use")),
        limitations=_text(merged.get("limitations")),
    )


def _names(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (str(value),) if isinstance(value, str) else tuple(str(v) for v in value)


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


def _check(path: Path, where: str, entry: Mapping[str, Any]) -> None:
    unknown = sorted(str(k) for k in entry if k not in _KEYS)
    if unknown:
        raise ConfigError(
            f"{path}: {where} has unknown key(s) {', '.join(unknown)}; the policy keys are "
            f"{', '.join(sorted(_KEYS))}",
            path=path,
        )
    for key in ("protected_aliases", "sensitive", "allow_pii_features"):
        value = entry.get(key)
        if value is not None and not (
            isinstance(value, str)
            or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            raise ConfigError(f"{path}: {where}.{key} must be a list of names", path=path)
    bounds = entry.get("max_disparity")
    if bounds is not None and not _bounds(bounds):
        raise ConfigError(
            f"{path}: {where}.max_disparity must map measures ({', '.join(DISPARITY_MEASURES)}"
            f" or a metric name) to a non-negative number, e.g. {{selection_rate: 0.2}}",
            path=path,
        )
    rows = entry.get("min_group_rows")
    if rows is not None and (not isinstance(rows, int) or isinstance(rows, bool) or rows < 1):
        raise ConfigError(f"{path}: {where}.min_group_rows must be a whole number ≥ 1", path=path)
    for key in ("intended_use", "limitations"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            raise ConfigError(f"{path}: {where}.{key} must be text", path=path)


def _bounds(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value.values()
    )
