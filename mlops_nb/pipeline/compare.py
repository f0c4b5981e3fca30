"""What changed between two runs: params, metrics, notes, stages, data, code, packages, model.

Two run records (the ``run.json`` manifests, see :mod:`mlops_nb.pipeline.archive`)
are compared key by key::

    from mlops_nb.pipeline.archive import find_run, read_run
    a, b = (read_run(find_run(settings.runs_dir, i)) for i in ("2026", "latest"))
    diff = compare_runs(a, b)
    diff.differs                     # anything to see?
    diff.metrics                     # every metric, with delta and relative change
    diff.tables()["metrics"]         # the differing metrics as a DataFrame

The result is a :class:`~mlops_nb.pipeline.diff.RunDiff` (one
:class:`~mlops_nb.pipeline.diff.Difference` per key). Stage durations are
shown but never count as a difference: two runs of the same code on the same
data differ in nothing else.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mlops_nb.pipeline.archive import RUN_FILE
from mlops_nb.pipeline.diff import (
    ADDED,
    CHANGED,
    EQUAL,
    REMOVED,
    Difference,
    RunDiff,
    StageDiff,
)

__all__ = [
    "compare_runs",
    "find_previous",
    "previous_run",
    "registered_model",
    "run_notes",
    "run_outcome",
    "same_value",
    "stage_entries",
]

_ABSENT = object()


# --- comparing --------------------------------------------------------------------------------


def compare_runs(record_a: Mapping[str, Any], record_b: Mapping[str, Any]) -> RunDiff:
    """Compare two run records (``run.json`` manifests) key by key.

    Args:
        record_a: The reference run, usually the older one.
        record_b: The run compared with it.

    Returns:
        The :class:`RunDiff`; deltas are ``b - a``.
    """
    params_a, params_b = _mapping(record_a.get("params")), _mapping(record_b.get("params"))
    stages_a, stages_b = _stages(record_a), _stages(record_b)
    return RunDiff(
        run_a=str(record_a.get("id")),
        run_b=str(record_b.get("id")),
        pipeline_a=record_a.get("pipeline"),
        pipeline_b=record_b.get("pipeline"),
        params=_compare(params_a, params_b),
        stage_params=_stage_params(stages_a, stages_b, params_a, params_b),
        metrics=_compare(
            _mapping(record_a.get("metrics")), _mapping(record_b.get("metrics")), numeric=True
        ),
        notes=_compare(run_notes(record_a), run_notes(record_b)),
        stages=_stage_diffs(stages_a, stages_b),
        data_versions=_compare(
            _mapping(record_a.get("data_versions")), _mapping(record_b.get("data_versions"))
        ),
        git=_compare(_mapping(record_a.get("git")), _mapping(record_b.get("git"))),
        packages=_compare(_environment(record_a), _environment(record_b)),
        outcome=_compare(run_outcome(record_a), run_outcome(record_b)),
        seconds=(record_a.get("seconds"), record_b.get("seconds")),
    )


def run_outcome(record: Mapping[str, Any]) -> dict[str, Any]:
    """What a run was and decided: pipeline, status, model version registered, promotion...

    The registered version is :func:`registered_model`'s; ``promoted`` is its
    alias decision. Monitor runs carry ``decision``, ``decision_reason``,
    ``monitored_model`` and ``retraining`` at the top level of run.json.
    """
    out: dict[str, Any] = {"pipeline": record.get("pipeline"), "status": record.get("status")}
    registered = registered_model(record)
    if registered:
        out["model_version"] = f"{registered.get('model')}:{registered.get('version')}"
        if "promoted" in registered:
            out["promoted"] = registered["promoted"]
    for key in ("decision", "decision_reason", "monitored_model"):
        if record.get(key) is not None:
            out[key] = record[key]
    retraining = record.get("retraining")
    if isinstance(retraining, Mapping):
        out["retraining"] = retraining.get("summary") or retraining.get("status")
    elif retraining is not None:
        out["retraining"] = retraining
    return out


def registered_model(record: Mapping[str, Any]) -> dict[str, Any]:
    """What the stage that registered a model version logged: ``model``, ``version``...

    That stage noted the ``model`` name and logged the ``version`` metric (runs
    archived before text became notes logged ``model`` as a metric too); its
    metrics and notes are returned together. The stage named ``register`` is
    preferred; otherwise the last stage with both. Empty when no stage registered one.
    """
    found: dict[str, Any] = {}
    for stage in stage_entries(record):
        logged = {**_mapping(stage.get("metrics")), **_mapping(stage.get("notes"))}
        if "model" in logged and "version" in logged:
            found = logged
            if stage.get("name") == "register":
                return found
    return found


def run_notes(record: Mapping[str, Any]) -> dict[str, Any]:
    """Every stage's notes as ``stage.key`` → value, as ``metrics`` holds the metrics.

    Built from the stage entries, so it reads runs archived before run.json
    carried the summary.
    """
    return {
        f"{stage['name']}.{key}": value
        for stage in stage_entries(record)
        for key, value in _mapping(stage.get("notes")).items()
    }


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def stage_entries(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The well-formed stage entries of a record (a dict with a ``name``), in order."""
    stages = record.get("stages")
    if not isinstance(stages, list):
        return []
    return [s for s in stages if isinstance(s, Mapping) and isinstance(s.get("name"), str)]


