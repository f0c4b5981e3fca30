"""The retrain stage's steps: whether to retrain, on what data, and what the run did.

``templates/10_retrain.ipynb`` reads the monitor stage's decision (a
:class:`~mlops_nb.monitoring.loop.MonitorDecision`), and then:

* :func:`plan_retraining` says whether it starts a training run (a
  :class:`RetrainPlan`, with why);
* :func:`retraining_frame`, :func:`training_contract` and :func:`retraining_overrides`
  prepare that run on the reference data plus the labelled current data,
  validated by the contract the production model was trained under;
* :func:`retraining_outcome` reads what the run did (a :class:`RetrainingOutcome`),
  published as ``retraining`` in run.json; :meth:`RetrainingOutcome.not_started`
  is the outcome when nothing was trained.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_nb.config import Settings
from mlops_nb.monitoring.errors import MonitoringError
from mlops_nb.monitoring.loop import DECISIONS, MonitorDecision
from mlops_nb.registry.gate import PromotionRecord
from mlops_nb.store.runs import RunIndex

__all__ = [
    "NOT_STARTED",
    "RetrainPlan",
    "RetrainingOutcome",
    "plan_retraining",
    "retraining_frame",
    "retraining_outcome",
    "retraining_overrides",
    "training_contract",
]

NOT_STARTED = "not started"
"""The status of a retraining that was not started."""


@dataclass(frozen=True)
class RetrainPlan:
    """Whether the retrain stage starts a training run, and why (or why not).

    Attributes:
        start: Whether to start one.
        why: The reason, a clause fit for "No retraining: {why}." when not started.
    """

    start: bool
    why: str


def plan_retraining(
    decision: MonitorDecision, *, retrain: bool, retrain_on: Iterable[str]
) -> RetrainPlan:
    """Retrain when the decision is one of ``retrain_on``, ``retrain`` is on and there are labels.

    Raises:
        MonitoringError: ``retrain_on`` names something that is not a decision.
    """
    wanted = list(retrain_on)
    unknown = [str(d) for d in wanted if d not in DECISIONS]
    if unknown:
        raise MonitoringError(
            f"retrain_on names {', '.join(map(repr, unknown))}, which is not a monitoring "
            f"decision; the decisions are {', '.join(DECISIONS)} (e.g. [drift, degraded]).",
            retrain_on=wanted,
        )
    if decision.decision not in wanted:
        return RetrainPlan(False, "the decision does not call for it")
    if not retrain:
        return RetrainPlan(False, "retrain is off (-p retrain=true starts it)")
    if not decision.labelled:
        return RetrainPlan(False, "the current data has no labels to learn from")
    return RetrainPlan(
        True, f"the decision is {decision.decision} and the current data has labels to learn from"
    )


def training_contract(settings: Settings, pipeline_run: str | None) -> Path | None:
    """The contract the validate stage of ``pipeline_run`` used, if that run is archived.

    A run published by another machine (team store) is fetched, verified, first.
    """
    if not pipeline_run:
        return None
    folder = _stage_folder(settings, pipeline_run, "validate")
    contract = None if folder is None else folder / "contract.yaml"
    return contract if contract is not None and contract.is_file() else None


def _stage_folder(settings: Settings, pipeline_run: str, stage: str) -> Path | None:
    with RunIndex(settings) as index:
        return index.materialize_stage(pipeline_run, stage)


def retraining_frame(
    settings: Settings,
    data_version: str | None,
    current: pd.DataFrame,
    target: str,
    *,
    pipeline_run: str | None = None,
) -> tuple[pd.DataFrame, int]:
    """The reference data a version was trained from, followed by the labelled current rows.

    The snapshot is read from the snapshots folder, or, when this machine does
    not hold it, from the ingest stage of ``pipeline_run`` (the run that trained
    the version), fetched from the artifact location and verified.

    Returns:
        The combined frame (the reference's columns, in its order) and the
        number of reference rows in it.

    Raises:
        MonitoringError: The reference snapshot is gone, or the current data lacks
            columns the reference has.
    """
    from mlops_nb.data.snapshot import snapshot_path

    path = snapshot_path(settings.snapshots_dir, str(data_version))
    if data_version and not path.is_file() and pipeline_run:
        path = _snapshot_of_run(settings, pipeline_run, str(data_version)) or path
    if not data_version or not path.is_file():
        raise MonitoringError(
            f"cannot retrain: the training data snapshot {data_version!r} of the monitored "
            f"version is not in {settings.snapshots_dir}; retrain with `mlops-nb run train` "
            f"on the data you want instead.",
            data_version=data_version,
        )
    reference = pd.read_parquet(path)
    missing = [c for c in reference.columns if c not in current.columns]
    if missing:
        raise MonitoringError(
            f"cannot retrain on the current data: it lacks column(s) {', '.join(missing)} "
            f"that the training data has; provide labelled data with all of them.",
            columns=missing,
        )
    labelled = current.loc[current[target].notna(), list(reference.columns)]
    combined = pd.concat([reference, labelled], ignore_index=True)
    return combined, len(reference)


def _snapshot_of_run(settings: Settings, pipeline_run: str, data_version: str) -> Path | None:
    """The data file of ``pipeline_run``'s ingest stage, when it is that data version."""
    folder = _stage_folder(settings, pipeline_run, "ingest")
    if folder is None or not (folder / "stage.json").is_file():
        return None
    manifest = json.loads((folder / "stage.json").read_text())
    if (manifest.get("data_versions") or {}).get("raw") != data_version:
        return None
    entry = (manifest.get("artifacts") or {}).get("data") or {}
    candidate = folder / str(entry.get("file", ""))
    return candidate if entry and candidate.is_file() else None


def retraining_overrides(
    data: Path,
    *,
    target: str,
    model_name: str,
    contract: Path | None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """The ``-p`` parameters of the training run: its data, target, model name and contract.

    Args:
        data: The saved retraining data (:func:`retraining_frame`).
        target: The label column.
        model_name: The monitored model's name, so the new version joins it.
        contract: The contract to validate with (:func:`training_contract`), or
            None to let the run infer one.
        extra: More train parameters (e.g. ``{"budget": 4}``); they win.
    """
    overrides = {"data_source": str(data), "target": target, "model_name": model_name}
    if contract is not None:
        overrides["contract"] = str(contract)
    overrides.update({str(k): str(v) for k, v in (extra or {}).items()})
    return overrides


@dataclass(frozen=True, kw_only=True, eq=False)
class RetrainingOutcome(Mapping[str, Any]):
    """What the retrain stage did, published as ``retraining`` in run.json.

    It reads like the dict it is published as (``outcome["summary"]``): a run
    not started has only ``status`` and ``summary``.

    Attributes:
        status: :data:`NOT_STARTED`, or the training run's status.
        summary: One sentence: why it was not started, or what the run did.
        run: The training run's id.
        model: The model name it registered under.
        version: The version it registered (None: it registered none).
        promoted: Whether that version took the alias.
        alias: The alias the gate decided on.
        reason: The gate's reason.
    """

    status: str
    summary: str
    run: str | None = None
    model: str | None = None
    version: int | None = None
    promoted: bool | None = None
    alias: str | None = None
    reason: str | None = None

    @classmethod
    def not_started(cls, why: str) -> RetrainingOutcome:
        """The outcome of a retraining that was not started, e.g. ``RetrainPlan.why``."""
        return cls(status=NOT_STARTED, summary=f"not started: {why}")

    @property
    def started(self) -> bool:
        """Whether a training run was started."""
        return self.status != NOT_STARTED

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON values (``status`` and ``summary`` only when not started)."""
        if not self.started:
            return {"status": self.status, "summary": self.summary}
        return {
            "status": self.status,
            "run": self.run,
            "model": self.model,
            "version": self.version,
            "promoted": self.promoted,
            "alias": self.alias,
            "reason": self.reason,
            "summary": self.summary,
        }

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())


def retraining_outcome(run: Mapping[str, Any]) -> RetrainingOutcome:
    """What a retraining run did: its id, status, the version registered, the gate's verdict.

    The model name is the register stage's note (its metric in runs archived
    before text became notes); the version and ``promoted`` are its metrics;
    the alias and reason come from the decision the register stage applied (its
    decision.json: re-judged when the champion moved during the run), else from
    the evaluate stage's (runs archived before register saved one).
    """
    stages = {stage["name"]: stage for stage in run["stages"]}
    register = stages.get("register") or {}
    registered = register.get("metrics") or {}
    notes = register.get("notes") or {}
    verdict = _promotion_record(run, register) or _promotion_record(run, stages.get("evaluate"))
    version, promoted = registered.get("version"), registered.get("promoted")
    model = notes.get("model", registered.get("model"))
    alias = verdict.alias if verdict else None
    reason = verdict.reason if verdict else None
    if version is None:
        summary = f"run {run['id']} {run['status']} without registering a version"
    else:
        moved = "promoted to" if promoted else "did not take"
        summary = f"run {run['id']} registered {model}:{version}, {moved} {alias} ({reason})"
    return RetrainingOutcome(
        status=run["status"],
        run=run["id"],
        model=model,
        version=version,
        promoted=promoted,
        alias=alias,
        reason=reason,
        summary=summary,
    )


def _promotion_record(
    run: Mapping[str, Any], stage: Mapping[str, Any] | None
) -> PromotionRecord | None:
    """The promotion decision ``stage`` of ``run`` saved, if it saved one."""
    if not stage or "dir" not in stage:
        return None
    path = Path(run["run_dir"]) / stage["dir"] / "decision.json"
    if not path.is_file():
        return None
    return PromotionRecord.from_dict(json.loads(path.read_text()))
