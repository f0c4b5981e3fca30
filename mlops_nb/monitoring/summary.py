"""The current data as a mergeable summary: all a drift check needs of it.

:func:`summarize` reduces one frame (or one partition of a dataset) to a
:class:`CurrentSummary` against a :class:`ReferenceProfile`; :func:`merge` adds
two summaries up (associative and commutative: every part is a count or a sum).
:meth:`DriftDetector.test <mlops_nb.monitoring.drift.DriftDetector.test>`
summarizes its whole frame and tests that summary, and
:meth:`~mlops_nb.monitoring.drift.DriftDetector.test_summary` tests a merged
one, so a dataset summarized partition by partition (on Dask workers, or one
partition at a time in a kernel) gets the same report as one process given all
its rows.

Per numeric column, with ``u_1 < ... < u_k`` the distinct values of the
reference sample:

* the count, mean and sum of squared deviations of the finite values (merged
  with Chan's pairwise formula, stable in floating point);
* the count in each reference-quantile bin (PSI);
* the count of current values equal to each ``u_j`` and strictly between
  consecutive ones (and below ``u_1``, above ``u_k``), and per such open
  interval the sum of the values' offsets from its reference end point.

The reference CDF is constant between consecutive ``u_j``, so the two-sample
Kolmogorov-Smirnov statistic (reached at some ``u_j`` or just before one) is
exact from these counts, on all current values; and the integral of the
current CDF over each interval is exact from its count and offset sum, so the
Wasserstein distance is exact except in an interval where the current CDF
crosses the reference one with at least two current values inside (see
:func:`~mlops_nb.monitoring._stats.wasserstein_grid` for the bound). While a
column holds few enough values for the exact KS p-value
(``n_reference_sample * n_current <= KS_EXACT_MAX``), the values themselves are
kept too. Per categorical column: the count of each category. Everything is
numpy arrays, numbers and dicts: small (at most a few hundred kilobytes per
column) and picklable.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from mlops_nb.monitoring._checks import check_schema, check_types
from mlops_nb.monitoring._columns import category_counts, float_values
from mlops_nb.monitoring._stats import KS_EXACT_MAX
from mlops_nb.monitoring.errors import MonitoringError
from mlops_nb.monitoring.profile import ColumnProfile, ReferenceProfile

__all__ = ["ColumnSummary", "CurrentSummary", "merge", "merge_all", "reference_grid", "summarize"]


def _ints(size: int = 0) -> np.ndarray:
    return np.zeros(size, dtype=np.int64)


def _floats(size: int = 0) -> np.ndarray:
    return np.zeros(size, dtype=np.float64)


@dataclass(eq=False)
class ColumnSummary:
    """What a drift check keeps of one current column.

    Attributes:
        name: Column name.
        kind: The profiled kind (``numeric``, ``categorical`` or ``skipped``).
        n_values: Values (missing, and ±inf for numbers, not counted).
        present: Whether the column was in the data (skipped columns may lack it).
        mean: Mean of the values (numeric; 0 without values).
        m2: Sum of squared deviations from ``mean`` (numeric).
        bins: Count per reference-quantile bin (numeric; ``len(edges) + 1``).
        at: Count equal to each distinct reference-sample value ``u_j``.
        between: Count strictly inside each open interval: below ``u_1``,
            between ``u_j`` and ``u_{j+1}``, above ``u_k`` (``k + 1``).
        offsets: Per open interval, the sum of the distances of its values
            from ``u_1`` (below it), from ``u_j`` (between) or from ``u_k``
            (above).
        values: The values themselves while at most ``keep`` (else None).
        keep: Most values kept (for the exact Kolmogorov-Smirnov p-value).
        counts: Count of each category, largest first (categorical).
    """

    name: str
    kind: str
    n_values: int = 0
    present: bool = True
    mean: float = 0.0
    m2: float = 0.0
    bins: np.ndarray = field(default_factory=_ints)
    at: np.ndarray = field(default_factory=_ints)
    between: np.ndarray = field(default_factory=_ints)
    offsets: np.ndarray = field(default_factory=_floats)
    values: np.ndarray | None = None
    keep: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def std(self) -> float:
        """Sample standard deviation of the values (0 for fewer than two)."""
        return float(np.sqrt(self.m2 / (self.n_values - 1))) if self.n_values > 1 else 0.0

    @property
    def below(self) -> np.ndarray:
        """Count of values strictly below each ``u_j``."""
        k = self.at.size
        below: np.ndarray = np.cumsum(self.between[:k]) + np.concatenate(
            [[0], np.cumsum(self.at[:-1])]
        )
        return below


@dataclass(eq=False)
class CurrentSummary:
    """The mergeable summary of current data against one reference profile.

    Attributes:
        n_rows: Rows summarized.
        columns: Summary of each profiled column, in the profile's order.
        ignored: Columns of the data that are not profiled (first seen first).
        parts: How many frames (partitions) were merged into it.
    """

    columns: dict[str, ColumnSummary]
    n_rows: int
    ignored: list[str] = field(default_factory=list)
    parts: int = 1


def reference_grid(column: ColumnProfile) -> tuple[np.ndarray, np.ndarray]:
    """The distinct reference-sample values ``u_j`` and the reference CDF at each."""
    sample = column.sample  # sorted by the profile; sorted again only if it is not
    if sample.size > 1 and not bool(np.all(sample[1:] >= sample[:-1])):
        sample = np.sort(sample)
    first = np.concatenate([[True], sample[1:] != sample[:-1]])
    points = sample[first]
    upto = np.concatenate([np.flatnonzero(first)[1:], [sample.size]])
    return points, upto / sample.size


def summarize(
    frame: pd.DataFrame, profile: ReferenceProfile, *, part: str | None = None
) -> CurrentSummary:
    """Summarize current rows ``frame`` against ``profile`` (see the module docstring).

    Args:
        frame: The rows (a whole data set or one partition; it may have no rows).
        profile: The reference profile the summary will be tested against.
        part: The partition's name, for error messages.

    Raises:
        MonitoringError: ``frame`` lacks a profiled column, or a column's type
            differs from the reference's (naming ``part``).
    """
    lookup = {str(label): label for label in frame.columns}
    tested = [c for c in profile.columns.values() if c.kind != "skipped"]
    check_schema(tested, lookup, part=part)
    series = {c.name: frame[lookup[c.name]] for c in tested}
    check_types(tested, series, part=part)
    columns = {}
    for column in profile.columns.values():
        if column.kind == "numeric":
            columns[column.name] = _numeric(column, series[column.name])
        elif column.kind == "categorical":
            counts, _ = category_counts(series[column.name])
            n_values = sum(counts.values())
            columns[column.name] = ColumnSummary(
                column.name, "categorical", n_values, counts=_ordered(counts)
            )
        else:
            present = column.name in lookup
            n_values = int(frame[lookup[column.name]].notna().sum()) if present else 0
            columns[column.name] = ColumnSummary(column.name, "skipped", n_values, present)
    ignored = [name for name in lookup if name not in profile.columns]
    return CurrentSummary(columns, len(frame), ignored)


def _numeric(column: ColumnProfile, series: pd.Series) -> ColumnSummary:
    values = float_values(series)
    points, _ = reference_grid(column)
    k = points.size
    n = values.size
    mean = float(values.mean()) if n else 0.0
    m2 = float(np.sum((values - mean) ** 2)) if n else 0.0
    ordered = np.sort(values)  # then every count is a search of k points in it
    below = np.searchsorted(ordered, points, side="left")
    upto = np.searchsorted(ordered, points, side="right")
    starts = np.concatenate([[0], upto])
    between = np.concatenate([below, [n]]) - starts
    edge_below = np.searchsorted(ordered, column.edges, side="left")
    bins = np.diff(np.concatenate([[0], edge_below, [n]]))
    marks = np.zeros(n + 1, dtype=np.int64)
    np.add.at(marks, below, 1)
    np.add.at(marks, upto, -1)
    inside = ordered[np.cumsum(marks[:n]) == 0]  # the values equal to no reference point
    index = np.repeat(np.arange(k + 1), between)
    offset = np.where(index > 0, inside - points[np.maximum(index - 1, 0)], points[0] - inside)
    keep = KS_EXACT_MAX // column.sample.size
    return ColumnSummary(
        column.name,
        "numeric",
        n,
        mean=mean,
        m2=m2,
        bins=bins.astype(np.int64),
        at=(upto - below).astype(np.int64),
        between=between.astype(np.int64),
        offsets=np.bincount(index, weights=offset, minlength=k + 1).astype(np.float64),
        values=values.copy() if n <= keep else None,
        keep=keep,
    )


def merge(a: CurrentSummary, b: CurrentSummary) -> CurrentSummary:
    """The summary of the rows of ``a`` and of ``b`` together.

    Raises:
        MonitoringError: The two were not summarized against the same profile.
    """
    if list(a.columns) != list(b.columns):
        raise MonitoringError(
            "cannot merge drift summaries of different reference profiles (columns "
            f"{', '.join(a.columns)} vs {', '.join(b.columns)}): summarize every partition "
            "against the same profile.",
        )
    columns = {name: _merge_column(a.columns[name], b.columns[name]) for name in a.columns}
    ignored = list(dict.fromkeys([*a.ignored, *b.ignored]))
    return CurrentSummary(columns, a.n_rows + b.n_rows, ignored, a.parts + b.parts)


def merge_all(summaries: Iterable[CurrentSummary]) -> CurrentSummary:
    """:func:`merge` of one or more summaries.

    Raises:
        MonitoringError: No summary was given, or they differ in profile.
    """
    merged: CurrentSummary | None = None
    for summary in summaries:
        merged = summary if merged is None else merge(merged, summary)
    if merged is None:
        raise MonitoringError(
            "no partitions to summarize: the current dataset has no files; point current_data "
            "at a folder or glob of Parquet files."
        )
    return merged


def _merge_column(a: ColumnSummary, b: ColumnSummary) -> ColumnSummary:
    if a.kind != b.kind or a.bins.size != b.bins.size or a.at.size != b.at.size:
        raise MonitoringError(
            f"cannot merge drift summaries of column {a.name!r} built against different "
            "reference profiles: summarize every partition against the same profile.",
            columns=[a.name],
        )
    n = a.n_values + b.n_values
    merged = replace(a, n_values=n, present=a.present or b.present)
    if a.kind == "categorical":
        counts = dict(a.counts)
        for key, count in b.counts.items():
            counts[key] = counts.get(key, 0) + count
        merged.counts = _ordered(counts)
    elif a.kind == "numeric":
        delta = b.mean - a.mean
        merged.mean = a.mean + delta * b.n_values / n if n else 0.0
        merged.m2 = a.m2 + b.m2 + (delta**2 * a.n_values * b.n_values / n if n else 0.0)
        merged.bins = a.bins + b.bins
        merged.at = a.at + b.at
        merged.between = a.between + b.between
        merged.offsets = a.offsets + b.offsets
        merged.values = None
        if a.values is not None and b.values is not None and n <= a.keep:
            merged.values = np.concatenate([a.values, b.values])
    return merged


def _ordered(counts: dict[str, int]) -> dict[str, int]:
    """Counts largest first, ties by key: the same order however the rows were split."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
