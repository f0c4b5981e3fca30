"""The result of a drift check: :class:`DriftReport`, one row per column with a reason.

:meth:`DriftDetector.test <mlops_nb.monitoring.drift.DriftDetector.test>` builds
it; :mod:`mlops_nb.monitoring.plots` draws it and the monitor stage saves its
:meth:`~DriftReport.to_dict`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mlops_nb.jsonvalues import json_safe

__all__ = ["REPORT_COLUMNS", "STATUSES", "DriftReport"]

REPORT_COLUMNS: tuple[str, ...] = (
    "column",
    "kind",
    "status",
    "test",
    "statistic",
    "p_value",
    "p_adjusted",
    "effect_name",
    "effect",
    "threshold",
    "psi",
    "n_reference",
    "n_current",
    "missing_reference",
    "missing_current",
    "new_categories",
    "missing_categories",
    "drifted",
    "reason",
)
"""Columns of :attr:`DriftReport.features`, in order."""
STATUSES: tuple[str, ...] = ("drift", "no drift", "insufficient data", "skipped")


@dataclass(repr=False, eq=False)
class DriftReport:
    """The result of :meth:`DriftDetector.test`.

    Attributes:
        features: One row per profiled column but the prediction column, in
            the reference's column order, with the columns
            :data:`REPORT_COLUMNS`: ``status`` is one of :data:`STATUSES`;
            ``p_adjusted`` the corrected p-value; ``effect`` the effect size
            named ``effect_name`` (``wasserstein``, ``psi`` or ``js``) compared
            with ``threshold``; ``psi`` is always the PSI; ``n_*`` count values
            (missing dropped) and ``missing_*`` are missing shares;
            ``reason`` says why in one sentence.
        prediction: The row of the prediction column (same fields), or None.
        drift_share: Drifted features / checked features (0 if none was checked).
        dataset_drift: Whether ``drift_share`` reached ``drift_share_threshold``.
        n_drifted: Drifted features.
        n_checked: Features tested (neither skipped nor short of data).
        n_rows: Rows of the current data.
        ignored_columns: Columns of the current data that are not profiled.
        alpha: Significance level used.
        correction: Multiple-testing correction used.
        drift_share_threshold: The detector's ``drift_share``.
    """

    features: pd.DataFrame
    prediction: pd.Series | None
    drift_share: float
    dataset_drift: bool
    n_drifted: int
    n_checked: int
    n_rows: int
    ignored_columns: list[str]
    alpha: float
    correction: str
    drift_share_threshold: float

    @property
    def drifted_columns(self) -> list[str]:
        """Names of the drifted features (the prediction column not included)."""
        return [str(name) for name in self.features.loc[self.features["drifted"], "column"]]

    @property
    def prediction_drift(self) -> bool:
        """Whether the prediction column drifted (False without one)."""
        return bool(self.prediction is not None and self.prediction["drifted"])

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-safe values (e.g. for a stage manifest)."""
        return {
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "drift_share_threshold": self.drift_share_threshold,
            "n_drifted": self.n_drifted,
            "n_checked": self.n_checked,
            "n_rows": self.n_rows,
            "alpha": self.alpha,
            "correction": self.correction,
            "drifted_columns": self.drifted_columns,
            "prediction_drift": self.prediction_drift,
            "ignored_columns": list(self.ignored_columns),
            "features": [_record(row) for row in self.features.to_dict("records")],
            "prediction": None if self.prediction is None else _record(self.prediction.to_dict()),
        }

    def summary(self) -> str:
        """A few lines: the verdict, then one line per drifted column."""
        verdict = "DRIFT" if self.dataset_drift else "no dataset drift"
        sign = "≥" if self.dataset_drift else "<"
        lines = [
            f"{verdict}: {self.n_drifted} of {self.n_checked} checked features drifted "
            f"({self.drift_share:.0%} {sign} {self.drift_share_threshold:.0%}); "
            f"{self.n_rows:,} rows, {self.correction} correction at alpha {self.alpha:g}."
        ]
        if self.prediction is not None:
            lines.append(
                f"prediction column {self.prediction['column']!r}: {self.prediction['reason']}"
            )
        for row in self.features[self.features["drifted"]].itertuples():
            lines.append(f"  {row.column}: {row.reason}")
        counts = self.features["status"].value_counts()
        notes = [f"{counts[s]} {s}" for s in ("insufficient data", "skipped") if s in counts]
        if notes:
            lines.append(f"({', '.join(notes)})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"DriftReport({self.summary()})"

    def _repr_html_(self) -> str:
        from html import escape

        summary = escape(self.summary()).replace("\n", "<br>")
        return f"<p>{summary}</p>{self.features.to_html(index=False)}"


def _record(row: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key): json_safe(value) for key, value in row.items()}
