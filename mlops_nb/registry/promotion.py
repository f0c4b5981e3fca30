"""From an evaluated model to registry state: its name, its champion, the gate applied.

These are the steps the register and evaluate stages take around
:class:`~mlops_nb.registry.Registry`:

* :func:`model_name_for` names a model after its data source unless a name is
  given, so a user's dataset never lands under the demo's name;
* :func:`ensure_same_problem` refuses a new version whose target or input
  columns differ from the versions already under that name;
* :func:`find_version` is the champion lookup, ``None`` when there is none;
* :func:`apply_decision` moves the aliases the gate decided, with reasons.

Several runs may evaluate against one champion at once; the first to register
moves it, and the decisions of the others are stale. :func:`apply_decision`
then judges the challenger again against the new champion on the same holdout
(:func:`~mlops_nb.registry.champion.judge_challenger`, unseen rows only) and
moves the alias with a compare-and-set (:meth:`Registry.swap_alias`): only if
the alias still holds the champion judged against; if it moved again, it judges
again, a bounded number of times. When it cannot judge (no holdout given, a
decision that lacks the gate's settings, the champion kept moving), the
version stays registered without the alias and the reason says why: a run
never fails, nor loses its model, because another run promoted first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from mlops_nb.data import parse_source
from mlops_nb.errors import MlopsNbError, RegistryError
from mlops_nb.prep.keys import SplitRule
from mlops_nb.registry.champion import find_version, judge_challenger
from mlops_nb.registry.gate import PromotionRecord, apply_fairness
from mlops_nb.registry.names import validate_name
from mlops_nb.registry.registry import Registry
from mlops_nb.registry.versions import ModelVersion

__all__ = [
    "MAX_JUDGEMENTS",
    "PromotionOutcome",
    "apply_decision",
    "ensure_same_problem",
    "find_version",
    "model_name_for",
]

MAX_JUDGEMENTS = 5
"""How many times the register stage judges again when the champion keeps moving."""


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


@dataclass(frozen=True)
class PromotionOutcome:
    """What :func:`apply_decision` did.

    Attributes:
        decision: The decision applied: the evaluate stage's, or, when the
            champion moved meanwhile, the register stage's own (``rejudged`` > 0,
            or not promoted with the reason why it could not judge again).
        changes: The alias moves, in the order made: ``alias``, ``version``,
            ``moved`` (False: it already pointed there or was proposed) and
            ``reason``; a proposal also has ``proposal``, its id.
        proposal: The id of the proposal recorded when the decision's alias
            is protected (it moves once someone else approves), else None.
    """

    decision: PromotionRecord
    changes: list[dict[str, Any]] = field(default_factory=list)
    proposal: int | None = None

    @property
    def promoted(self) -> bool:
        """Whether the gate promotes the version (with a proposal: once approved)."""
        return self.decision.promote

    @property
    def verdict(self) -> str:
        """``promote``, ``proposed`` (awaits an approval), ``keep`` or ``not decided``."""
        return "proposed" if self.proposal is not None else self.decision.verdict

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON values: ``decision``, ``changes`` and ``proposal``."""
        return {
            "decision": self.decision.to_dict(),
            "changes": list(self.changes),
            "proposal": self.proposal,
        }


Judge = Callable[[PromotionRecord], PromotionRecord]
"""Judges the challenger against the champion at the alias now, with a stale record's settings."""


def apply_decision(
    registry: Registry,
    version: ModelVersion,
    decision: PromotionRecord | Mapping[str, Any],
    *,
    run: str | None,
    staging_alias: str | None = "staging",
    challenger: Any = None,
    holdout: pd.DataFrame | None = None,
    target: str | None = None,
    task: str | None = None,
    holdout_keys: pd.Series | np.ndarray | None = None,
    train_keys: pd.Series | np.ndarray | None = None,
    rule: SplitRule | None = None,
    attempts: int = MAX_JUDGEMENTS,
) -> PromotionOutcome:
    """Move aliases for a freshly registered ``version`` as the gate ``decision`` says.

    ``decision.alias`` moves to ``version`` when the decision promotes and the
    alias still holds the champion it was made against, checked and moved in
    one transaction. When the champion moved after the evaluate stage decided
    (another run promoted first), the challenger is judged again against the
    new one on the same holdout, leaving out the rows either model trained on,
    up to ``attempts`` times; without the holdout arguments it is not promoted.
    Either way the version stays registered and the reason says what happened.
    ``staging_alias`` (if any) then moves to the new version; its history row
    repeats the reason when the decision is not the evaluate stage's.

    Args:
        registry: The project registry.
        version: The version just registered.
        decision: The evaluate stage's :class:`~mlops_nb.registry.gate.PromotionRecord`,
            or its ``decision.json`` as a mapping.
        run: The pipeline run applying it (kept in the alias history).
        staging_alias: The alias every new version takes, or None.
        challenger: The fitted model registered as ``version``.
        holdout: The evaluate stage's holdout rows, target included.
        target: The target column.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        holdout_keys: The identity of each holdout row.
        train_keys: The identities of the challenger's training rows.
        rule: The challenger's split rule.
        attempts: The most times to judge again while the champion keeps moving.

    Raises:
        RegistryError: a malformed decision, or one made for another model
            (nothing is moved).
    """
    record = PromotionRecord.from_dict(decision)
    if record.model_name is not None and record.model_name != version.name:
        raise RegistryError(
            f"the promotion decision is about model '{record.model_name}', not "
            f"'{version.name}' v{version.version}; apply the decision of the run that "
            f"registered this version.",
            model=version.name,
        )
    evidence = (challenger, holdout, target, task, holdout_keys, train_keys, rule)
    judge = None
    if all(value is not None for value in evidence):
        judge = _judge(registry, version.name, challenger, holdout, target, task, evidence[4:])
    final, moved, proposal = _settle(registry, version, record, judge, attempts, run)
    changes = []
    if proposal is not None:
        changes.append({**_change(final.alias, version, False, final.reason), "proposal": proposal})
    elif moved is not None:
        changes.append(_change(final.alias, version, moved, final.reason))
    if staging_alias:
        reason = f"newly registered by run {run}"
        if final is not record:
            reason += f"; {final.alias}: {final.reason}"
        moved = registry.set_alias(
            version.name, staging_alias, version.version, reason=reason, run=run
        )
        changes.append(_change(staging_alias, version, moved, reason))
    return PromotionOutcome(final, changes, proposal)