def _stages(record: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {stage["name"]: stage for stage in stage_entries(record)}


def _environment(record: Mapping[str, Any]) -> dict[str, Any]:
    environment = _mapping(record.get("environment"))
    out: dict[str, Any] = {}
    if "python" in environment:
        out["python"] = environment["python"]
    out.update(_mapping(environment.get("packages")))
    return out


def _keys(a: Iterable[str], b: Iterable[str]) -> list[str]:
    return list(dict.fromkeys([*a, *b]))


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def same_value(a: Any, b: Any) -> bool:
    """Whether two JSON values are the same: numbers by value (NaN equals NaN), bools by type."""
    if _is_number(a) and _is_number(b):
        x, y = float(a), float(b)
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return x == y
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    return bool(a == b)


def _difference(key: str, a: Any, b: Any, numeric: bool = False) -> Difference:
    if a is _ABSENT:
        return Difference(key, None, b, ADDED)
    if b is _ABSENT:
        return Difference(key, a, None, REMOVED)
    change = EQUAL if same_value(a, b) else CHANGED
    delta = relative = None
    if numeric and _is_number(a) and _is_number(b):
        x, y = float(a), float(b)
        if math.isfinite(x) and math.isfinite(y):
            delta = y - x
            relative = delta / abs(x) if x != 0 else None
    return Difference(key, a, b, change, delta, relative)


def _compare(
    a: Mapping[str, Any], b: Mapping[str, Any], numeric: bool = False
) -> tuple[Difference, ...]:
    return tuple(
        _difference(key, a.get(key, _ABSENT), b.get(key, _ABSENT), numeric) for key in _keys(a, b)
    )


def _stage_params(
    stages_a: Mapping[str, Mapping[str, Any]],
    stages_b: Mapping[str, Mapping[str, Any]],
    params_a: Mapping[str, Any],
    params_b: Mapping[str, Any],
) -> tuple[Difference, ...]:
    """Per-stage params, leaving out those that only repeat the pipeline-level value."""
    out = []
    for name in _keys(stages_a, stages_b):
        own_a = _mapping((stages_a.get(name) or {}).get("params"))
        own_b = _mapping((stages_b.get(name) or {}).get("params"))
        for key in _keys(own_a, own_b):
            a, b = own_a.get(key, _ABSENT), own_b.get(key, _ABSENT)
            top_a, top_b = params_a.get(key, _ABSENT), params_b.get(key, _ABSENT)
            if _explained(a, top_a) and _explained(b, top_b):
                continue
            out.append(_difference(f"{name}.{key}", a, b))
    return tuple(out)


def _explained(value: Any, top: Any) -> bool:
    """Whether a stage's value is absent or only repeats the pipeline-level one."""
    return value is _ABSENT or (top is not _ABSENT and same_value(value, top))


def _stage_diffs(
    stages_a: Mapping[str, Mapping[str, Any]], stages_b: Mapping[str, Mapping[str, Any]]
) -> tuple[StageDiff, ...]:
    out = []
    for name in _keys(stages_a, stages_b):
        a, b = stages_a.get(name), stages_b.get(name)
        out.append(
            StageDiff(
                name=name,
                status_a=None if a is None else str(a.get("status")),
                status_b=None if b is None else str(b.get("status")),
                seconds_a=None if a is None else a.get("seconds"),
                seconds_b=None if b is None else b.get("seconds"),
                cached_a=None if a is None else bool(a.get("cached")),
                cached_b=None if b is None else bool(b.get("cached")),
            )
        )
    return tuple(out)


# --- finding the previous run -----------------------------------------------------------------


def previous_run(runs_dir: Path, record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The latest run of the same pipeline that started before ``record``, or None.

    Run ids sort by start time, so "before" is "an id that sorts lower". Folders
    whose run.json is missing or damaged are skipped.
    """
    found = find_previous(Path(runs_dir), str(record.get("id")), record.get("pipeline"))
    return None if found is None else found[1]


def find_previous(
    runs_dir: Path, run_id: str, pipeline: Any, start: str | None = None
) -> tuple[str, dict[str, Any]] | None:
    """The id and record of the run :func:`previous_run` finds.

    Args:
        runs_dir: The run archive folder.
        run_id: The id of the run whose predecessor is wanted.
        pipeline: Its pipeline.
        start: An id to try first (a predecessor found before), to skip the scan.
    """
    if start is not None:
        record = _read(runs_dir / start)
        if record is not None and record.get("pipeline") == pipeline and start < run_id:
            return start, record
    try:
        ids = sorted(
            (p.name for p in runs_dir.iterdir() if p.name < run_id and p.is_dir()), reverse=True
        )
    except OSError:
        return None
    for other in ids:
        record = _read(runs_dir / other)
        if record is not None and record.get("pipeline") == pipeline:
            return other, record
    return None


def _read(folder: Path) -> dict[str, Any] | None:
    """A run's manifest as written (no liveness check), or None when unreadable."""
    try:
        record = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None
