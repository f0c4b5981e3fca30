"""Building a reference profile from data: what :meth:`DriftDetector.fit` runs.

:func:`build_profile` summarises each column once, as
:mod:`~mlops_nb.monitoring.profile` describes; a drift check then never needs
the reference data again.

Column kinds (decided at fit):

* ``"categorical"``: text, boolean and pandas categorical columns, integer
  columns with at most ``max_discrete`` distinct values, and the columns named
  in ``categorical``;
* ``"numeric"``: other integer and float columns;
* ``"skipped"`` (profiled but never tested, with a ``note`` saying why):
  datetime columns (they move with time by construction), columns without a
  value, and text columns too sparse to test -- more than ``max_categories``
  distinct values, or more than 20 distinct values making up at least half of
  the rows (identifiers, free text).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from mlops_nb.monitoring._columns import category_counts, family, float_values
from mlops_nb.monitoring.errors import MonitoringError
from mlops_nb.monitoring.profile import QUANTILES, ColumnProfile, ReferenceProfile

__all__ = ["build_profile"]

SPARSE_MIN_DISTINCT = 20
SPARSE_DISTINCT_SHARE = 0.5


class _Base(TypedDict):
    """What every column profile starts from: its name, dtype, type family and rows."""

    name: str
    dtype: str
    family: str
    n: int


def build_profile(
    X: pd.DataFrame,
    *,
    columns: Iterable[str] | None = None,
    categorical: Iterable[str] | None = None,
    max_discrete: int = 10,
    max_categories: int = 200,
    bins: int = 20,
    max_reference_sample: int = 10_000,
    random_state: Any = 0,
) -> ReferenceProfile:
    """Summarise the reference data (see the module docstring for the column kinds).

    Args:
        X: The reference rows.
        columns: Columns to monitor (default: all, in ``X``'s order).
        categorical: Columns to treat as categorical whatever their dtype.
        max_discrete: Integer columns with at most this many distinct values
            are categorical (0: never).
        max_categories: Text columns with more distinct values are skipped.
        bins: Number of reference-quantile bins of numeric columns (PSI, plots).
        max_reference_sample: Size of the random sample of each numeric
            column kept for the two-sample tests.
        random_state: Seed (or numpy Generator) of the sampling.

    Returns:
        The profile.

    Raises:
        MonitoringError: If ``X`` has no rows or lacks a named column.
    """
    names = _selected(X, columns, "columns")
    forced = set(_selected(X, categorical, "categorical")) if categorical is not None else set()
    if len(X) == 0:
        raise MonitoringError(
            "the reference data has no rows; fit the drift detector on the data the model "
            "was trained or validated on.",
            rows=0,
        )
    rng = np.random.default_rng(random_state)
    lookup = {str(label): label for label in X.columns}
    profiled = {}
    for name in names:
        series = X[lookup[name]]
        profiled[name] = _profile_column(
            name,
            series,
            categorical=name in forced,
            max_discrete=max_discrete,
            max_categories=max_categories,
            bins=bins,
            sample_size=max_reference_sample,
            rng=rng,
        )
    settings = {
        "columns": None if columns is None else list(names),
        "categorical": None if categorical is None else sorted(forced),
        "max_discrete": int(max_discrete),
        "max_categories": int(max_categories),
        "bins": int(bins),
        "max_reference_sample": int(max_reference_sample),
        "random_state": random_state if isinstance(random_state, int) else None,
    }
    created = datetime.now(UTC).isoformat(timespec="seconds")
    return ReferenceProfile(profiled, len(X), settings, created)


def _selected(X: pd.DataFrame, names: Iterable[str] | None, parameter: str) -> list[str]:
    """Column names as text, checked against ``X`` (all of ``X``'s columns for None)."""
    available = [str(label) for label in X.columns]
    if names is None:
        return available
    if isinstance(names, str):
        names = [names]
    wanted = [str(name) for name in names]
    unknown = [name for name in wanted if name not in set(available)]
    if unknown:
        raise MonitoringError(
            f"{parameter} names {len(unknown)} column(s) the reference data lacks: "
            f"{', '.join(map(repr, unknown))}; its columns are {', '.join(available)}.",
            parameter=parameter,
            columns=unknown,
        )
    return list(dict.fromkeys(wanted))


def _profile_column(
    name: str,
    series: pd.Series,
    *,
    categorical: bool,
    max_discrete: int,
    max_categories: int,
    bins: int,
    sample_size: int,
    rng: np.random.Generator,
) -> ColumnProfile:
    kind_family = family(series)
    base = _Base(name=name, dtype=str(series.dtype), family=kind_family, n=len(series))
    n_missing = int(series.isna().sum())
    if n_missing == len(series):
        return ColumnProfile(
            kind="skipped", n_missing=n_missing, note="no values in the reference", **base
        )
    if kind_family == "datetime":
        note = "datetime column: it moves with time by construction, so it is not tested"
        return ColumnProfile(kind="skipped", n_missing=n_missing, note=note, **base)
    numeric = kind_family == "numeric" and not isinstance(series.dtype, pd.CategoricalDtype)
    if numeric and not categorical:
        values = np.sort(float_values(series))
        n_distinct = 1 + int(np.count_nonzero(np.diff(values))) if values.size else 0
        discrete = pd.api.types.is_integer_dtype(series.dtype) and n_distinct <= max_discrete
        if not discrete:
            return _numeric_profile(base, values, bins, sample_size, rng)
    return _categorical_profile(base, series, n_missing, max_categories)


def _numeric_profile(
    base: _Base,
    values: np.ndarray,
    bins: int,
    sample_size: int,
    rng: np.random.Generator,
) -> ColumnProfile:
    """Profile of a numeric column from its sorted finite values."""
    n_missing = base["n"] - values.size
    if values.size == 0:
        return ColumnProfile(
            kind="skipped", n_missing=n_missing, note="no finite values in the reference", **base
        )
    quantiles = np.quantile(values, QUANTILES)
    std = float(values.std(ddof=1)) if values.size > 1 else 0.0
    scale = std if std > 0 else 1.0
    edges = np.unique(np.quantile(values, np.arange(1, bins) / bins))
    below = np.searchsorted(values, edges, side="left")
    shares = np.diff(np.concatenate([[0], below, [values.size]])) / values.size
    if values.size > sample_size:
        sample = values[np.sort(rng.choice(values.size, size=sample_size, replace=False))]
    else:
        sample = values.copy()
    return ColumnProfile(
        kind="numeric",
        n_missing=n_missing,
        mean=float(values.mean()),
        std=std,
        minimum=float(values[0]),
        maximum=float(values[-1]),
        scale=float(scale),
        quantiles={str(q): float(v) for q, v in zip(QUANTILES, quantiles, strict=True)},
        edges=edges.astype(np.float64),
        shares=shares.astype(np.float64),
        sample=sample.astype(np.float64),
        **base,
    )


def _categorical_profile(
    base: _Base, series: pd.Series, n_missing: int, max_categories: int
) -> ColumnProfile:
    counts, n_distinct = category_counts(series, limit=max_categories)
    n_valid = base["n"] - n_missing
    if n_distinct > max_categories:
        note = f"{n_distinct:,} distinct values > max_categories {max_categories}"
        return ColumnProfile(kind="skipped", n_missing=n_missing, note=note, **base)
    if n_distinct > SPARSE_MIN_DISTINCT and n_distinct >= SPARSE_DISTINCT_SHARE * n_valid:
        note = (
            f"identifier-like: {n_distinct:,} distinct values in {n_valid:,} rows "
            "(too sparse for a distribution test)"
        )
        return ColumnProfile(kind="skipped", n_missing=n_missing, note=note, **base)
    ordered = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return ColumnProfile(kind="categorical", n_missing=n_missing, counts=ordered, **base)
