"""From an evaluated model to registry state: its name, its champion, the gate applied.

These are the steps the register and evaluate stages take around
:class:`~mlops_nb.registry.Registry`:

* :func:`model_name_for` names a model after its data source unless a name is
  given, so a user's dataset never lands under the demo's name;
* :func:`ensure_same_problem` refuses a new version whose target or input
  columns differ from the versions already under that name;
* :func:`find_version` is the champion lookup, ``None`` when there is none;
* :func:`apply_decision` moves the aliases the gate decided, with reasons.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import pandera.pandas as pa

from mlops_nb.data import parse_source
from mlops_nb.errors import ModelNotFoundError, RegistryError
from mlops_nb.registry.gate import PromotionRecord
from mlops_nb.registry.names import validate_name
from mlops_nb.registry.registry import Registry
from mlops_nb.registry.versions import ModelVersion

__all__ = ["apply_decision", "ensure_same_problem", "find_version", "model_name_for"]


def model_name_for(data_source: str, model_name: str | None = None) -> str:
    """The registry name: ``model_name`` if given, else one derived from the data source.

    ``sample:churn`` → ``churn``, ``data/houses.csv`` → ``houses``,
    ``sqlite:///shop.db?table=customers`` → ``customers`` (a query: the database name).
    """
    if model_name:
        return validate_name(model_name)
    spec = parse_source(data_source)
    if spec.kind == "sample":
        stem = spec.location
    elif spec.kind == "sql":
        stem = spec.options.get("table") or PurePath(spec.location.split("?")[0]).stem
    else:
        stem = PurePath(spec.location).name.split(".")[0]
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-._") or "model"
    return validate_name(cleaned[:64])


def find_version(registry: Registry, name: str, ref: str | int) -> ModelVersion | None:
    """The version ``ref`` designates, or None when the model or alias does not exist."""
    try:
        return registry.get(name, ref)
    except ModelNotFoundError:
        return None


def ensure_same_problem(
    registry: Registry, name: str, signature: pa.DataFrameSchema, target: str
) -> None:
    """Refuse to add a version of ``name`` trained on another target or other columns."""
    latest = find_version(registry, name, "latest")
    if latest is None:
        return
    known = registry.load(latest.name, latest.version).signature
    before, now = sorted(known.columns), sorted(signature.columns)
    if latest.target != target or before != now:
        raise RegistryError(
            f"model '{name}' v{latest.version} predicts '{latest.target}' from columns "
            f"{', '.join(before)}; this model predicts '{target}' from {', '.join(now)}. "
            f"Register it under its own name with -p model_name=NAME.",
            model=name,
        )


def apply_decision(
    registry: Registry,
    version: ModelVersion,
    decision: PromotionRecord | Mapping[str, Any],
    *,
    run: str | None,
    staging_alias: str | None = "staging",
) -> list[dict[str, Any]]:
    """Move aliases for a freshly registered ``version`` as the gate ``decision`` says.

    ``staging_alias`` (if any) always moves to the new version; ``decision.alias``
    moves only when ``decision.promote``, and only if the champion is still the
    one the decision was made against. Returns the changes made.

    Args:
        registry: The project registry.
        version: The version just registered.
        decision: The evaluate stage's :class:`~mlops_nb.registry.gate.PromotionRecord`,
            or its ``decision.json`` as a mapping.
        run: The pipeline run applying it (kept in the alias history).
        staging_alias: The alias every new version takes, or None.

    Raises:
        RegistryError: a malformed decision, one made for another model, or a
            champion that moved since the decision was made (nothing is moved).
    """
    record = PromotionRecord.from_dict(decision)
    if record.model_name is not None and record.model_name != version.name:
        raise RegistryError(
            f"the promotion decision is about model '{record.model_name}', not "
            f"'{version.name}' v{version.version}; apply the decision of the run that "
            f"registered this version.",
            model=version.name,
        )
    changes = []
    if staging_alias:
        moved = registry.set_alias(
            version.name,
            staging_alias,
            version.version,
            reason=f"newly registered by run {run}",
            run=run,
        )
        changes.append({"alias": staging_alias, "version": version.version, "moved": moved})
    if not record.promote:
        return changes
    current = find_version(registry, version.name, record.alias)
    expected = record.champion_version
    if (current.version if current else None) != expected:
        raise RegistryError(
            f"alias '{record.alias}' of '{version.name}' moved to "
            f"v{current.version if current else '-'} while this run evaluated against "
            f"v{expected}; run the pipeline again to decide against the new champion.",
            model=version.name,
        )
    moved = registry.set_alias(
        version.name, record.alias, version.version, reason=record.reason, run=run
    )
    changes.append({"alias": record.alias, "version": version.version, "moved": moved})
    return changes
