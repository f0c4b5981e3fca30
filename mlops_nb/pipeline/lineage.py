"""Lineage you can query: from a model reference back to its data and forward to its uses.

:func:`lineage` follows ``NAME@ALIAS`` (or ``NAME:VERSION``, ``NAME@latest``) to
the version it designates and assembles, from the registry and the run archive:

data source → snapshot (the data version) → the pipeline run → its stages →
the model version (who registered it, metrics, status) → every alias move and
proposal about it (the audit history) → the runs that deployed it (a deploy
stage whose model is this version) and monitored it (a monitor run of this
model, at the version its alias held when it ran).

A link whose record is gone (a run removed by ``runs gc``, a run of another
machine not yet indexed) is reported as missing, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mlops_nb.config import Settings
from mlops_nb.data.snapshot import snapshot_path
from mlops_nb.pipeline import index
from mlops_nb.registry import Registry, parse_model_ref
from mlops_nb.registry.package import read_metadata

__all__ = ["Lineage", "lineage"]


@dataclass(frozen=True)
class Lineage:
    """The chain of one model version; :meth:`to_dict` is ``mlops-nb lineage --json``."""

    ref: str
    model: dict[str, Any]
    data: dict[str, Any]
    run: dict[str, Any] | None
    stages: list[dict[str, Any]] = field(default_factory=list)
    audit: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    monitoring: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON values: ref, data, run, stages, model, audit, deployments, monitoring."""
        return {
            "ref": self.ref,
            "data": self.data,
            "run": self.run,
            "stages": self.stages,
            "model": self.model,
            "audit": self.audit,
            "deployments": self.deployments,
            "monitoring": self.monitoring,
        }


def lineage(settings: Settings, ref: str) -> Lineage:
    """The lineage of the version ``ref`` designates.

    Raises:
        ModelNotFoundError: unknown model, version or alias.
        RegistryError: a malformed reference.
    """
    name, version_ref = parse_model_ref(ref)
    records = {str(r["id"]): r for r in index.all_runs(settings)}
    with Registry.from_settings(settings) as registry:
        version = registry.get(name, version_ref)
        metadata = read_metadata(registry.materialize(version).path)  # the model is not loaded
        audit = registry.audit(version.name)
        monitored = [
            _monitor_entry(registry, record, version.name, version.version)
            for record in records.values()
            if record.get("pipeline") == "monitor"
        ]
    run_id = version.lineage.get("pipeline_run")
    record = records.get(str(run_id)) if run_id else None
    model = {
        "name": version.name,
        "version": version.version,
        "ref": version.ref,
        "status": version.status,
        "aliases": list(version.aliases),
        "registered_at": version.created_at.isoformat(),
        "registered_by": metadata.get("registered_by"),
        "metrics": version.metrics,
        "path": str(version.path),
        "card": str(version.path / "model_card.md"),
    }
    data = {
        "source": _source(record),
        "data_version": version.lineage.get("data_version"),
        "snapshot": _snapshot(settings, version.lineage.get("data_version")),
    }
    mine = audit[
        (audit["to_version"] == version.version) | (audit["from_version"] == version.version)
    ]
    moves = [
        {
            "at": row["at"].isoformat(),
            "event": row["event"],
            "alias": row["alias"],
            "from_version": _int(row["from_version"]),
            "to_version": _int(row["to_version"]),
            "actor": row["actor"],
            "reason": row["reason"],
            "run": row["run"],
        }
        for row in mine.to_dict("records")
    ]
    deployments = [
        _run_summary(r, stage)
        for r in records.values()
        for stage in r.get("stages", [])
        if stage.get("name") == "deploy"
        and (stage.get("notes") or {}).get("model") == version.ref
        and stage.get("status") in ("succeeded", "cached")
    ]
    return Lineage(
        ref=ref,
        model=model,
        data=data,
        run=_run(record, run_id),
        stages=[_stage(s) for s in (record or {}).get("stages", [])],
        audit=moves,
        deployments=deployments,
        monitoring=[m for m in monitored if m is not None],
    )


def _int(value: Any) -> int | None:
    try:
        return None if value is None or pd.isna(value) else int(value)
    except (TypeError, ValueError):
        return None


def _source(record: dict[str, Any] | None) -> str | None:
    if record is None:
        return None
    for stage in record.get("stages", []):
        note = (stage.get("notes") or {}).get("data_source")
        if note:
            return str(note)
    source = (record.get("params") or {}).get("data_source")
    return None if source is None else str(source)


def _snapshot(settings: Settings, data_version: str | None) -> dict[str, Any] | None:
    if not data_version:
        return None
    path = snapshot_path(settings.snapshots_dir, data_version)
    return {"path": str(path), "present": path.is_file()}


def _run(record: dict[str, Any] | None, run_id: Any) -> dict[str, Any] | None:
    if run_id is None:
        return None
    if record is None:
        return {"id": str(run_id), "missing": True}
    keys = ("id", "pipeline", "status", "started_at", "finished_at", "run_dir", "git", "params")
    return {**{k: record.get(k) for k in keys}, "missing": False}


def _stage(stage: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": stage.get("name"),
        "status": stage.get("status"),
        "cached": bool(stage.get("cached")),
        "fingerprint": stage.get("fingerprint"),
        "seconds": stage.get("seconds"),
    }


def _run_summary(record: dict[str, Any], stage: dict[str, Any]) -> dict[str, Any]:
    return {
        "run": record.get("id"),
        "pipeline": record.get("pipeline"),
        "stage": stage.get("name"),
        "status": stage.get("status"),
        "started_at": record.get("started_at"),
        "run_dir": record.get("run_dir"),
    }


def _monitor_entry(
    registry: Registry, record: dict[str, Any], name: str, version: int
) -> dict[str, Any] | None:
    """A monitor run of ``name`` that watched ``version`` (its note, else the alias then)."""
    params = record.get("params") or {}
    if params.get("model") != name:
        return None
    stage = next((s for s in record.get("stages", []) if s.get("name") == "monitor"), None)
    notes = (stage or {}).get("notes") or {}
    watched = notes.get("monitored")
    if watched is None and record.get("started_at"):
        held = registry.alias_at(
            name, str(params.get("alias") or "production"), record["started_at"]
        )
        watched = None if held is None else f"{name}:{held}"
    if watched != f"{name}:{version}":
        return None
    return {
        "run": record.get("id"),
        "status": record.get("status"),
        "started_at": record.get("started_at"),
        "decision": notes.get("decision"),
        "run_dir": record.get("run_dir"),
    }
