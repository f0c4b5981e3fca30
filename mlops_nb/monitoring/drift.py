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
shifts. For speed and bounded power, the Kolmogorov-Smirnov test and the
Wasserstein distance compare the reference sample (``max_reference_sample``
values kept at fit) with a random sample of at most ``max_current_sample``
current values; PSI bins and category counts use every current row.

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

from mlops_nb.monitoring._checks import (
    as_frame,
    check_choice,
    check_int,
    check_range,
    check_schema,
    check_types,
)
from mlops_nb.monitoring._columns import category_counts, float_values
from mlops_nb.monitoring._rows import base_row, categorical_reason, numeric_reason, skipped_row
from mlops_nb.monitoring._stats import (
    CORRECTIONS,
    absence_p_value,
    adjust_pvalues,
    chi2_homogeneity,
    js_distance,
    ks_test,
    psi,
    wasserstein,
)
from mlops_nb.monitoring.errors import MonitoringError
from mlops_nb.monitoring.profile import FIT_SETTINGS, ColumnProfile, ReferenceProfile
from mlops_nb.monitoring.profiling import build_profile
from mlops_nb.monitoring.report import REPORT_COLUMNS, DriftReport

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
        max_current_sample: Current values (a random sample) the
            Kolmogorov-Smirnov test and Wasserstein distance use per column.
        random_state: Seed of the samplings (an int, None or a numpy Generator).

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
        report); skipped columns need not be present.

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
            raise MonitoringError(
                "the current data has no rows: there is nothing to test for drift; pass the "
                "rows to monitor (e.g. the last day of the inference log).",
                rows=0,
            )
        profile = self.profile_
        lookup = {str(label): label for label in frame.columns}
        tested = [c for c in profile.columns.values() if c.kind != "skipped"]
        check_schema(tested, lookup)
        series = {c.name: frame[lookup[c.name]] for c in tested}
        check_types(tested, series)
        rng = np.random.default_rng(self.random_state)
        rows = []
        for column in profile.columns.values():
            if column.kind == "skipped":
                rows.append(skipped_row(column, frame, lookup))
            elif column.kind == "numeric":
                rows.append(self._numeric_row(column, series[column.name], rng))
            else:
                rows.append(self._categorical_row(column, series[column.name]))
        self._decide(rows)
        ignored = [name for name in lookup if name not in profile.columns]
        return self._report(rows, len(frame), ignored)

    def _numeric_row(
        self, column: ColumnProfile, series: pd.Series, rng: np.random.Generator
    ) -> dict[str, Any]:
        values = float_values(series)
        row = base_row(column, len(series), values.size)
        if self._short(row, column, values.size):
            return row
        ordered = np.sort(values)
        below = np.searchsorted(ordered, column.edges, side="left")
        shares = np.diff(np.concatenate([[0], below, [ordered.size]])) / ordered.size
        if ordered.size > self.max_current_sample:
            picked = rng.choice(ordered.size, size=self.max_current_sample, replace=False)
            sample = ordered[np.sort(picked)]
        else:
            sample = ordered
        statistic, p_value = ks_test(column.sample, sample)
        distance = wasserstein(column.sample, sample) / column.scale
        psi_value = psi(column.shares, shares)
        effect = distance if self.numeric_effect == "wasserstein" else psi_value
        std = float(values.std(ddof=1)) if values.size > 1 else 0.0
        row.update(
            test="ks",
            statistic=statistic,
            p_value=p_value,
            effect_name=self.numeric_effect,
            effect=effect,
            threshold=self._threshold(self.numeric_effect),
            psi=psi_value,
            _moments=(column.mean, float(values.mean()), column.std, std),
        )
        return row

    def _categorical_row(self, column: ColumnProfile, series: pd.Series) -> dict[str, Any]:
        counts, _ = category_counts(series)
        n_current = sum(counts.values())
        row = base_row(column, len(series), n_current)
        if self._short(row, column, n_current):
            return row
        keys = list(column.counts)
        new = [key for key in counts if key not in column.counts]
        reference = np.array([*column.counts.values(), *([0] * len(new))], dtype=float)
        current = np.array([counts.get(key, 0) for key in keys] + [counts[k] for k in new], float)
        reference_shares = reference / reference.sum()
        current_shares = current / n_current
        statistic, p_value, _ = chi2_homogeneity(reference, current)
        psi_value = psi(reference_shares, current_shares)
        effect = js_distance(reference_shares, current_shares)
        if self.categorical_effect == "psi":
            effect = psi_value
        vanished = [
            (key, float(share))
            for key, share, count in zip(keys, reference_shares, current, strict=False)
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


def _same(key: str, given: Any, fixed: Any) -> bool:
    """Whether a fit-time parameter passed to ``from_profile`` matches the profile's."""
    if key in ("columns", "categorical") and given is not None and fixed is not None:
        given, fixed = [str(name) for name in given], list(fixed)
        return sorted(given) == sorted(fixed) if key == "categorical" else given == fixed
    return bool(given == fixed)
