"""Data and prediction drift: a scikit-learn style detector; its report is in ``report``.

::

    detector = DriftDetector().fit(reference)        # profiles the reference once
    report = detector.test(current)                  # -> DriftReport
    report.dataset_drift, report.drift_share         # True/False, share of drifted features
    report.features                                  # one row per column, with a reason
    detector.profile_.save("drift_profile.json")     # later: DriftDetector.from_profile(path)

A column is **drifted** only when all three hold:

1. its test is significant after multiple-testing correction across the
   columns of the report (``p_adjusted < alpha``): two-sample Kolmogorov-Smirnov
   for numeric columns, chi-square for categorical ones;
2. the change is large enough to matter: its effect size reaches its
   threshold -- by default the Wasserstein distance divided by the reference
   standard deviation for numeric columns and the Jensen-Shannon distance
   for categorical ones (``numeric_effect``/``categorical_effect="psi"`` use
   the population stability index instead) -- or, for a categorical column, a
   new category holds at least ``category_share`` of the current rows, or a
   category with at least that share of the reference is absent with an
   absence that is unlikely by chance;
3. both samples have at least ``min_samples`` values (otherwise the column is
   reported as ``insufficient data`` and is never drifted).

The significance gate bounds false alarms: with the default Holm correction
the chance that a report flags any column when nothing changed is at most
``alpha`` (the tests themselves are exact or asymptotically valid, and
conservative for discrete numbers). The effect-size gate keeps large samples,
where every test is significant, from raising alarms on tiny, irrelevant
shifts. The Kolmogorov-Smirnov test and the Wasserstein distance compare the
reference sample (``max_reference_sample`` values kept at fit) with **every**
current value (the KS statistic exactly; the distance exactly or, where the two
CDFs cross between reference values, within a bound of a few thousandths of a
standard deviation: see :func:`~mlops_nb.monitoring._stats.wasserstein_grid`);
PSI bins and category counts use every current row too.

The current data is first reduced to a mergeable
:class:`~mlops_nb.monitoring.summary.CurrentSummary` (counts and sums against
the profile, see :mod:`~mlops_nb.monitoring.summary`); :meth:`DriftDetector.test`
summarizes its frame and :meth:`DriftDetector.test_summary` tests a summary, so
a dataset summarized partition by partition and merged
(:meth:`DriftDetector.test_partitions`, or on Dask workers) gets the report of
one process given all its rows: the same counts, decisions and reasons, the
statistics equal but for floating-point summation order (about 1e-15).

The prediction column (``prediction_column``, when profiled) is tested like
the others and is part of the corrected family, but it is reported apart
(:attr:`DriftReport.prediction`) and not counted in the drift share. Dataset
drift is declared when the share of drifted features among those checked
(columns that are neither skipped nor short of data) reaches ``drift_share``.

Missing values (NaN/None, and ±inf for numbers) are dropped before the tests;
the missing share of each column in both data sets is reported.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from mlops_nb.monitoring._checks import as_frame, check_choice, check_int, check_range
from mlops_nb.monitoring._rows import base_row, categorical_reason, numeric_reason, skipped_row
from mlops_nb.monitoring._stats import (
    CORRECTIONS,
    KS_EXACT_MAX,
    absence_p_value,
    adjust_pvalues,
    chi2_homogeneity,
    js_distance,
    ks_asymptotic_p,
    ks_grid,
    ks_test,
    psi,
    wasserstein_grid,
)
from mlops_nb.monitoring.errors import MonitoringError
from mlops_nb.monitoring.profile import FIT_SETTINGS, ColumnProfile, ReferenceProfile
from mlops_nb.monitoring.profiling import build_profile
from mlops_nb.monitoring.report import REPORT_COLUMNS, DriftReport
from mlops_nb.monitoring.summary import (
    ColumnSummary,
    CurrentSummary,
    merge_all,
    reference_grid,
    summarize,
)

__all__ = ["DriftDetector"]

MAX_LISTED = 50
"""At most this many new or missing categories are listed per column."""
NUMERIC_EFFECTS: tuple[str, ...] = ("wasserstein", "psi")
CATEGORICAL_EFFECTS: tuple[str, ...] = ("js", "psi")
_TESTED = ("drift", "no drift")


class DriftDetector(BaseEstimator):
    """Detect distribution drift of current data against a reference (scikit-learn API).

    ``fit(reference)`` builds :attr:`profile_` (a :class:`ReferenceProfile`);
    ``test(current)`` returns a :class:`DriftReport`. The decision rule and its
    guarantees are described in the module docstring. Parameters are stored
    unchanged (``get_params``, ``set_params`` and ``sklearn.base.clone``
    work); they are checked when used.

    Args:
        columns: Columns to monitor (default: every column of the reference).
        categorical: Columns to treat as categorical whatever their dtype
            (default: inferred -- text, boolean and categorical dtypes, and
            integer columns with at most ``max_discrete`` distinct values).
        alpha: Family-wise significance level of the tests (0 < alpha < 1).
        correction: Multiple-testing correction across the report's columns:
            ``"holm"`` (default, controls the family-wise error rate),
            ``"bonferroni"``, ``"fdr_bh"`` (false discovery rate only) or
            ``"none"``.
        numeric_effect: Effect size deciding numeric drift: ``"wasserstein"``
            (Wasserstein distance / reference standard deviation) or ``"psi"``.
        categorical_effect: Effect size deciding categorical drift: ``"js"``
            (Jensen-Shannon distance, base 2) or ``"psi"``.
        wasserstein_threshold: Smallest normalized Wasserstein distance that
            matters (0.1: a tenth of a standard deviation, e.g. a mean shift of
            0.1 sd).
        psi_threshold: Smallest PSI that matters (0.2: the usual "significant
            shift" level).
        js_threshold: Smallest Jensen-Shannon distance that matters (0.1).
        category_share: Share of current rows from which a new category
            matters, and share of reference rows from which a vanished one does.
        min_samples: Fewest values (per column, in both data sets) for a test;
            below it the column is ``insufficient data``, never drifted.
        drift_share: Dataset drift when at least this share of the checked
            features drifts (0 < drift_share <= 1).
        prediction_column: Column reported as prediction drift, apart from the
            features, when it is profiled (None: no such column).
        bins: Number of reference-quantile bins of numeric columns (PSI, plots).
        max_discrete: Integer columns with at most this many distinct values
            are categorical (0: never).
        max_categories: Text columns with more distinct values are skipped.
        max_reference_sample: Reference values kept per numeric column for the
            two-sample tests.
        max_current_sample: Current values (a random sample) drawn in the
            empirical CDF of :func:`~mlops_nb.monitoring.plots.drift_figure`.
            The tests no longer sample: they use every current value.
        random_state: Seed of the reference sampling at fit, and of the
            plotted sample (an int, None or a numpy Generator).

    Attributes:
        profile_: The reference profile.
        feature_names_in_: Names of the profiled columns.
        n_features_in_: Number of profiled columns.
    """

    def __init__(
        self,
        *,
        columns: Iterable[str] | None = None,
        categorical: Iterable[str] | None = None,
        alpha: float = 0.05,
        correction: str = "holm",
        numeric_effect: str = "wasserstein",
        categorical_effect: str = "js",
        wasserstein_threshold: float = 0.1,
        psi_threshold: float = 0.2,
        js_threshold: float = 0.1,
        category_share: float = 0.01,
        min_samples: int = 100,
        drift_share: float = 0.5,
        prediction_column: str | None = "prediction",
        bins: int = 20,
        max_discrete: int = 10,
        max_categories: int = 200,
        max_reference_sample: int = 10_000,
        max_current_sample: int = 10_000,
        random_state: Any = 0,
    ) -> None:
        self.columns = columns
        self.categorical = categorical
        self.alpha = alpha
        self.correction = correction
        self.numeric_effect = numeric_effect
        self.categorical_effect = categorical_effect
        self.wasserstein_threshold = wasserstein_threshold
        self.psi_threshold = psi_threshold
        self.js_threshold = js_threshold
        self.category_share = category_share
        self.min_samples = min_samples
        self.drift_share = drift_share
        self.prediction_column = prediction_column
        self.bins = bins
        self.max_discrete = max_discrete
        self.max_categories = max_categories
        self.max_reference_sample = max_reference_sample
        self.max_current_sample = max_current_sample
        self.random_state = random_state

    # --- fitting ---------------------------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> DriftDetector:
        """Profile the reference data ``X`` (``y`` is ignored).

        Returns:
            The detector itself, fitted.

        Raises:
            MonitoringError: A bad parameter, no rows, or a named column ``X`` lacks.
        """
        self._check_params()
        frame = as_frame(X, "reference")
        profile = build_profile(
            frame,
            columns=self.columns,
            categorical=self.categorical,
            max_discrete=self.max_discrete,
            max_categories=self.max_categories,
            bins=self.bins,
            max_reference_sample=self.max_reference_sample,
            random_state=self.random_state,
        )
        self._set_profile(profile)
        return self

    @classmethod
    def from_profile(cls, profile: ReferenceProfile | str | Path, **params: Any) -> DriftDetector:
        """A fitted detector from a profile (or the path of a saved one).

        The fit-time parameters (``columns``, ``categorical``, ``max_discrete``,
        ``max_categories``, ``bins``, ``max_reference_sample``) come from the
        profile; ``params`` sets the others (``alpha``, thresholds, ...).

        Raises:
            MonitoringError: An unreadable profile, an unknown parameter, or a
                fit-time parameter that differs from the profile's.
        """
        if isinstance(profile, (str, Path)):
            profile = ReferenceProfile.load(profile)
        if not isinstance(profile, ReferenceProfile):
            raise MonitoringError(
                f"from_profile needs a ReferenceProfile or the path of a saved one, "
                f"not {type(profile).__name__}.",
                parameter="profile",
            )
        valid = set(cls._get_param_names())
        unknown = sorted(set(params) - valid)
        if unknown:
            raise MonitoringError(
                f"unknown DriftDetector parameter(s) {', '.join(unknown)}; valid ones: "
                f"{', '.join(sorted(valid))}.",
                parameter=unknown[0],
            )
        fixed = {key: profile.settings[key] for key in FIT_SETTINGS}
        conflicts = [
            f"{key}={params[key]!r} (profile: {fixed[key]!r})"
            for key in FIT_SETTINGS
            if key != "random_state" and key in params and not _same(key, params[key], fixed[key])
        ]
        if conflicts:
            raise MonitoringError(
                f"fit-time parameter(s) differ from the profile's: {'; '.join(conflicts)}. "
                "They shape the profile itself: refit on the reference data to change them.",
                parameter=conflicts[0].split("=")[0],
            )
        detector = cls(**{**fixed, **params})
        detector._check_params()
        detector._set_profile(profile)
        return detector

    def _set_profile(self, profile: ReferenceProfile) -> None:
        self.profile_ = profile
        self.feature_names_in_ = np.asarray(list(profile.columns), dtype=object)
        self.n_features_in_ = len(profile.columns)

    # --- testing ---------------------------------------------------------------------------

    def test(self, X: Any) -> DriftReport:
        """Test current data ``X`` against the reference profile.

        Columns of ``X`` that are not profiled are ignored (and listed in the
        report); skipped columns need not be present. The same as
        ``test_summary(summarize(X))``.

        Returns:
            The :class:`DriftReport`.

        Raises:
            NotFittedError: If the detector is not fitted.
            MonitoringError: A bad parameter, ``X`` without rows, profiled
                columns missing from ``X``, or a column whose type changed.
        """
        check_is_fitted(self, "profile_")
        self._check_params()
        frame = as_frame(X, "current")
        if len(frame) == 0:
            raise _no_rows()
        return self.test_summary(summarize(frame, self.profile_))

    def summarize(self, X: Any, *, part: str | None = None) -> CurrentSummary:
        """The mergeable summary of current rows ``X`` (one partition, or all the data).

        Args:
            X: The rows (they may be none: an empty partition adds nothing).
            part: The partition's name, for error messages.

        Raises:
            NotFittedError: If the detector is not fitted.
            MonitoringError: Profiled columns missing from ``X``, or a column
                whose type changed (naming ``part``).
        """
        check_is_fitted(self, "profile_")
        return summarize(as_frame(X, "current"), self.profile_, part=part)

    def test_partitions(self, parts: Iterable[Any]) -> DriftReport:
        """Test current data given as frames (partitions), one summarized at a time.

        The report equals :meth:`test` of the frames concatenated; memory holds
        one frame and the summaries.

        Raises:
            MonitoringError: As :meth:`test` (an error in a partition names
                it by its position), or no rows in any partition.
        """
        summaries = (self.summarize(part, part=f"#{i}") for i, part in enumerate(parts))
        return self.test_summary(merge_all(summaries))

    def test_summary(self, summary: CurrentSummary) -> DriftReport:
        """Test a :class:`~mlops_nb.monitoring.summary.CurrentSummary`, e.g. merged from parts.

        Raises:
            NotFittedError: If the detector is not fitted.
            MonitoringError: A bad parameter, a summary without rows, or one
                built against another profile.
        """
        check_is_fitted(self, "profile_")
        self._check_params()
        if summary.n_rows == 0:
            raise _no_rows()
        profile = self.profile_
        if list(summary.columns) != list(profile.columns):
            raise MonitoringError(
                "the drift summary was built against another reference profile (columns "
                f"{', '.join(summary.columns)}; the profile's: {', '.join(profile.columns)}): "
                "summarize the current data with this detector.",
            )
        rows = []
        for column in profile.columns.values():
            current = summary.columns[column.name]
            if column.kind == "skipped":
                rows.append(skipped_row(column, summary.n_rows, current.n_values, current.present))
            elif column.kind == "numeric":
                rows.append(self._numeric_row(column, current, summary.n_rows))
            else:
                rows.append(self._categorical_row(column, current, summary.n_rows))
        self._decide(rows)
        return self._report(rows, summary.n_rows, list(summary.ignored))

    def _numeric_row(
        self, column: ColumnProfile, current: ColumnSummary, n_rows: int
    ) -> dict[str, Any]:
        n_current = current.n_values
        row = base_row(column, n_rows, n_current)
        if self._short(row, column, n_current):
            return row
        statistic, p_value = _ks(column, current)
        points, reference_cdf = reference_grid(column)
        distance, _ = wasserstein_grid(
            points, reference_cdf, current.between, current.at, current.offsets, n_current
        )
        distance /= column.scale
        psi_value = psi(column.shares, current.bins / n_current)
        effect = distance if self.numeric_effect == "wasserstein" else psi_value
        row.update(
            test="ks",
            statistic=statistic,
            p_value=p_value,
            effect_name=self.numeric_effect,
            effect=effect,
            threshold=self._threshold(self.numeric_effect),
            psi=psi_value,
            _moments=(column.mean, current.mean, column.std, current.std),
        )
        return row

    def _categorical_row(
        self, column: ColumnProfile, current: ColumnSummary, n_rows: int
    ) -> dict[str, Any]:
        counts = current.counts
        n_current = current.n_values
        row = base_row(column, n_rows, n_current)
        if self._short(row, column, n_current):
            return row
        keys = list(column.counts)
        new = [key for key in counts if key not in column.counts]
        reference = np.array([*column.counts.values(), *([0] * len(new))], dtype=float)
        observed = np.array([counts.get(key, 0) for key in keys] + [counts[k] for k in new], float)
        reference_shares = reference / reference.sum()
        current_shares = observed / n_current
        statistic, p_value, _ = chi2_homogeneity(reference, observed)
        psi_value = psi(reference_shares, current_shares)
        effect = js_distance(reference_shares, current_shares)
        if self.categorical_effect == "psi":
            effect = psi_value
        vanished = [
            (key, float(share))
            for key, share, count in zip(keys, reference_shares, observed, strict=False)
            if count == 0 and absence_p_value(share, n_current) < self.alpha
        ]
        new_shares = [(key, counts[key] / n_current) for key in new]
        row.update(
            test="chi2",
            statistic=statistic,
            p_value=p_value,
            effect_name=self.categorical_effect,
            effect=effect,
            threshold=self._threshold(self.categorical_effect),
            psi=psi_value,
            new_categories=[key for key, _ in new_shares[:MAX_LISTED]],
            missing_categories=[key for key, _ in vanished[:MAX_LISTED]],
            _new=new_shares,
            _vanished=vanished,
            _shares=(keys + new, reference_shares, current_shares),
        )
        return row

    def _short(self, row: dict[str, Any], column: ColumnProfile, n_current: int) -> bool:
        """Mark ``row`` as insufficient data when either side has too few values."""
        if column.n_valid < self.min_samples:
            row["reason"] = (
                f"insufficient reference data: {column.n_valid:,} values < {self.min_samples:,}"
            )
        elif n_current < self.min_samples:
            missing = row["missing_current"]
            extra = f" ({missing:.0%} missing)" if missing >= 0.005 else ""
            row["reason"] = f"insufficient data: {n_current:,} rows < {self.min_samples:,}{extra}"
        else:
            return False
        row["status"] = "insufficient data"
        return True

    def _threshold(self, effect_name: str) -> float:
        return float(getattr(self, f"{effect_name}_threshold"))

    def _decide(self, rows: list[dict[str, Any]]) -> None:
        """Correct the p-values of the tested rows, then decide and explain each."""
        tested = [row for row in rows if row["test"]]
        adjusted = adjust_pvalues(np.array([row["p_value"] for row in tested]), self.correction)
        for row, p_adjusted in zip(tested, adjusted, strict=True):
            row["p_adjusted"] = float(p_adjusted)
            significant = p_adjusted < self.alpha
            large = row["effect"] >= row["threshold"]
            new = [item for item in row.get("_new", []) if item[1] >= self.category_share]
            gone = [item for item in row.get("_vanished", []) if item[1] >= self.category_share]
            row["drifted"] = bool(significant and (large or new or gone))
            row["status"] = "drift" if row["drifted"] else "no drift"
            if row["test"] == "ks":
                row["reason"] = numeric_reason(row, significant, large, self.alpha)
            else:
                row["reason"] = categorical_reason(row, significant, large, new, gone, self.alpha)

    def _report(self, rows: list[dict[str, Any]], n_rows: int, ignored: list[str]) -> DriftReport:
        records = [{key: row[key] for key in REPORT_COLUMNS} for row in rows]
        table = pd.DataFrame.from_records(records, columns=list(REPORT_COLUMNS))
        table["drifted"] = table["drifted"].astype(bool)
        for name in ("n_reference", "n_current"):
            table[name] = table[name].astype(np.int64)
        is_prediction = table["column"] == self.prediction_column
        features = table[~is_prediction].reset_index(drop=True)
        prediction = table[is_prediction].iloc[0] if is_prediction.any() else None
        checked = int(features["status"].isin(_TESTED).sum())
        n_drifted = int(features["drifted"].sum())
        share = n_drifted / checked if checked else 0.0
        return DriftReport(
            features=features,
            prediction=prediction,
            drift_share=share,
            dataset_drift=bool(checked and share >= self.drift_share),
            n_drifted=n_drifted,
            n_checked=checked,
            n_rows=n_rows,
            ignored_columns=ignored,
            alpha=float(self.alpha),
            correction=str(self.correction),
            drift_share_threshold=float(self.drift_share),
        )

    # --- parameters ------------------------------------------------------------------------

    def _check_params(self) -> None:
        check_range("alpha", self.alpha, 0.0, 1.0, low_open=True, high_open=True)
        check_choice("correction", self.correction, CORRECTIONS)
        check_choice("numeric_effect", self.numeric_effect, NUMERIC_EFFECTS)
        check_choice("categorical_effect", self.categorical_effect, CATEGORICAL_EFFECTS)
        for name in ("wasserstein_threshold", "psi_threshold", "js_threshold"):
            check_range(name, getattr(self, name), 0.0, math.inf)
        check_range("category_share", self.category_share, 0.0, 1.0, low_open=True)
        check_range("drift_share", self.drift_share, 0.0, 1.0, low_open=True)
        check_int("min_samples", self.min_samples, 1)
        check_int("bins", self.bins, 2)
        check_int("max_discrete", self.max_discrete, 0)
        check_int("max_categories", self.max_categories, 2)
        check_int("max_reference_sample", self.max_reference_sample, 10)
        check_int("max_current_sample", self.max_current_sample, 10)
        if self.prediction_column is not None and not isinstance(self.prediction_column, str):
            raise MonitoringError(
                f"prediction_column={self.prediction_column!r} is invalid: give a column name "
                "or None.",
                parameter="prediction_column",
            )


# --- helpers ---------------------------------------------------------------------------------


def _no_rows() -> MonitoringError:
    return MonitoringError(
        "the current data has no rows: there is nothing to test for drift; pass the "
        "rows to monitor (e.g. the last day of the inference log).",
        rows=0,
    )


def _ks(column: ColumnProfile, current: ColumnSummary) -> tuple[float, float]:
    """KS ``(statistic, p_value)`` of the reference sample against every current value.

    Exact p-value (SciPy's, on the values kept while there are few) when
    ``n_reference * n_current <= KS_EXACT_MAX``, as :func:`ks_test`; else the
    asymptotic one from the statistic, computed exactly from the counts.
    """
    n_reference, n_current = column.sample.size, current.n_values
    if current.values is not None and n_reference * n_current <= KS_EXACT_MAX:
        return ks_test(column.sample, current.values)
    _, reference_cdf = reference_grid(column)
    statistic = ks_grid(reference_cdf, current.below, current.at, n_current)
    return statistic, ks_asymptotic_p(statistic, n_reference, n_current)


def _same(key: str, given: Any, fixed: Any) -> bool:
    """Whether a fit-time parameter passed to ``from_profile`` matches the profile's."""
    if key in ("columns", "categorical") and given is not None and fixed is not None:
        given, fixed = [str(name) for name in given], list(fixed)
        return sorted(given) == sorted(fixed) if key == "categorical" else given == fixed
    return bool(given == fixed)
