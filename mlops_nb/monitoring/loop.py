"""The monitoring loop around the drift detector: current data, decision, retraining.

The ``monitor`` pipeline (``templates/09_monitor.ipynb`` then
``templates/10_retrain.ipynb``) uses these helpers:

* :func:`load_current_data` reads what to monitor: any data source
  (:func:`mlops_nb.data.load_source`) or the serving inference log
  (``inference`` or ``inference:<model>?since=2026-11-01``);
* :func:`prediction_scores` turns a model's output into the one column that
  prediction drift is measured on (the positive-class probability, the
  predicted class, or the predicted value);
* :func:`monitor_decision` applies the policy declared in pipeline.yaml: ``degraded``
  (performance fell more than allowed) before ``drift`` (dataset drift, or
  prediction drift when the policy counts it) before ``ok``;
* :func:`retraining_frame` and :func:`training_contract` prepare a retraining
  run on the reference data plus the labelled current data, validated by the
  contract the production model was trained under.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pandas as pd

from mlops_nb.config import Settings
from mlops_nb.errors import MlopsNbError
from mlops_nb.monitoring.errors import MonitoringError

__all__ = [
    "DECISIONS",
    "INFERENCE_SOURCE",
    "PREDICTION_COLUMN",
    "PROFILE_FILE",
    "CurrentData",
    "load_current_data",
    "monitor_decision",
    "prediction_scores",
    "reference_frame",
    "retraining_frame",
    "retraining_outcome",
    "training_contract",
]

INFERENCE_SOURCE = "inference"
PREDICTION_COLUMN = "prediction"
PROFILE_FILE = "reference_profile.parquet"
"""The registry attachment holding a version's reference profile."""
DECISIONS = ("ok", "drift", "degraded")


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
    labelled = bool(target) and target in frame.columns and frame[target].notna().any()
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
        except ValueError:
            raise MonitoringError(
                f"current_data {spec!r}: since={since!r} is not an ISO date or time "
                f"(e.g. 2026-11-01 or 2026-11-01T08:00:00Z).",
                source=spec,
            ) from None
    name = named or model
    try:
        log = read_inference_log(settings, name, since=since)
    except MlopsNbError as exc:
        raise MonitoringError(exc.message, source=spec) from None
    inputs = [c for c in log.columns if c not in META_COLUMNS and not c.startswith("proba_")]
    return log[inputs], f"the inference log of {name}" + (f" since {since}" if since else "")


def prediction_scores(model: Any, X: pd.DataFrame, task: str) -> pd.Series:
    """The model output whose distribution prediction drift compares.

    Binary classifiers: the probability of the positive (last) class; other
    classifiers: the predicted class; regressors: the predicted value.
    """
    if task == "binary" and hasattr(model, "predict_proba"):
        values: Any = model.predict_proba(X)[:, -1]
    else:
        values = model.predict(X)
    return pd.Series(values, index=X.index, name=PREDICTION_COLUMN)


def reference_frame(model: Any, data: pd.DataFrame, columns: list[str], task: str) -> pd.DataFrame:
    """The input ``columns`` of ``data`` plus the model's :func:`prediction_scores`."""
    frame = data[columns].copy()
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


def training_contract(settings: Settings, pipeline_run: str | None) -> Path | None:
    """The contract the validate stage of ``pipeline_run`` used, if that run is archived."""
    if not pipeline_run:
        return None
    matches = sorted((settings.runs_dir / pipeline_run).glob("*_validate/contract.yaml"))
    return matches[0] if matches else None


def retraining_frame(
    settings: Settings, data_version: str | None, current: pd.DataFrame, target: str
) -> tuple[pd.DataFrame, int]:
    """The reference data a version was trained from, followed by the labelled current rows.

    Returns:
        The combined frame (the reference's columns, in its order) and the
        number of reference rows in it.

    Raises:
        MonitoringError: The reference snapshot is gone, or the current data lacks
            columns the reference has.
    """
    from mlops_nb.data.snapshot import snapshot_path

    path = snapshot_path(settings.snapshots_dir, str(data_version))
    if not data_version or not path.is_file():
        raise MonitoringError(
            f"cannot retrain: the training data snapshot {data_version!r} of the monitored "
            f"version is not in {settings.snapshots_dir}; retrain with `mlops-nb run train` "
            f"on the data you want instead.",
            data_version=data_version,
        )
    reference = pd.read_parquet(path)
    missing = [c for c in reference.columns if c not in current.columns]
    if missing:
        raise MonitoringError(
            f"cannot retrain on the current data: it lacks column(s) {', '.join(missing)} "
            f"that the training data has; provide labelled data with all of them.",
            columns=missing,
        )
    labelled = current.loc[current[target].notna(), list(reference.columns)]
    combined = pd.concat([reference, labelled], ignore_index=True)
    return combined, len(reference)


def retraining_outcome(run: dict[str, Any]) -> dict[str, Any]:
    """What a retraining run did: its id, status, the version registered, the gate's verdict."""
    stages = {stage["name"]: stage for stage in run["stages"]}
    registered = (stages.get("register") or {}).get("metrics") or {}
    verdict: dict[str, Any] = {}
    evaluate = stages.get("evaluate")
    if evaluate is not None:
        path = Path(run["run_dir"]) / evaluate["dir"] / "decision.json"
        if path.is_file():
            verdict = json.loads(path.read_text())
    outcome: dict[str, Any] = {
        "status": run["status"],
        "run": run["id"],
        "model": registered.get("model"),
        "version": registered.get("version"),
        "promoted": registered.get("promoted"),
        "alias": verdict.get("alias"),
        "reason": verdict.get("reason"),
    }
    if outcome["version"] is None:
        outcome["summary"] = f"run {run['id']} {run['status']} without registering a version"
    else:
        moved = "promoted to" if outcome["promoted"] else "did not take"
        outcome["summary"] = (
            f"run {run['id']} registered {outcome['model']}:{outcome['version']}, "
            f"{moved} {outcome['alias']} ({outcome['reason']})"
        )
    return outcome
