"""The promotion gate: does a challenger replace the champion?

With a champion, the challenger is promoted when it improves on the champion's
metric by at least ``margin`` (an improvement is ``challenger - champion`` when
higher is better, ``champion - challenger`` otherwise). Without a champion (the
first version of a model), it is promoted when it meets ``min_quality``, the
minimum declared in pipeline.yaml, or always when no minimum is declared.

Improvements are compared with a tolerance of 1e-9, so that ``0.85 - 0.80``
counts as a 0.05 improvement despite floating-point rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlops_nb.errors import RegistryError

__all__ = ["PromotionDecision", "decide_promotion"]

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
