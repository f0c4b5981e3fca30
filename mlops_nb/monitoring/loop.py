"""The monitoring loop around the drift detector: current data, decision, retraining.

The ``monitor`` pipeline (``templates/09_monitor.ipynb`` then
``templates/10_retrain.ipynb``) uses these helpers:

* :func:`load_current_data` reads what to monitor: any data source
  (:func:`mlops_nb.data.load_source`) or the serving inference log
  (``inference`` or ``inference:<model>?since=2026-11-01``);
* :func:`prediction_scores` turns a model's output into the one column that
  prediction drift is measured on (the positive-class probability, the
  predicted class, or the predicted value), scored in chunks;
  :func:`reference_frame` adds it to the reference inputs, standing a seeded
  sample of :data:`REFERENCE_ROWS` rows for larger data;
* :func:`monitor_decision` applies the policy declared in pipeline.yaml: ``degraded``
  (performance fell more than allowed) before ``drift`` (dataset drift, or
  prediction drift when the policy counts it) before ``ok``;
  :func:`decide_monitoring` makes it the :class:`MonitorDecision` the monitor
  stage saves (``decision.json``) for the retrain stage, whose steps are in
  :mod:`mlops_nb.monitoring.retraining`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import numpy as np
import pandas as pd

from mlops_nb.config import Settings
from mlops_nb.errors import MlopsNbError
from mlops_nb.monitoring.errors import MonitoringError

if TYPE_CHECKING:
    from mlops_nb.monitoring.performance import PerformanceReport
    from mlops_nb.monitoring.report import DriftReport

__all__ = [
    "DECISIONS",
    "INFERENCE_SOURCE",
    "PREDICTION_COLUMN",
    "PROFILE_FILE",
    "REFERENCE_ROWS",
    "CurrentData",
    "MonitorDecision",
    "decide_monitoring",
    "load_current_data",
    "monitor_decision",
    "prediction_scores",
    "reference_frame",
]

INFERENCE_SOURCE = "inference"
PREDICTION_COLUMN = "prediction"
PROFILE_FILE = "reference_profile.parquet"
"""The registry attachment holding a version's reference profile."""
DECISIONS = ("ok", "drift", "degraded")
REFERENCE_ROWS = 1_000_000
"""Rows of a reference profile: larger data is represented by a seeded random sample this size.

The profile's quantile bins and category shares from a million rows differ from
the whole data's by far less than any drift threshold (the two-sample tests keep
only ``max_reference_sample`` values anyway), while scoring ten million rows for
the prediction column would cost minutes and gigabytes."""
SCORE_CHUNK_ROWS = 250_000
"""Rows scored per model call by :func:`prediction_scores` (bounds the transformed matrix)."""


@dataclass(frozen=True)
class CurrentData:
    """The data to monitor.

    Attributes:
        frame: The rows, with the model's input columns (and the target when
            the source has labels).
        source: Where they came from, fit for messages (passwords hidden).
        labelled: Whether the target column is present (performance can be
            checked and the rows can be used for retraining).
    """

    frame: pd.DataFrame
    source: str
    labelled: bool

    def require_columns(self, columns: Iterable[str]) -> None:
        """Refuse current data that lacks any of ``columns`` (the model's inputs).

        Raises:
            MonitoringError: naming the missing columns and those the data has.
        """
        missing = [str(c) for c in columns if c not in self.frame.columns]
        if missing:
            raise MonitoringError(
                f"the current data ({self.source}) lacks the model's input column(s) "
                f"{', '.join(missing)}; it has {', '.join(map(str, self.frame.columns))}. "
                f"Monitor data with the same schema.",
                columns=missing,
                source=self.source,
            )


def load_current_data(
    spec: str, settings: Settings, model: str, target: str | None = None
) -> CurrentData:
    """Read the data to monitor.

    Args:
        spec: A data source (path, SQLAlchemy URL, ``sample:...``), or
            ``inference`` / ``inference:<model>`` with an optional
            ``?since=<ISO time>`` for the serving inference log.
        settings: The project settings (data paths are relative to its root).
        model: The monitored model's name (the default inference log).
        target: The label column, if the data may carry labels.

    Raises:
        MonitoringError: The source holds no rows or the inference log is missing.
        DataSourceError: The source cannot be read.
    """
    if spec.strip().lower().split("?", 1)[0].split(":", 1)[0] == INFERENCE_SOURCE:
        frame, shown = _read_log(spec.strip(), settings, model)
    else:
        from mlops_nb.data import load_source, redact

        frame, shown = load_source(spec, base_dir=settings.root), redact(spec)
    if frame.empty:
        raise MonitoringError(
            f"the current data {shown} has no rows: there is nothing to monitor; point "
            f"current_data at data with rows (or serve the model to fill its inference log).",
            source=shown,
        )
    labelled = bool(target) and target in frame.columns and bool(frame[target].notna().any())
    return CurrentData(frame, shown, labelled)


