"""A comparison of two runs: :class:`RunDiff`, key by key, and how it is shown.

:func:`~mlops_nb.pipeline.compare.compare_runs` builds one from two run
records. Each section holds one :class:`Difference` per key found in either
run, equal ones included (``change == "equal"``), so a caller can show
everything or only what differs; :meth:`RunDiff.tables`,
:meth:`RunDiff.rich_tables` and :meth:`RunDiff.summary` show it, and the
``format_*`` functions are the cell texts every view shares.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.errors import ComparisonError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ADDED",
    "CHANGED",
    "EQUAL",
    "REMOVED",
    "SECTIONS",
    "TITLES",
    "Difference",
    "RunDiff",
    "StageDiff",
    "format_delta",
    "format_relative",
    "format_value",
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
        """The differences of one of :data:`SECTIONS` (every key with ``include_equal``).

        Raises:
            ComparisonError: ``name`` is not one of :data:`SECTIONS` (a ValueError too).
        """
        if name not in SECTIONS:
            raise ComparisonError(
                f"unknown section {name!r}; sections: {', '.join(SECTIONS)}", section=name
            )
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
