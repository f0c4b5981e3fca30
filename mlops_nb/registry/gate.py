"""The promotion gate: does a challenger replace the champion?

With a champion, the challenger is promoted when it improves on the champion's
metric by at least ``margin`` (an improvement is ``challenger - champion`` when
higher is better, ``champion - challenger`` otherwise). Without a champion (the
first version of a model), it is promoted when it meets ``min_quality``, the
minimum declared in pipeline.yaml, or always when no minimum is declared.

Improvements are compared with a tolerance of 1e-9, so that ``0.85 - 0.80``
counts as a 0.05 improvement despite floating-point rounding.

The evaluate stage records the decision with the facts of the comparison and
the gate's settings as a :class:`PromotionRecord` (``decision.json``); the
register stage applies it (:func:`~mlops_nb.registry.promotion.apply_decision`),
judging again with those settings when another run moved the champion
meanwhile, and saves the decision it applied as its own ``decision.json``. The
run report and the registry browser read them back with
:meth:`PromotionRecord.from_dict`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mlops_nb.errors import RegistryError
from mlops_nb.jsonvalues import scalar

__all__ = ["PromotionDecision", "PromotionRecord", "apply_fairness", "decide_promotion"]

TOLERANCE = 1e-9


@dataclass(frozen=True)
class PromotionDecision:
    """The gate's verdict.

    Attributes:
        promote: Whether the challenger should take the alias.
        reason: A sentence with the numbers, fit for the alias history.
        margin: The observed improvement over the champion (positive is better),
            or None when there is no champion.
        champion: The champion's metric, or None.
        challenger: The challenger's metric.
    """

    promote: bool
    reason: str
    margin: float | None
    champion: float | None
    challenger: float


@dataclass(frozen=True, kw_only=True, eq=False)
class PromotionRecord(Mapping[str, Any]):
    """A promotion decision as recorded for the register stage (``decision.json``).

    It reads like the dict it is saved as (``record["promote"]``, ``dict(record)``),
    and two records, or a record and a dict, are equal when their
    :meth:`to_dict` values are.

    Attributes:
        promote: Whether the challenger takes ``alias``.
        reason: The gate's sentence, with the numbers, kept in the alias history.
        alias: The champion alias the decision is about.
        margin: The observed improvement over the champion, or None.
        champion: The champion's metric on the compared rows, or None.
        challenger: The challenger's metric on the compared rows.
        decided: False when the comparison could not be made honestly; the
            champion is then kept and ``reason`` says why.
        model_name: The registry name the challenger is registered under.
        metric: The metric compared.
        champion_version: The version at ``alias`` when the decision was made
            (None: there was none); the alias moves only if it still holds it.
        holdout_rows: Rows in the holdout.
        compared_rows: Holdout rows seen by neither model, the ones compared.
        excluded: Why holdout rows were left out → how many.
        summary: One sentence on the rows compared and left out.
        required_margin: The improvement the gate required over a champion
            (None: not recorded, a record written before it was).
        min_quality: The minimum a first version needed on ``metric`` (None: none).
        min_compared_rows: The fewest compared rows a decision could rest on
            (None: not recorded). With ``required_margin``, what the register
            stage needs to judge the challenger again when the champion moved.
        rejudged: How many times the register stage judged the challenger
            again because the champion moved after the evaluate stage decided
            (0: this is the evaluate stage's decision).
        fairness: The fairness check the decision includes
            (:meth:`~mlops_nb.modeling.fairness.FairnessReport.to_dict`'s
            ``passed``, ``summary``, ``bounds`` and ``disparities``), or None
            when no sensitive column is declared.
    """

    promote: bool
    reason: str
    alias: str
    margin: float | None = None
    champion: float | None = None
    challenger: float | None = None
    decided: bool = True
    model_name: str | None = None
    metric: str | None = None
    champion_version: int | None = None
    holdout_rows: int | None = None
    compared_rows: int | None = None
    excluded: Mapping[str, int] = field(default_factory=dict)
    summary: str | None = None
    required_margin: float | None = None
    min_quality: float | None = None
    min_compared_rows: int | None = None
    rejudged: int = 0
    fairness: Mapping[str, Any] | None = None

    @property
    def verdict(self) -> str:
        """``promote``, ``keep`` (the champion won) or ``not decided`` (it could not be judged)."""
        if self.promote:
            return "promote"
        return "keep" if self.decided else "not decided"

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON values, the keys in ``decision.json``'s order."""
        return {
            "promote": self.promote,
            "reason": self.reason,
            "margin": self.margin,
            "champion": self.champion,
            "challenger": self.challenger,
            "decided": self.decided,
            "model_name": self.model_name,
            "metric": self.metric,
            "alias": self.alias,
            "champion_version": self.champion_version,
            "holdout_rows": self.holdout_rows,
            "compared_rows": self.compared_rows,
            "excluded": dict(self.excluded),
            "summary": self.summary,
            "required_margin": self.required_margin,
            "min_quality": self.min_quality,
            "min_compared_rows": self.min_compared_rows,
            "rejudged": self.rejudged,
            "fairness": None if self.fairness is None else dict(self.fairness),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromotionRecord:
        """Read a record back from :meth:`to_dict`'s values (``decision.json``).

        ``promote``, ``reason`` and ``alias`` are required; the other keys may be
        missing (records written before they existed) and take their defaults.

        Raises:
            RegistryError: ``data`` is not a mapping, lacks a required key, has
                a key no record has, or a value of the wrong type.
        """
        if isinstance(data, PromotionRecord):
            return data
        if not isinstance(data, Mapping):
            raise RegistryError(
                f"a promotion decision is a mapping such as the evaluate stage's "
                f"decision.json, not {type(data).__name__}."
            )
        unknown = [str(k) for k in data if k not in _RECORD_TYPES]
        missing = [k for k in _REQUIRED if k not in data]
        if unknown or missing:
            raise RegistryError(_shape_problem(data, missing, unknown), missing=missing)
        values = {str(k): _checked(str(k), v) for k, v in data.items()}
        return cls(**values)

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())


_REQUIRED = ("promote", "reason", "alias")
_RECORD_TYPES: dict[str, tuple[str, bool]] = {
    "promote": ("bool", False),
    "reason": ("str", False),
    "alias": ("str", False),
    "margin": ("number", True),
    "champion": ("number", True),
    "challenger": ("number", True),
    "decided": ("bool", False),
    "model_name": ("str", True),
    "metric": ("str", True),
    "champion_version": ("int", True),
    "holdout_rows": ("int", True),
    "compared_rows": ("int", True),
    "excluded": ("counts", False),
    "summary": ("str", True),
    "required_margin": ("number", True),
    "min_quality": ("number", True),
    "min_compared_rows": ("int", True),
    "rejudged": ("int", False),
    "fairness": ("mapping", True),
}
"""Each key of a record: its kind and whether it may be null."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_counts(value: Any) -> bool:
    return isinstance(value, Mapping) and all(_is_whole(n) for n in value.values())


_KINDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "bool": ("true or false", lambda value: isinstance(value, bool)),
    "str": ("text", lambda value: isinstance(value, str)),
    "number": ("a number", _is_number),
    "int": ("a whole number", _is_whole),
    "counts": ("a mapping of reasons to row counts", _is_counts),
    "mapping": ("a mapping", lambda value: isinstance(value, Mapping)),
}


def _checked(key: str, value: Any) -> Any:
    """``value`` (numpy scalars as Python ones) if it is of ``key``'s kind."""
    value = scalar(value)
    kind, nullable = _RECORD_TYPES[key]
    described, fits = _KINDS[kind]
    if value is None and nullable:
        return None
    if value is not None and fits(value):
        return {str(k): v for k, v in value.items()} if kind in ("counts", "mapping") else value
    raise RegistryError(
        f"the promotion decision's {key!r} must be {described}"
        f"{' or null' if nullable else ''}, not {value!r}.",
        key=key,
    )


def _shape_problem(data: Mapping[str, Any], missing: list[str], unknown: list[str]) -> str:
    problems = []
    if missing:
        problems.append(f"lacks {', '.join(repr(k) for k in missing)}")
    if unknown:
        problems.append(f"has unknown key(s) {', '.join(repr(k) for k in unknown)}")
    has = ", ".join(str(k) for k in data) or "nothing"
    return (
        f"the promotion decision {' and '.join(problems)} (it has: {has}); pass the evaluate "
        f"stage's decision (ChampionComparison.record(), saved as decision.json), whose keys "
        f"are {', '.join(_RECORD_TYPES)}."
    )


def _number(value: float) -> str:
    return f"{value:.4g}"


def _first_version(challenger: float, min_quality: float | None, higher: bool) -> tuple[bool, str]:
    if min_quality is None:
        return True, (
            f"no champion and no minimum quality declared: promoted with {_number(challenger)}"
        )
    passes = challenger >= min_quality if higher else challenger <= min_quality
    relation = (">=" if higher else "<=") if passes else ("<" if higher else ">")
    verdict = "promoted" if passes else "not promoted"
    return passes, (
        f"no champion: {_number(challenger)} {relation} the minimum quality "
        f"{_number(min_quality)}, {verdict}"
    )


def _against_champion(
    improvement: float, margin: float, champion: float, challenger: float
) -> tuple[bool, str]:
    passes = improvement >= margin - TOLERANCE
    verdict = "promoted" if passes else "not promoted"
    relation = "at least" if passes else "less than"
    return passes, (
        f"challenger {_number(challenger)} vs champion {_number(champion)}: improvement "
        f"{_number(improvement)} is {relation} the required margin {_number(margin)}, "
        f"{verdict}"
    )


def decide_promotion(
    challenger: float,
    champion: float | None,
    *,
    higher_is_better: bool,
    margin: float = 0.0,
    min_quality: float | None = None,
) -> PromotionDecision:
    """Decide whether ``challenger`` should be promoted over ``champion``.

    Args:
        challenger: The new version's metric.
        champion: The metric of the version holding the alias, or None.
        higher_is_better: True for accuracy/AUC/R², False for errors (RMSE, MAE).
        margin: The improvement required to replace a champion (>= 0).
        min_quality: The minimum (or, lower-is-better, maximum) metric a first
            version needs; None promotes any first version.

    Returns:
        The decision, with a readable reason.

    Raises:
        RegistryError: ``margin`` is negative or not a number.
    """
    if not isinstance(margin, (int, float)) or math.isnan(margin) or margin < 0:
        raise RegistryError(
            f"promotion margin must be a number >= 0, got {margin!r}; set it in "
            f"pipeline.yaml (e.g. margin: 0.01)."
        )
    if challenger is None or math.isnan(challenger):
        return PromotionDecision(
            False,
            "challenger metric is missing or not a number, not promoted",
            None,
            champion,
            challenger,
        )
    if champion is None:
        promote, reason = _first_version(challenger, min_quality, higher_is_better)
        return PromotionDecision(promote, reason, None, None, challenger)
    if math.isnan(champion):
        return PromotionDecision(
            False,
            "champion metric is not a number: compare by hand and use `mlops-nb models promote`",
            None,
            champion,
            challenger,
        )
    improvement = challenger - champion if higher_is_better else champion - challenger
    promote, reason = _against_champion(improvement, margin, champion, challenger)
    return PromotionDecision(promote, reason, improvement, champion, challenger)


def apply_fairness(record: PromotionRecord, fairness: Mapping[str, Any] | None) -> PromotionRecord:
    """``record`` with the fairness check attached; a failed check blocks the promotion.

    ``fairness`` is a :class:`~mlops_nb.modeling.fairness.FairnessReport` as
    ``to_dict()`` (``groups`` are left out of the decision: the disparities
    carry the numbers). A failed check turns a promotion into ``keep`` with
    the disparities over their bound in the reason.
    """
    if fairness is None:
        return record
    kept = {k: fairness[k] for k in ("passed", "summary", "bounds", "disparities") if k in fairness}
    blocked = record.promote and not fairness.get("passed", True)
    reason = record.reason
    if blocked:
        summary = fairness.get("summary")
        reason = f"blocked by the fairness gate: {summary} (the metric gate said: {reason})"
    return replace(record, fairness=kept, promote=record.promote and not blocked, reason=reason)