def _read_log(spec: str, settings: Settings, model: str) -> tuple[pd.DataFrame, str]:
    from mlops_nb.serving import read_inference_log
    from mlops_nb.serving.inference_log import META_COLUMNS

    head, _, query = spec.partition("?")
    _, _, named = head.partition(":")
    options = dict(parse_qsl(query.replace("+", "%2B"), keep_blank_values=True))  # keep +00:00
    unknown = set(options) - {"since"}
    if unknown:
        raise MonitoringError(
            f"current_data {spec!r}: unknown option(s) {', '.join(sorted(unknown))}; the "
            f"inference log takes only since=<ISO time>, e.g. inference?since=2026-11-01.",
            source=spec,
        )
    since: str | None = options.get("since") or None
    if since is not None:
        try:
            datetime.fromisoformat(since)
        except ValueError as exc:
            raise MonitoringError(
                f"current_data {spec!r}: since={since!r} is not an ISO date or time "
                f"(e.g. 2026-11-01 or 2026-11-01T08:00:00Z).",
                source=spec,
            ) from exc
    name = named or model
    try:
        log = read_inference_log(settings, name, since=since)
    except MlopsNbError as exc:
        raise MonitoringError(exc.message, source=spec) from exc
    inputs = [c for c in log.columns if c not in META_COLUMNS and not c.startswith("proba_")]
    return log[inputs], f"the inference log of {name}" + (f" since {since}" if since else "")


def prediction_scores(
    model: Any, X: pd.DataFrame, task: str, *, chunk_rows: int = SCORE_CHUNK_ROWS
) -> pd.Series:
    """The model output whose distribution prediction drift compares.

    Binary classifiers: the probability of the positive (last) class; other
    classifiers: the predicted class; regressors: the predicted value. Rows are
    scored ``chunk_rows`` at a time, so the model's transformed matrix never
    holds more than that many rows.
    """
    if len(X) <= chunk_rows:
        return pd.Series(_scores(model, X, task), index=X.index, name=PREDICTION_COLUMN)
    parts = [
        _scores(model, X.iloc[start : start + chunk_rows], task)
        for start in range(0, len(X), chunk_rows)
    ]
    return pd.Series(np.concatenate(parts), index=X.index, name=PREDICTION_COLUMN)


def _scores(model: Any, X: pd.DataFrame, task: str) -> Any:
    """One model call of :func:`prediction_scores`."""
    if task == "binary" and hasattr(model, "predict_proba"):
        return model.predict_proba(X)[:, -1]
    return model.predict(X)


def reference_frame(
    model: Any,
    data: pd.DataFrame,
    columns: list[str],
    task: str,
    *,
    max_rows: int | None = REFERENCE_ROWS,
    random_state: int = 0,
) -> pd.DataFrame:
    """The input ``columns`` of ``data`` plus the model's :func:`prediction_scores`.

    Data with more than ``max_rows`` rows (None: no limit) is represented by a
    random sample of ``max_rows`` of them, drawn with ``random_state`` and kept
    in the data's order, so the same data always gives the same reference.
    """
    frame = data[columns]
    if max_rows is not None and len(frame) > max_rows:
        rng = np.random.default_rng(random_state)
        frame = frame.iloc[np.sort(rng.choice(len(frame), size=max_rows, replace=False))]
    frame = frame.copy(deep=False)  # a new column must not reach ``data``
    frame[PREDICTION_COLUMN] = prediction_scores(model, frame, task)
    return frame


def monitor_decision(
    drift: Any,
    performance: Any | None,
    *,
    prediction_drift_counts: bool = True,
) -> tuple[str, str]:
    """Apply the monitoring policy: ``(decision, reason)``.

    ``degraded`` when the performance check on labelled data failed; else
    ``drift`` when the dataset drifted (or the predictions did and
    ``prediction_drift_counts``); else ``ok``.

    Args:
        drift: A :class:`~mlops_nb.monitoring.DriftReport`.
        performance: A :class:`~mlops_nb.monitoring.PerformanceReport`, or None
            when the current data has no labels.
        prediction_drift_counts: Whether prediction drift alone means ``drift``.
    """
    count, names, notes = _drift_counts(drift)
    if performance is not None and performance.degraded:
        worse = performance.table.loc[performance.table["degraded"], "metric"].tolist()
        return (
            "degraded",
            f"performance fell beyond tolerance on {', '.join(worse)}; {count}{notes}",
        )
    if drift.dataset_drift:
        return "drift", f"{count}{names}{notes}"
    prediction = drift.prediction
    if prediction_drift_counts and prediction is not None and bool(prediction["drifted"]):
        return "drift", f"the predictions drifted ({prediction['reason']}); {count}{notes}"
    checked = "" if performance is None else "; performance within tolerance"
    return "ok", f"{count}, below the dataset-drift threshold{notes}{checked}"


