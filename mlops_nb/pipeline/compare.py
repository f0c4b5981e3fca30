"""What changed between two runs: params, metrics, notes, stages, data, code, packages, model.

Two run records (the ``run.json`` manifests, see :mod:`mlops_nb.pipeline.archive`)
are compared key by key::

    from mlops_nb.pipeline.archive import find_run, read_run
    a, b = (read_run(find_run(settings.runs_dir, i)) for i in ("2026", "latest"))
    diff = compare_runs(a, b)
    diff.differs                     # anything to see?
    diff.metrics                     # every metric, with delta and relative change
    diff.tables()["metrics"]         # the differing metrics as a DataFrame

Each section holds one :class:`Difference` per key found in either run, equal
ones included (``change == "equal"``), so a caller can show everything or only
what differs. Stage durations are shown but never count as a difference: two
runs of the same code on the same data differ in nothing else.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.pipeline.archive import RUN_FILE

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SECTIONS",
    "Difference",
    "RunDiff",
    "StageDiff",
    "compare_runs",
    "find_previous",
    "format_value",
    "previous_run",
    "registered_model",
    "run_notes",
    "run_outcome",
    "same_value",
    "stage_entries",
]

EQUAL, CHANGED, ADDED, REMOVED = "equal", "changed", "added", "removed"
SECTIONS = (
    "params",
    "stage_params",
    "metrics",
    "notes",
    "data_versions",
    "git",
    "packages",
    "outcome",
)
"""The key-by-key sections of a :class:`RunDiff`, in display order."""
TITLES = {
    "params": "params",
    "stage_params": "stage params",
    "metrics": "metrics",
    "notes": "notes",
    "stages": "stages",
    "data_versions": "data versions",
    "git": "code (git)",
    "packages": "environment",
    "outcome": "outcome",
}
_ABSENT = object()


@dataclass(frozen=True)
class Difference:
    """One key compared across two runs.

    Attributes:
        key: The name: a param, ``stage.param``, ``stage.metric``, a package...
        a: The value in run A (None when absent there).
        b: The value in run B (None when absent there).
        change: ``equal``, ``changed``, ``added`` (only in B) or ``removed`` (only in A).
        delta: ``b - a`` when both are numbers (not booleans), else None.
        relative: ``delta / |a|`` when it is defined (``a`` not 0), else None.
    """

    key: str
    a: Any
    b: Any
    change: str
    delta: float | None = None
    relative: float | None = None

    @property
    def differs(self) -> bool:
        """Whether the key is not the same in both runs."""
        return self.change != EQUAL

    def to_dict(self) -> dict[str, Any]:
        """The difference as JSON-ready values."""
        return {
            "key": self.key,
            "a": self.a,
            "b": self.b,
            "change": self.change,
            "delta": self.delta,
            "relative": self.relative,
        }


@dataclass(frozen=True)
class StageDiff:
    """One stage in both runs: status, time and whether it was taken from the cache.

    A stage differs when its status or its ``cached`` flag changed, or when it ran
    in only one of the runs; its seconds are informative only.

    Attributes:
        name: The stage name.
        status_a: Its status in run A (None when A has no such stage).
        status_b: Its status in run B (None when B has no such stage).
        seconds_a: Its seconds in run A.
        seconds_b: Its seconds in run B.
        cached_a: Whether run A reused a cached result.
        cached_b: Whether run B reused a cached result.
    """

    name: str
    status_a: str | None
    status_b: str | None
    seconds_a: float | None
    seconds_b: float | None
    cached_a: bool | None
    cached_b: bool | None

    @property
    def change(self) -> str:
        """``added``, ``removed``, ``changed`` or ``equal``, as for :class:`Difference`."""
        if self.status_a is None:
            return ADDED
        if self.status_b is None:
            return REMOVED
        same = self.status_a == self.status_b and bool(self.cached_a) == bool(self.cached_b)
        return EQUAL if same else CHANGED

    @property
    def differs(self) -> bool:
        """Whether the status or the cache use changed (seconds do not count)."""
        return self.change != EQUAL

    def to_dict(self) -> dict[str, Any]:
        """The stage comparison as JSON-ready values."""
        return {
            "name": self.name,
            "status_a": self.status_a,
            "status_b": self.status_b,
            "seconds_a": self.seconds_a,
            "seconds_b": self.seconds_b,
            "cached_a": self.cached_a,
            "cached_b": self.cached_b,
            "change": self.change,
        }


@dataclass(frozen=True)
class RunDiff:
    """The differences between run A (usually the older) and run B.

    Attributes:
        run_a: The id of run A.
        run_b: The id of run B.
        pipeline_a: The pipeline of run A.
        pipeline_b: The pipeline of run B.
        params: The pipeline-level parameters.
        stage_params: Per-stage parameters (``stage.param``), except those that
            only repeat a pipeline-level parameter with the same values.
        metrics: Every ``stage.key`` metric, numeric ones with delta and relative change.
        notes: Every ``stage.key`` note (the task, the model name, the best candidate...).
        stages: Each stage's status, seconds and cache use.
        data_versions: The data versions the stages logged.
        git: The commit and whether the work tree had uncommitted changes.
        packages: Python and the key package versions.
        outcome: The run status, the model version registered and whether it was
            promoted, and a monitor run's decision and retraining.
    """

    run_a: str
    run_b: str
    pipeline_a: str | None
    pipeline_b: str | None
    params: tuple[Difference, ...] = ()
    stage_params: tuple[Difference, ...] = ()
    metrics: tuple[Difference, ...] = ()
    notes: tuple[Difference, ...] = ()
    stages: tuple[StageDiff, ...] = ()
    data_versions: tuple[Difference, ...] = ()
    git: tuple[Difference, ...] = ()
    packages: tuple[Difference, ...] = ()
    outcome: tuple[Difference, ...] = ()
    seconds: tuple[float | None, float | None] = field(default=(None, None))

    @property
    def differs(self) -> bool:
        """Whether anything but durations differs."""
        return any(d.differs for d in self.stages) or any(
            d.differs for section in SECTIONS for d in getattr(self, section)
        )

    def section(self, name: str, *, include_equal: bool = False) -> list[Difference]:
        """The differences of one of :data:`SECTIONS` (every key with ``include_equal``)."""
        if name not in SECTIONS:
            raise ValueError(f"unknown section {name!r}; sections: {', '.join(SECTIONS)}")
        return [d for d in getattr(self, name) if include_equal or d.differs]

    def changed_stages(self, *, include_equal: bool = False) -> list[StageDiff]:
        """The stages whose status or cache use differ (all with ``include_equal``)."""
        return [s for s in self.stages if include_equal or s.differs]

    def to_dict(self, *, include_equal: bool = False) -> dict[str, Any]:
        """The comparison as JSON-ready values; equal keys only with ``include_equal``."""
        out: dict[str, Any] = {
            "a": {"id": self.run_a, "pipeline": self.pipeline_a, "seconds": self.seconds[0]},
            "b": {"id": self.run_b, "pipeline": self.pipeline_b, "seconds": self.seconds[1]},
            "differs": self.differs,
        }
        for name in SECTIONS:
            out[name] = [d.to_dict() for d in self.section(name, include_equal=include_equal)]
        out["stages"] = [s.to_dict() for s in self.changed_stages(include_equal=include_equal)]
        return out

    def tables(self, *, include_equal: bool = False) -> dict[str, pd.DataFrame]:
        """The params (pipeline and stage) and metrics differences as DataFrames.

        Returns:
            ``{"params": frame, "metrics": frame}``; each has the columns ``key``,
            ``a``, ``b``, ``change`` (metrics also ``delta`` and ``relative``), and
            ``attrs["runs"] == (run_a, run_b)``.
        """
        import pandas as pd

        params = [
            *self.section("params", include_equal=include_equal),
            *self.section("stage_params", include_equal=include_equal),
        ]
        metrics = self.section("metrics", include_equal=include_equal)
        frames = {
            "params": pd.DataFrame(
                [(d.key, d.a, d.b, d.change) for d in params],
                columns=["key", "a", "b", "change"],
            ),
            "metrics": pd.DataFrame(
                [(d.key, d.a, d.b, d.delta, d.relative, d.change) for d in metrics],
                columns=["key", "a", "b", "delta", "relative", "change"],
            ),
        }
        for frame in frames.values():
            frame.attrs["runs"] = (self.run_a, self.run_b)
        return frames

    def summary(self) -> str:
        """One line: how many keys differ in each section."""
        if not self.differs:
            return f"no differences between {self.run_a} and {self.run_b}"
        counts = [
            f"{len(self.section(name))} {TITLES[name]}" for name in SECTIONS if self.section(name)
        ]
        if self.changed_stages():
            counts.insert(0, f"{len(self.changed_stages())} stages")
        return f"{self.run_a} → {self.run_b}: " + ", ".join(counts) + " differ"

    def rich_tables(self, *, include_equal: bool = False) -> list[Any]:
        """Rich renderables for a terminal: one table per section with differences.

        Returns ``[Text("no differences ...")]`` when nothing differs and
        ``include_equal`` is off.
        """
        from rich.table import Table
        from rich.text import Text

        if not self.differs and not include_equal:
            return [Text(f"no differences between {self.run_a} and {self.run_b}")]
        out: list[Any] = []
        stages = self.changed_stages(include_equal=include_equal)
        if stages:
            table = Table(title="stages")
            for column in ("stage", "status A", "status B", "seconds A", "seconds B", "cached"):
                table.add_column(column)
            for s in stages:
                table.add_row(
                    _styled(s.name, s.change),
                    format_value(s.status_a),
                    format_value(s.status_b),
                    format_value(s.seconds_a),
                    format_value(s.seconds_b),
                    f"{format_value(s.cached_a)} → {format_value(s.cached_b)}",
                )
            out.append(table)
        for name in SECTIONS:
            rows = self.section(name, include_equal=include_equal)
            if not rows:
                continue
            numeric = name == "metrics"
            table = Table(title=TITLES[name])
            columns = ["key", "A", "B", "delta", "relative"] if numeric else ["key", "A", "B"]
            for column in columns:
                table.add_column(column, overflow="fold")
            for d in rows:
                cells = [_styled(d.key, d.change), format_value(d.a), format_value(d.b)]
                if numeric:
                    cells += [format_delta(d.delta), format_relative(d.relative)]
                table.add_row(*cells)
            out.append(table)
        return out

    def _repr_html_(self) -> str:
        from html import escape

        parts = [f"<p>{escape(self.summary())}</p>"]
        for name, frame in self.tables().items():
            if len(frame):
                parts.append(f"<h4>{escape(name)}</h4>{frame.to_html(index=False)}")
        return "".join(parts)


def _styled(key: str, change: str) -> Any:
    from rich.text import Text

    style = {ADDED: "green", REMOVED: "red", CHANGED: "yellow"}.get(change, "dim")
    suffix = "" if change in (CHANGED, EQUAL) else f" ({change})"
    return Text(key + suffix, style=style)


def format_value(value: Any) -> str:
    """A value for a table cell: floats to 4 significant digits, None as ``-``."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def format_delta(delta: float | None) -> str:
    """A signed delta (``+0.012``), or empty."""
    if delta is None:
        return ""
    return f"{delta:+.4g}"


def format_relative(relative: float | None) -> str:
    """A signed percentage (``+1.5%``), or empty."""
    if relative is None:
        return ""
    return f"{relative:+.1%}"


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