def _change(alias: str, version: ModelVersion, moved: bool, reason: str) -> dict[str, Any]:
    return {"alias": alias, "version": version.version, "moved": moved, "reason": reason}


def _judge(
    registry: Registry,
    name: str,
    challenger: Any,
    holdout: Any,
    target: Any,
    task: Any,
    keys_and_rule: tuple[Any, ...],
) -> Judge:
    holdout_keys, train_keys, rule = keys_and_rule

    def judge(stale: PromotionRecord) -> PromotionRecord:
        assert stale.required_margin is not None and stale.min_compared_rows is not None
        comparison = judge_challenger(
            registry,
            name,
            challenger,
            holdout,
            target=target,
            task=task,
            holdout_keys=holdout_keys,
            train_keys=train_keys,
            rule=rule,
            alias=stale.alias,
            margin=stale.required_margin,
            min_quality=stale.min_quality,
            min_rows=stale.min_compared_rows,
        )
        return apply_fairness(comparison.record(name), stale.fairness)

    return judge


def _settle(
    registry: Registry,
    version: ModelVersion,
    record: PromotionRecord,
    judge: Judge | None,
    attempts: int,
    run: str | None,
) -> tuple[PromotionRecord, bool | None, int | None]:
    """The decision applied, whether the alias moved (None: it was not to move), the proposal.

    A protected alias is not moved but proposed (the proposal's id is returned).

    A compare-and-set loop: move the alias only if it still holds the champion
    judged against; if another run moved it, judge again (at most ``attempts`` times).
    """
    judged, seen = record, [record.champion_version]
    while True:
        held = _holder(registry, version.name, record.alias)
        if held == judged.champion_version:
            if not judged.promote:
                return judged, None, None
            if registry.is_protected(version.name, record.alias):
                held, proposal = registry.propose(
                    version.name,
                    record.alias,
                    version.version,
                    expected=judged.champion_version,
                    checked=True,
                    reason=judged.reason,
                    run=run,
                )
                if proposal is not None:
                    return judged, False, proposal
            else:
                held = registry.swap_alias(
                    version.name,
                    record.alias,
                    version.version,
                    expected=judged.champion_version,
                    reason=judged.reason,
                    run=run,
                )
                if held == judged.champion_version:
                    return judged, True, None
        seen.append(held)
        if held == version.version:
            return replace(judged, promote=True, reason=_already(record.alias, held)), False, None
        stop = _cannot_judge(judged, judge, attempts, seen)
        if stop is not None or judge is None:
            return _not_promoted(judged, stop or ""), None, None
        try:
            judged = _rejudged(judge(judged), judged.rejudged + 1, seen[0])
        except MlopsNbError as exc:
            failed = f"{_moved(seen)}, and judging it again failed: {exc}"
            return _not_promoted(judged, failed), None, None


def _holder(registry: Registry, name: str, alias: str) -> int | None:
    current = find_version(registry, name, alias)
    return None if current is None else current.version


def _cannot_judge(
    judged: PromotionRecord, judge: Judge | None, attempts: int, seen: list[int | None]
) -> str | None:
    """Why the challenger cannot be judged again, or None when it can."""
    if judge is None:
        return f"{_moved(seen)}, and apply_decision was given no holdout to judge it again"
    if judged.required_margin is None or judged.min_compared_rows is None:
        return (
            f"{_moved(seen)}, and the decision does not record the gate's settings (made by "
            f"an older evaluate stage: run with --force evaluate)"
        )
    if judged.rejudged >= attempts:
        return (
            f"the champion kept moving while this run judged it ("
            f"{' → '.join(_name(v) for v in seen)}); gave up after {attempts} re-judgement(s)"
        )
    return None


def _rejudged(new: PromotionRecord, rounds: int, first: int | None) -> PromotionRecord:
    against = _name(new.champion_version)
    if first is None:
        why = f"{against} became the champion during this run (it evaluated with none)"
    elif new.champion_version is None:
        why = f"the champion v{first} was removed during this run"
    else:
        why = f"the champion moved from v{first} during this run"
    judged = "with no champion" if new.champion_version is None else f"against {against}"
    return replace(new, rejudged=rounds, reason=f"re-judged {judged} because {why}: {new.reason}")


def _not_promoted(judged: PromotionRecord, why: str) -> PromotionRecord:
    return replace(
        judged,
        promote=False,
        decided=False,
        reason=f"not promoted: {why}; compare by hand and use `mlops-nb models promote`",
    )


def _already(alias: str, version: int | None) -> str:
    return f"alias '{alias}' was moved to this version (v{version}) during this run; nothing to do"


def _moved(seen: list[int | None]) -> str:
    return f"the champion moved from {_name(seen[0])} to {_name(seen[-1])} after this run evaluated"


def _name(version: int | None) -> str:
    return "no version" if version is None else f"v{version}"