def _drift_counts(drift: Any) -> tuple[str, str, str]:
    """The drifted count, the drifted names and the columns not checked, as text.

    The share is of the *checked* features, as the dataset-drift policy counts
    them (``6 of 9 checked features drifted (67%, threshold 50%)``); skipped
    columns and columns short of data were not tested, so they are named apart
    (``; not checked: 1 skipped (customer_id)``).
    """
    features = drift.features
    count = (
        f"{drift.n_drifted} of {drift.n_checked} checked features drifted "
        f"({drift.drift_share:.0%}, threshold {drift.drift_share_threshold:.0%})"
    )
    drifted = [str(c) for c in features.loc[features["drifted"], "column"]]
    names = f": {', '.join(drifted)}" if drifted else ""
    notes = []
    for status in ("skipped", "insufficient data"):
        columns = [str(c) for c in features.loc[features["status"] == status, "column"]]
        if columns:
            notes.append(f"{len(columns)} {status} ({', '.join(columns)})")
    return count, names, f"; not checked: {', '.join(notes)}" if notes else ""


@dataclass(frozen=True, kw_only=True)
class MonitorDecision:
    """The monitor stage's decision, as saved for the retrain stage (``decision.json``).

    Attributes:
        decision: ``ok``, ``drift`` or ``degraded`` (:data:`DECISIONS`).
        reason: Why, with the counts (:func:`monitor_decision`).
        model: The monitored version (``NAME:VERSION``).
        alias: The alias it was monitored at.
        current_data: Where the current data came from (passwords hidden).
        current_version: The content hash of the current data's snapshot.
        labelled: Whether the current data has the target (performance was
            checked; the rows can be retrained on).
        drift: The drift report (:meth:`~mlops_nb.monitoring.DriftReport.to_dict`).
        performance: The performance check's ``to_dict()``, or None without labels.
    """

    decision: str
    reason: str
    model: str
    alias: str
    current_data: str
    current_version: str | None
    labelled: bool
    drift: dict[str, Any] = field(default_factory=dict)
    performance: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise MonitoringError(
                f"{self.decision!r} is not a monitoring decision; the decisions are "
                f"{', '.join(DECISIONS)}.",
                decision=self.decision,
            )
        if not isinstance(self.labelled, bool) or not isinstance(self.model, str):
            raise MonitoringError(
                f"a monitoring decision's labelled is true or false and its model a reference "
                f"(NAME:VERSION); got labelled={self.labelled!r}, model={self.model!r}.",
                decision=self.decision,
            )

    def to_dict(self) -> dict[str, Any]:
        """The decision as JSON values, the keys in ``decision.json``'s order."""
        return {
            "decision": self.decision,
            "reason": self.reason,
            "model": self.model,
            "alias": self.alias,
            "current_data": self.current_data,
            "current_version": self.current_version,
            "labelled": self.labelled,
            "drift": self.drift,
            "performance": self.performance,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MonitorDecision:
        """Read a decision back from :meth:`to_dict`'s values (the monitor stage's decision.json).

        Raises:
            MonitoringError: ``data`` is not a mapping, lacks a key or has a key
                no decision has, or holds an unknown decision.
        """
        if not isinstance(data, Mapping):
            raise MonitoringError(
                f"a monitoring decision is a mapping such as the monitor stage's "
                f"decision.json, not {type(data).__name__}."
            )
        keys = [f.name for f in fields(cls)]
        missing = [k for k in keys if k not in data and k not in _OPTIONAL_DECISION_KEYS]
        unknown = [str(k) for k in data if k not in keys]
        if missing or unknown:
            problems = [f"lacks {', '.join(missing)}"] if missing else []
            problems += [f"has unknown key(s) {', '.join(unknown)}"] if unknown else []
            raise MonitoringError(
                f"the monitoring decision {' and '.join(problems)}; pass the monitor stage's "
                f"decision (decide_monitoring(), saved as decision.json), whose keys are "
                f"{', '.join(keys)}.",
                missing=missing,
            )
        return cls(**{str(k): v for k, v in data.items()})


_OPTIONAL_DECISION_KEYS = frozenset({"drift", "performance"})


def decide_monitoring(
    drift: DriftReport,
    performance: PerformanceReport | None,
    *,
    model: str,
    alias: str,
    current: CurrentData,
    current_version: str | None,
    prediction_drift_counts: bool = True,
) -> MonitorDecision:
    """The monitor stage's decision: :func:`monitor_decision`'s verdict with what it rests on.

    Args:
        drift: The drift report of the current data against the reference profile.
        performance: The performance check on the labelled current rows, or None.
        model: The monitored version's reference (``NAME:VERSION``).
        alias: The alias it is monitored at.
        current: The current data.
        current_version: The content hash of its snapshot.
        prediction_drift_counts: Whether prediction drift alone means ``drift``.
    """
    decision, reason = monitor_decision(
        drift, performance, prediction_drift_counts=prediction_drift_counts
    )
    return MonitorDecision(
        decision=decision,
        reason=reason,
        model=model,
        alias=alias,
        current_data=current.source,
        current_version=current_version,
        labelled=bool(current.labelled),
        drift=drift.to_dict(),
        performance=performance.to_dict() if performance is not None else None,
    )
