"""Model performance on current data against a reference: has it degraded?

::

    check = performance_check(
        current_metrics={"roc_auc": 0.74, "log_loss": 0.52},
        reference_metrics={"roc_auc": 0.81, "log_loss": 0.47},
        tolerance={"roc_auc": 0.02, "log_loss": 0.05},
    )
    check.degraded            # True: roc_auc fell by 0.07 > 0.02
    check.table               # one row per metric

The direction of each metric comes from :mod:`mlops_nb.modeling.metrics`
(``roc_auc`` higher is better, ``rmse`` lower is better, ...); other metrics
need ``higher_is_better``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import pandas as pd

from mlops_nb.errors import ModelingError
from mlops_nb.jsonvalues import json_safe
from mlops_nb.modeling.metrics import check_metric
from mlops_nb.monitoring.errors import MonitoringError

__all__ = ["PERFORMANCE_COLUMNS", "PerformanceReport", "performance_check"]

PERFORMANCE_COLUMNS: tuple[str, ...] = (
    "metric",
    "higher_is_better",
    "reference",
    "current",
    "change",
    "worse_by",
    "allowed_drop",
    "degraded",
    "status",
)
"""Columns of :attr:`PerformanceReport.metrics`, in order."""


@dataclass(repr=False, eq=False)
class PerformanceReport:
    """The result of :func:`performance_check`.

    Attributes:
        table: One row per checked metric: ``metric``, ``higher_is_better``,
            ``reference``, ``current``, ``change`` (current - reference),
            ``worse_by`` (how much worse, in the metric's units; negative when
            better), ``allowed_drop`` (the tolerance, in the metric's units),
            ``degraded`` and ``status`` (``degraded``, ``ok``, ``improved`` or
            ``undefined`` when either value is NaN).
        degraded: Whether any metric degraded.
        skipped: Metrics the tolerance names that are missing from either side
            (e.g. ``rmse`` for a classifier), not checked.
    """

    table: pd.DataFrame
    degraded: bool
    skipped: list[str] = field(default_factory=list)

    @property
    def degraded_metrics(self) -> list[str]:
        """Names of the degraded metrics."""
        return [str(name) for name in self.table.loc[self.table["degraded"], "metric"]]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-safe values (e.g. for a stage manifest)."""
        rows = self.table.to_dict("records")
        return {
            "degraded": self.degraded,
            "degraded_metrics": self.degraded_metrics,
            "metrics": [{str(k): json_safe(v) for k, v in row.items()} for row in rows],
            "skipped": list(self.skipped),
        }

    def summary(self) -> str:
        """One line per metric after the verdict."""
        verdict = "DEGRADED" if self.degraded else "no degradation"
        lines = [f"{verdict}: {len(self.degraded_metrics)} of {len(self.table)} metrics"]
        for row in self.table.itertuples():
            lines.append(
                f"  {row.metric}: {row.reference:.4g} → {row.current:.4g} "
                f"(worse by {row.worse_by:.4g}, allowed {row.allowed_drop:.4g}): {row.status}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"PerformanceReport({self.summary()})"


def performance_check(
    current_metrics: Mapping[str, Any],
    reference_metrics: Mapping[str, Any],
    tolerance: float | Mapping[str, float],
    *,
    higher_is_better: Mapping[str, bool] | None = None,
    relative: bool = False,
) -> PerformanceReport:
    """Compare current metrics with reference ones: which got worse than allowed?

    A metric is degraded when it is worse than the reference by more than
    its tolerance, in its own direction (a fall for ``roc_auc``, a rise for
    ``rmse``). A NaN value on either side makes the metric ``undefined``, not
    degraded.

    Args:
        current_metrics: Metrics on the current data (e.g. :func:`~mlops_nb.evaluate`'s
            dict; ``n`` and non-numeric values are ignored).
        reference_metrics: The same metrics on the reference (e.g. the holdout
            at registration).
        tolerance: Allowed worsening: one number for every metric the two
            dicts share, or a dict checking the metrics it names (those
            missing from either side, e.g. ``rmse`` for a classifier, are
            listed in :attr:`PerformanceReport.skipped`).
        higher_is_better: Direction of metrics :mod:`mlops_nb.modeling.metrics`
            does not know (or to override it), e.g. ``{"recall": True}``.
        relative: Whether a tolerance is a fraction of the reference value
            (0.05: 5 % worse allowed) instead of an absolute amount.

    Returns:
        The :class:`PerformanceReport`.

    Raises:
        MonitoringError: No metric to compare, a negative or non-numeric
            tolerance or metric value, or a metric of unknown direction.
    """
    names, skipped = _metric_names(current_metrics, reference_metrics, tolerance)
    directions = dict(higher_is_better or {})
    rows = []
    for name in names:
        allowed = _tolerance(tolerance, name)
        up = _direction(name, directions)
        before = _value(reference_metrics[name], name, "reference")
        after = _value(current_metrics[name], name, "current")
        if relative:
            allowed *= abs(before)
        change = after - before
        worse_by = -change if up else change
        if math.isnan(worse_by):
            status, degraded = "undefined", False
        else:
            degraded = worse_by > allowed
            status = "degraded" if degraded else ("improved" if worse_by < 0 else "ok")
        rows.append(
            {
                "metric": name,
                "higher_is_better": up,
                "reference": before,
                "current": after,
                "change": change,
                "worse_by": worse_by,
                "allowed_drop": allowed,
                "degraded": degraded,
                "status": status,
            }
        )
    table = pd.DataFrame(rows, columns=list(PERFORMANCE_COLUMNS))
    table["degraded"] = table["degraded"].astype(bool)
    return PerformanceReport(table, bool(table["degraded"].any()), skipped)


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _metric_names(
    current: Mapping[str, Any], reference: Mapping[str, Any], tolerance: Any
) -> tuple[list[str], list[str]]:
    """The metrics to check, and those the tolerance names that cannot be."""
    if isinstance(tolerance, Mapping):
        named = [str(name) for name in tolerance]
        names = [name for name in named if name in current and name in reference]
        skipped = [name for name in named if name not in names]
    else:
        names = [
            str(name)
            for name, value in reference.items()
            if name != "n" and name in current and _is_number(value)
        ]
        skipped = []
    if not names:
        wanted = f" of {', '.join(skipped)}" if skipped else ""
        raise MonitoringError(
            f"no metric to compare: the current metrics ({', '.join(map(str, current)) or 'none'}) "
            f"and the reference metrics ({', '.join(map(str, reference)) or 'none'}) share no "
            f"numeric metric{wanted}; pass dicts like {{'roc_auc': 0.81}}.",
            parameter="tolerance",
        )
    return names, skipped


def _tolerance(tolerance: Any, name: str) -> float:
    value = tolerance[name] if isinstance(tolerance, Mapping) else tolerance
    if not _is_number(value) or not value >= 0 or not math.isfinite(value):
        raise MonitoringError(
            f"tolerance {value!r} for metric {name!r} is invalid: use a number >= 0 (the "
            "allowed worsening), e.g. tolerance=0.02.",
            parameter="tolerance",
            metric=name,
        )
    return float(value)


def _direction(name: str, overrides: Mapping[str, bool]) -> bool:
    if name in overrides:
        return bool(overrides[name])
    try:
        return check_metric(name).higher_is_better
    except ModelingError as exc:
        raise MonitoringError(
            f"metric {name!r} has no known direction; pass higher_is_better={{{name!r}: True}} "
            "(or False when lower is better).",
            parameter="higher_is_better",
            metric=name,
        ) from exc


def _value(value: Any, name: str, side: str) -> float:
    if value is None:
        return math.nan
    if not _is_number(value):
        raise MonitoringError(
            f"{side} value of metric {name!r} is {value!r}, not a number.",
            parameter=f"{side}_metrics",
            metric=name,
        )
    return float(value)
