"""Drift figures, built with matplotlib's object API.

Like :mod:`mlops_nb.modeling.plots`, every function returns a new
:class:`matplotlib.figure.Figure` that is not registered with ``pyplot``: no
GUI backend is needed and nothing stays open. They draw from the reference
profile and bounded samples, so they are fast on large data.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from mlops_nb.monitoring._columns import category_counts, float_values
from mlops_nb.monitoring.drift import DriftDetector
from mlops_nb.monitoring.errors import MonitoringError
from mlops_nb.monitoring.profile import FIT_SETTINGS, ColumnProfile, ReferenceProfile
from mlops_nb.monitoring.report import DriftReport

__all__ = ["drift_figure", "drift_overview_figure"]

REFERENCE_COLOR = "#7f7f7f"
CURRENT_COLOR = "#1f77b4"
DRIFT_COLOR = "#d62728"
QUIET_COLOR = "#c7c7c7"
MAX_CATEGORIES_SHOWN = 20
MAX_RATIO_SHOWN = 10.0


def drift_figure(
    source: DriftDetector | ReferenceProfile,
    current: pd.DataFrame,
    column: str,
    *,
    report: DriftReport | None = None,
) -> Figure:
    """Reference against current distribution of one column, the verdict in the title.

    Numeric columns: empirical CDFs (left; the x axis spans the 1-99 %
    range of both samples) and the share of rows in each reference-quantile
    bin (right; the bins PSI uses). Categorical columns: side-by-side shares
    of the most frequent categories, new categories in red.

    Args:
        source: A fitted :class:`DriftDetector` or a :class:`ReferenceProfile`
            (tested with the default parameters).
        current: The current rows (only ``column`` is read).
        column: The column to draw.
        report: The report of the whole data; its verdict (corrected for
            multiple testing across columns) is shown. Without it, the
            column is tested on its own.

    Raises:
        MonitoringError: If ``column`` is not profiled or missing from ``current``.
    """
    detector = source if isinstance(source, DriftDetector) else DriftDetector.from_profile(source)
    profile = detector.profile_[column]
    lookup = {str(label): label for label in current.columns}
    if column not in lookup:
        raise MonitoringError(
            f"column {column!r} is not in the current data; its columns are {', '.join(lookup)}.",
            columns=[column],
        )
    series = current[lookup[column]]
    row = _verdict(detector, profile, series, report)
    if profile.kind == "numeric":
        figure = Figure(figsize=(11, 4.4), layout="constrained")
        cdf_ax, bins_ax = figure.subplots(1, 2)
        values = _bounded(float_values(series), detector.max_current_sample, detector.random_state)
        _ecdf_axes(cdf_ax, profile, values)
        _bins_axes(bins_ax, profile, float_values(series))
    elif profile.kind == "categorical":
        figure = Figure(figsize=(11, 4.4), layout="constrained")
        _categories_axes(figure.add_subplot(), profile, series)
    else:
        figure = Figure(figsize=(6, 2.5), layout="constrained")
        ax = figure.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, "not tested", ha="center", va="center", transform=ax.transAxes)
    verdict = "DRIFT" if row["drifted"] else str(row["status"])
    reason = textwrap.fill(str(row["reason"]), width=110)
    figure.suptitle(f"{column}: {verdict}\n{reason}", fontsize=10)
    return figure


def drift_overview_figure(report: DriftReport) -> Figure:
    """Effect size of every column relative to its threshold, drifted columns in red.

    A bar reaching the dashed line at 1 is an effect large enough to matter;
    it is drifted (red) when its test is also significant. Columns short of
    data and skipped columns have no bar. Ratios above
    :data:`MAX_RATIO_SHOWN` are drawn at that length, hatched, their label
    giving the real ratio, and the axis label says so. A label sits inside its
    bar when the bar is long, so none runs past the frame.
    """
    table = report.features
    if report.prediction is not None:
        prediction = report.prediction.to_frame().T
        prediction["column"] = f"{report.prediction['column']} (prediction)"
        table = pd.concat([table, prediction], ignore_index=True)
    names = table["column"].astype(str).tolist()
    effect = table["effect"].to_numpy(dtype=float)
    threshold = table["threshold"].to_numpy(dtype=float)
    ratio = np.where(threshold > 0, effect / np.where(threshold > 0, threshold, 1.0), effect)
    ratio = np.nan_to_num(ratio, nan=0.0)
    shown = np.minimum(ratio, MAX_RATIO_SHOWN)
    capped = ratio > MAX_RATIO_SHOWN
    limit = max(2.0, float(shown.max(initial=0.0))) * 1.04
    colors = [
        DRIFT_COLOR if drifted else (CURRENT_COLOR if status == "no drift" else QUIET_COLOR)
        for drifted, status in zip(table["drifted"], table["status"], strict=True)
    ]
    figure = Figure(figsize=(9, 1.4 + 0.32 * max(len(names), 1)), layout="constrained")
    ax = figure.add_subplot()
    positions = np.arange(len(names))
    bars = ax.barh(positions, shown, color=colors)
    for bar, is_capped in zip(bars, capped, strict=True):
        if is_capped:
            bar.set_hatch("//")
            bar.set_edgecolor("white")
    for position, row, value, length, is_capped, color in zip(
        positions, table.itertuples(), ratio, shown, capped, colors, strict=True
    ):
        label = _overview_label(row, value, is_capped)
        _bar_label(ax, position, length, limit, label, color)
    ax.axvline(1.0, linestyle="--", color="black", linewidth=1)
    ax.set_yticks(positions, names)
    ax.invert_yaxis()
    ax.set_xlim(0, limit)
    note = (
        f"; bars capped at {MAX_RATIO_SHOWN:g} are hatched, the label gives the ratio"
        if capped.any()
        else ""
    )
    ax.set_xlabel(f"effect size ÷ threshold (≥ 1: large enough to matter){note}")
    verdict = "DRIFT" if report.dataset_drift else "no dataset drift"
    ax.set_title(
        f"{verdict}: {report.n_drifted} of {report.n_checked} checked features drifted "
        f"({report.drift_share:.0%}; threshold {report.drift_share_threshold:.0%})",
        fontsize=10,
    )
    return figure


def _overview_label(row: Any, ratio: float, capped: bool) -> str:
    if row.status not in ("drift", "no drift"):
        return str(row.status)
    label = f"{row.effect_name} {row.effect:.2g}"
    return f"{label} ({ratio:.0f}× threshold, capped)" if capped else label


def _bar_label(
    ax: Axes, position: float, length: float, limit: float, text: str, color: str
) -> None:
    """The label inside a long bar (right-aligned, white on the bar's colour), else after it."""
    if length > 0.55 * limit:
        x, align, ink, paper = length - limit * 0.01, "right", "white", color
    else:
        x, align, ink, paper = length + limit * 0.01, "left", "black", "white"
    ax.text(
        x,
        position,
        text,
        va="center",
        ha=align,
        fontsize=8,
        color=ink,
        clip_on=True,
        bbox={"facecolor": paper, "edgecolor": "none", "pad": 1.0, "alpha": 0.9},
    )


def _verdict(
    detector: DriftDetector,
    profile: ColumnProfile,
    series: pd.Series,
    report: DriftReport | None,
) -> pd.Series:
    """The report row of ``profile``'s column, from ``report`` or a one-column test."""
    if report is not None:
        if report.prediction is not None and report.prediction["column"] == profile.name:
            return report.prediction
        rows = report.features[report.features["column"] == profile.name]
        if len(rows):
            return rows.iloc[0]
    whole = detector.profile_
    single = ReferenceProfile(
        {profile.name: profile},
        whole.n_rows,
        {**whole.settings, "columns": [profile.name]},
        whole.created_at,
    )
    params = {
        key: value
        for key, value in detector.get_params().items()
        if key not in FIT_SETTINGS or key == "random_state"
    }
    alone = DriftDetector.from_profile(single, **params).test(series.to_frame(profile.name))
    return alone.prediction if alone.prediction is not None else alone.features.iloc[0]


def _bounded(values: np.ndarray, size: int, random_state: Any) -> np.ndarray:
    if values.size <= size:
        return values
    rng = np.random.default_rng(random_state)
    return values[rng.choice(values.size, size=size, replace=False)]


def _ecdf_axes(ax: Axes, profile: ColumnProfile, current: np.ndarray) -> None:
    for values, label, color in (
        (profile.sample, "reference", REFERENCE_COLOR),
        (current, "current", CURRENT_COLOR),
    ):
        if values.size:
            ordered = np.sort(values)
            heights = np.arange(1, ordered.size + 1) / ordered.size
            ax.step(
                ordered, heights, where="post", label=f"{label} (n={values.size:,})", color=color
            )
    both = np.concatenate([profile.sample, current])
    if both.size:
        low, high = np.quantile(both, [0.01, 0.99])
        if high > low:
            pad = 0.02 * (high - low)
            ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(0, 1.02)
    ax.set(
        xlabel=f"{profile.name} (1-99 % range)", ylabel="share of rows ≤ x", title="Empirical CDF"
    )
    ax.legend(loc="lower right", fontsize="small")


def _bins_axes(ax: Axes, profile: ColumnProfile, current: np.ndarray) -> None:
    count = profile.shares.size
    positions = np.arange(count)
    shares = np.zeros(count)
    if current.size:
        ordered = np.sort(current)
        below = np.searchsorted(ordered, profile.edges, side="left")
        shares = np.diff(np.concatenate([[0], below, [ordered.size]])) / ordered.size
    ax.bar(positions - 0.2, profile.shares, width=0.4, color=REFERENCE_COLOR, label="reference")
    ax.bar(positions + 0.2, shares, width=0.4, color=CURRENT_COLOR, label="current")
    step = max(1, count // 10)
    ticks = positions[::step]
    ax.set_xticks(ticks, [str(tick + 1) for tick in ticks])
    ax.set(
        xlabel="reference quantile bin (1 = lowest values)",
        ylabel="share of rows",
        title="Rows per reference quantile bin (PSI bins)",
    )
    ax.legend(loc="upper right", fontsize="small")


def _categories_axes(ax: Axes, profile: ColumnProfile, series: pd.Series) -> None:
    counts, _ = category_counts(series)
    n_current = max(sum(counts.values()), 1)
    n_reference = max(sum(profile.counts.values()), 1)
    keys = list(dict.fromkeys([*profile.counts, *counts]))
    before = np.array([profile.counts.get(key, 0) / n_reference for key in keys])
    after = np.array([counts.get(key, 0) / n_current for key in keys])
    order = np.argsort(-np.maximum(before, after), kind="stable")[:MAX_CATEGORIES_SHOWN]
    positions = np.arange(order.size)
    is_new = np.array([keys[i] not in profile.counts for i in order], dtype=bool)
    ax.bar(positions - 0.2, before[order], width=0.4, color=REFERENCE_COLOR, label="reference")
    current_colors = np.where(is_new, DRIFT_COLOR, CURRENT_COLOR)
    ax.bar(positions + 0.2, after[order], width=0.4, color=current_colors, label="current")
    labels = []
    for index, new in zip(order, is_new, strict=True):
        key = keys[index] if len(keys[index]) <= 18 else keys[index][:17] + "…"
        if new:
            key += "\n(new)"
        elif after[index] == 0:
            key += "\n(absent)"
        labels.append(key)
    rotated = order.size > 6
    ax.set_xticks(
        positions, labels, rotation=30 if rotated else 0, ha="right" if rotated else "center"
    )
    shown = "" if len(keys) <= MAX_CATEGORIES_SHOWN else f" (top {MAX_CATEGORIES_SHOWN})"
    ax.set(ylabel="share of rows", title=f"Category shares{shown}")
    handles = [
        Patch(color=REFERENCE_COLOR, label="reference"),
        Patch(color=CURRENT_COLOR, label="current"),
    ]
    if is_new.any():
        handles.append(Patch(color=DRIFT_COLOR, label="current, new category"))
    ax.legend(handles=handles, loc="upper right", fontsize="small")
