"""The fairness check: how a model treats the groups of its sensitive columns.

The holdout rows are grouped by each sensitive column (``governance.sensitive``
in pipeline.yaml; a missing value is its own group). Per group: rows, the
primary metric and, for binary classification, the **selection rate** (share
predicted positive) and the **true-positive rate** (share of actual positives
predicted positive). A disparity is the spread of one measure across the groups
of one column: the **difference** (largest minus smallest) and the **ratio**
(smallest over largest; 1 is parity, the "four-fifths rule" asks ≥ 0.8).

Groups with fewer than ``min_group_rows`` holdout rows are shown but never
judged: a difference measured on a handful of rows is noise, not evidence.
``max_disparity`` bounds the difference per measure (``selection_rate``,
``tpr``, ``metric`` or the primary metric's name); a bound exceeded fails the
check, and the gate then keeps the champion with the numbers in its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlops_nb.errors import ModelingError
from mlops_nb.modeling.metrics import metric_values, primary_metric
from mlops_nb.modeling.predictions import Predictions
from mlops_nb.modeling.slices import slice_labels

__all__ = ["FairnessReport", "fairness_figure", "fairness_report"]

GROUP_COLUMNS = ["column", "group", "n", "metric", "selection_rate", "tpr", "judged"]
DISPARITY_COLUMNS = ["column", "measure", "lowest", "highest", "difference", "ratio", "limit"]


@dataclass(frozen=True)
class FairnessReport:
    """Per-group measures and their disparities, and whether the bounds hold.

    Attributes:
        metric: The primary metric's name (the ``metric`` measure).
        groups: One row per column and group: ``n``, ``metric``,
            ``selection_rate``, ``tpr`` (NaN where undefined), ``judged``.
        disparities: One row per column and measure over the judged groups:
            ``lowest``/``highest`` (``group=value``), ``difference``, ``ratio``,
            ``limit`` (NaN: unbounded) and ``exceeded``.
        bounds: The ``max_disparity`` applied.
    """

    metric: str
    groups: pd.DataFrame
    disparities: pd.DataFrame
    bounds: Mapping[str, float] = field(default_factory=dict)

    @property
    def violations(self) -> pd.DataFrame:
        """The disparities over their bound."""
        return self.disparities[self.disparities["exceeded"]]

    @property
    def passed(self) -> bool:
        """Whether no bound is exceeded."""
        return bool(self.violations.empty)

    @property
    def summary(self) -> str:
        """One sentence: what was judged and what failed, with the numbers."""
        if self.disparities.empty:
            return "no sensitive column had two groups large enough to compare"
        if self.passed:
            bounded = ", ".join(f"{k} ≤ {v:g}" for k, v in self.bounds.items()) or "none set"
            return f"every disparity within its bound ({bounded})"
        parts = [
            f"{row.measure} on {row.column} differs by {row.difference:.3g} between "
            f"{row.lowest} and {row.highest} (max_disparity {row.limit:g})"
            for row in self.violations.itertuples()
        ]
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON values: metric, passed, summary, bounds, groups and disparities."""
        return {
            "metric": self.metric,
            "passed": self.passed,
            "summary": self.summary,
            "bounds": dict(self.bounds),
            "groups": _records(self.groups),
            "disparities": _records(self.disparities),
        }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{str(k): (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in rows]


def fairness_report(
    predictions: Predictions,
    groups: pd.DataFrame,
    *,
    max_disparity: Mapping[str, float] | None = None,
    min_group_rows: int = 30,
) -> FairnessReport:
    """Measure ``predictions`` per group of each column of ``groups``.

    Args:
        predictions: The holdout's predictions (:func:`~mlops_nb.modeling.predict`).
        groups: The sensitive columns of the same rows, in the same order.
        max_disparity: Measure → the largest difference allowed.
        min_group_rows: Groups with fewer rows are listed, not judged.

    Raises:
        ModelingError: ``groups`` has another number of rows, or a bound names
            a measure this task does not have.
    """
    if len(groups) != len(predictions):
        raise ModelingError(
            f"the sensitive columns have {len(groups)} rows but the predictions {len(predictions)};"
            f" pass the sensitive columns of the holdout rows that were predicted."
        )
    metric = primary_metric(predictions.task).name
    bounds = {(metric if k == "metric" else k): float(v) for k, v in (max_disparity or {}).items()}
    measures = [metric, *(["selection_rate", "tpr"] if predictions.task == "binary" else [])]
    unknown = sorted(set(bounds) - set(measures))
    if unknown:
        raise ModelingError(
            f"max_disparity names {', '.join(unknown)}, which a {predictions.task} model does "
            f"not have; bound one of: metric, {', '.join(measures)}."
        )
    rows = []
    for column in groups.columns:
        labels, order = slice_labels(groups[column].reset_index(drop=True))
        for value in order:
            mask = labels == value
            rows.append(_group_row(predictions, mask, str(column), value, metric, min_group_rows))
    table = pd.DataFrame(rows, columns=GROUP_COLUMNS)
    return FairnessReport(metric, table, _disparities(table, measures, metric, bounds), bounds)


def _group_row(
    p: Predictions, mask: np.ndarray, column: str, value: str, metric: str, min_rows: int
) -> dict[str, Any]:
    n = int(mask.sum())
    part = p.subset(mask)
    row: dict[str, Any] = {"column": column, "group": value, "n": n, "judged": n >= min_rows}
    row["metric"] = metric_values(part)[metric] if n else float("nan")
    row["selection_rate"] = row["tpr"] = float("nan")
    if p.task == "binary" and p.classes is not None and n:
        positive = p.classes[-1]
        chosen = part.y_pred == positive
        row["selection_rate"] = float(chosen.mean())
        actual = part.y_true == positive
        row["tpr"] = float(chosen[actual].mean()) if actual.any() else float("nan")
    return row


def _disparities(
    table: pd.DataFrame, measures: list[str], metric: str, bounds: Mapping[str, float]
) -> pd.DataFrame:
    rows = []
    for column, part in table[table["judged"]].groupby("column", sort=False):
        for measure in measures:
            values = part["metric" if measure == metric else measure].astype(float)
            present = part[values.notna()]
            values = values.dropna()
            if len(values) < 2:
                continue
            low, high = values.idxmin(), values.idxmax()
            difference = float(values[high] - values[low])
            limit = bounds.get(measure, float("nan"))
            rows.append(
                {
                    "column": column,
                    "measure": measure,
                    "lowest": f"{column}={present.loc[low, 'group']} ({values[low]:.3g})",
                    "highest": f"{column}={present.loc[high, 'group']} ({values[high]:.3g})",
                    "difference": difference,
                    "ratio": float(values[low] / values[high]) if values[high] else float("nan"),
                    "limit": limit,
                    "exceeded": bool(not np.isnan(limit) and difference > limit + 1e-12),
                }
            )
    return pd.DataFrame(rows, columns=[*DISPARITY_COLUMNS, "exceeded"])


def fairness_figure(report: FairnessReport) -> Any:
    """Bars of each measure per group, one row of panels per sensitive column.

    Unjudged groups (too few rows) are drawn hatched; a bound is a dashed line
    above the lowest group's value.
    """
    from matplotlib.figure import Figure

    columns = list(dict.fromkeys(report.groups["column"]))
    measures = ["metric", "selection_rate", "tpr"]
    shown = [m for m in measures if report.groups[m].notna().any()]
    figure = Figure(figsize=(4 * max(len(shown), 1), 3 * max(len(columns), 1)), layout="tight")
    axes = figure.subplots(max(len(columns), 1), max(len(shown), 1), squeeze=False)
    for i, column in enumerate(columns):
        part = report.groups[report.groups["column"] == column]
        for j, measure in enumerate(shown):
            ax = axes[i][j]
            values = part[measure].astype(float).fillna(0.0).to_numpy()
            bars = ax.bar(part["group"].astype(str), values, color="#4c72b0")
            for bar, judged in zip(bars, part["judged"], strict=True):
                if not judged:
                    bar.set_hatch("//")
                    bar.set_alpha(0.5)
            name = report.metric if measure == "metric" else measure
            limit = report.bounds.get(name)
            judged_values = part.loc[part["judged"], measure].dropna()
            if limit is not None and not judged_values.empty:
                ax.axhline(float(judged_values.min()) + limit, linestyle="--", color="#c44e52")
            ax.set_title(f"{name} by {column}")
            ax.tick_params(axis="x", labelrotation=30)
    return figure
