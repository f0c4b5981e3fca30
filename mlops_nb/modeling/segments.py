"""One model per segment: the rows of one value of a column, and a table of every segment.

A *segment* is the set of rows holding one value of a column (``region =
"north"``). The ``segments`` pipeline trains one model per segment, each in its
own stage named ``segment_<value>`` (so the stages can run at the same time),
then a summary stage compares them::

    value = segment_value(stage_dir, segment, default="north")   # from the stage's name
    rows = segment_rows(train, test, "region", value, target="churned", task="binary")
    rows.skipped                      # why there are too few rows to model it, or None
    found = segment_manifests(stage, ["north", "south", "east", "west"])
    table = segments_table(found.manifests)   # one row per segment stage that ran
    segments_figure(table)                    # its primary metric, one bar per segment

Values are compared as text (``str(value)``), so a parameter given as text
matches a column of numbers or categories alike; rows whose value is missing
belong to no segment.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mlops_nb.errors import ModelingError, ParameterError, StageInputError
from mlops_nb.modeling._checks import check_task, is_classification
from mlops_nb.modeling._search import check_count
from mlops_nb.modeling.metrics import HIGHER_IS_BETTER, primary_metric

__all__ = [
    "SEGMENT_PREFIX",
    "SegmentManifests",
    "SegmentRows",
    "segment_manifests",
    "segment_rows",
    "segment_value",
    "segments_figure",
    "segments_table",
]

SEGMENT_PREFIX = "segment_"
"""A segment stage is named ``segment_<value>``."""
MODELLED, SKIPPED = "modelled", "skipped"
_RUN_FOLDER = re.compile(r"^\d+_")


@dataclass(frozen=True)
class SegmentRows:
    """The training and holdout rows of one segment, and whether they suffice.

    Attributes:
        column: The column whose value makes the segment.
        value: The segment's value (text).
        train: Training rows holding ``value`` (all columns, the target too).
        test: Holdout rows holding ``value``.
        skipped: Why the segment cannot be modelled (too few rows, a single
            class), or None when it can.
        note: One sentence for the notebook: the rows found, and the reason
            when skipped.
    """

    column: str
    value: str
    train: pd.DataFrame
    test: pd.DataFrame
    skipped: str | None
    note: str

    @property
    def status(self) -> str:
        """``"modelled"`` or ``"skipped"``."""
        return SKIPPED if self.skipped else MODELLED


def segment_value(
    stage_dir: str | Path | None, segment: Any = None, *, default: str | None = None
) -> str:
    """The segment a segment stage models: the one its name says, or the one asked for.

    In a run (``stage_dir`` given) a stage named ``segment_<value>`` models
    ``<value>``; ``segment``, when set, must agree. Run by hand (``stage_dir``
    None) there is no name: ``segment`` is used, else ``default``.

    Raises:
        ParameterError: ``segment`` contradicts the stage's name, or nothing
            says which segment to model.
    """
    named = _named_segment(stage_dir)
    asked = None if segment is None else str(segment)
    if named is not None and asked is not None and asked != named:
        raise ParameterError(
            f"stage '{SEGMENT_PREFIX}{named}' models the segment its name says, {named!r}, but "
            f"segment={asked!r} was given: in a run a segment stage's value is its name in "
            f"pipeline.yaml ({SEGMENT_PREFIX}<value>); leave `segment` unset (no -p segment=...) "
            f"or add a stage '{SEGMENT_PREFIX}{asked}'.",
            param="segment",
        )
    value = named or asked or (default if stage_dir is None else None)
    if value is None:
        raise ParameterError(
            f"cannot tell which segment to model: the stage folder {stage_dir} is not named "
            f"{SEGMENT_PREFIX}<value>; set `segment` to the value of the segment column.",
            param="segment",
        )
    return value


def _named_segment(stage_dir: str | Path | None) -> str | None:
    if stage_dir is None:
        return None
    name = _RUN_FOLDER.sub("", Path(stage_dir).name)
    rest = name.removeprefix(SEGMENT_PREFIX)
    return rest if rest and rest != name else None


def segment_rows(
    train: pd.DataFrame,
    test: pd.DataFrame,
    column: str,
    value: Any,
    *,
    target: str,
    task: str,
    min_train_rows: int = 50,
    min_test_rows: int = 20,
) -> SegmentRows:
    """The rows of ``train`` and ``test`` whose ``column`` is ``value``, checked for modelling.

    A segment is skipped (``skipped`` says why; nothing is raised) when it has
    fewer than ``min_train_rows`` training rows or ``min_test_rows`` holdout
    rows, or, for classification, when its training rows hold a single class
    or a class with a single row (too few to cross-validate).

    Raises:
        ModelingError: ``column`` or ``target`` is not a column of both frames,
            or bad arguments.
    """
    check_task(task)
    min_train_rows = check_count(min_train_rows, "min_train_rows", 1)
    min_test_rows = check_count(min_test_rows, "min_test_rows", 1)
    for frame, side in ((train, "training"), (test, "holdout")):
        for name in (column, target):
            _check_column(frame, name, side)
    text = str(value)
    part_train = train.loc[_matches(train[column], text)]
    part_test = test.loc[_matches(test[column], text)]
    where = f"{column} = {text!r}"
    skipped = _too_few(part_train, part_test, where, target, task, min_train_rows, min_test_rows)
    if part_train.empty and part_test.empty:
        present = sorted({str(v) for v in pd.concat([train[column], test[column]]).dropna()})
        skipped = f"no rows have {where} (its values: {', '.join(present) or 'none'})"
    found = (
        f"{len(part_train):,} of {len(train):,} training rows and {len(part_test):,} of "
        f"{len(test):,} holdout rows have {where}."
    )
    note = found if skipped is None else f"{found} Skipped, no model trained: {skipped}."
    return SegmentRows(column, text, part_train, part_test, skipped, note)


def _check_column(frame: pd.DataFrame, name: str, side: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ModelingError(
            f"segment_rows: the {side} rows must be a pandas DataFrame, got {type(frame).__name__}."
        )
    if name not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:30])) + (
            ", ..." if len(frame.columns) > 30 else ""
        )
        raise ModelingError(
            f"segment_rows: {name!r} is not a column of the {side} rows; its columns: {shown}.",
            column=name,
        )


def _matches(values: pd.Series, text: str) -> np.ndarray:
    matches: np.ndarray = (values.astype("string") == text).fillna(False).to_numpy(dtype=bool)
    return matches


def _too_few(
    train: pd.DataFrame,
    test: pd.DataFrame,
    where: str,
    target: str,
    task: str,
    min_train_rows: int,
    min_test_rows: int,
) -> str | None:
    if len(train) < min_train_rows:
        return (
            f"{len(train):,} training rows with {where}, fewer than min_train_rows={min_train_rows}"
        )
    if len(test) < min_test_rows:
        return f"{len(test):,} holdout rows with {where}, fewer than min_test_rows={min_test_rows}"
    if not is_classification(task):
        return None
    counts = train[target].value_counts()
    if len(counts) < 2:
        return f"every training row with {where} is of class {counts.index[0]!r}: nothing to learn"
    if int(counts.iloc[-1]) < 2:
        return (
            f"class {counts.index[-1]!r} has a single training row with {where}, too few to "
            f"cross-validate"
        )
    return None


class _Upstream(Protocol):
    def upstream(self, stage: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SegmentManifests:
    """The manifests of the segment stages that ran, and the ones that did not.

    Attributes:
        manifests: Segment value -> its stage's manifest (``stage.json``), in
            the order asked for.
        missing: The values whose stage has not run, in the order asked for.
        command: For the development folder, the command that makes them.
    """

    manifests: dict[str, dict[str, Any]]
    missing: list[str] = field(default_factory=list)
    command: str | None = None

    @property
    def note(self) -> str:
        """What was found, and what is missing with how to make it."""
        asked = len(self.manifests) + len(self.missing)
        text = f"{len(self.manifests)} of {asked} segment stages ran."
        if not self.missing:
            return text
        stages = ", ".join(f"{SEGMENT_PREFIX}{value}" for value in self.missing)
        text += f" Not run, so not in the summary: {stages}."
        return text + (f" Make them with:  {self.command}" if self.command else "")


def segment_manifests(stage: _Upstream, segments: Sequence[Any]) -> SegmentManifests:
    """Read the manifest of each ``segment_<value>`` stage of ``stage``'s run that ran.

    Args:
        stage: The summary's :class:`~mlops_nb.Stage` (anything with ``upstream``).
        segments: The segment values, as the segment stages are named.

    Raises:
        ModelingError: ``segments`` is empty or repeats a value.
        StageInputError: none of the segment stages ran (the error of the first).
    """
    values = [str(value) for value in segments] if not isinstance(segments, str) else []
    if not values or len(set(values)) != len(values):
        raise ModelingError(
            f"segments must be a list of distinct segment values, got {segments!r}; pass e.g. "
            f'["north", "south"].',
            parameter="segments",
        )
    found: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    errors: list[StageInputError] = []
    for value in values:
        try:
            found[value] = stage.upstream(f"{SEGMENT_PREFIX}{value}")
        except StageInputError as error:
            missing.append(value)
            errors.append(error)
    if not found:
        raise errors[0]
    command = next(
        (getattr(e, "command", None) for e in errors if getattr(e, "command", None)), None
    )
    return SegmentManifests(found, missing, command)


def segments_table(manifests: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per segment stage: its rows and holdout metrics.

    Args:
        manifests: Segment value -> its stage's manifest, as
            :func:`segment_manifests` reads them.

    Returns:
        Columns ``segment``, ``status`` (modelled or skipped), ``train_rows``,
        ``test_rows``, the primary metric, then ``accuracy`` and ``f1``
        (classification), ``best_candidate`` and ``note`` (why a segment was
        skipped). A skipped segment has NaN metrics. ``.attrs`` holds
        ``primary_metric`` and ``segment_column``.

    Raises:
        ModelingError: no manifests, or the segments were not of one task.
    """
    if not manifests:
        raise ModelingError("segments_table: no segment stage manifests to summarize.")
    notes = {value: dict(m.get("notes") or {}) for value, m in manifests.items()}
    tasks = {str(n.get("task")) for n in notes.values()}
    if len(tasks) != 1:
        raise ModelingError(
            f"segments_table: the segment stages were of different tasks "
            f"({', '.join(sorted(tasks))}); summarize the stages of one run.",
        )
    task = check_task(tasks.pop())
    metric = primary_metric(task).name
    names = list(dict.fromkeys([metric, *(("accuracy", "f1") if is_classification(task) else ())]))
    rows = []
    for value, manifest in manifests.items():
        metrics = dict(manifest.get("metrics") or {})
        note = notes[value]
        rows.append(
            {
                "segment": str(note.get("segment", value)),
                "status": str(note.get("status", MODELLED)),
                "train_rows": _count(metrics.get("train_rows")),
                "test_rows": _count(metrics.get("test_rows")),
                **{name: _number(metrics.get(name)) for name in names},
                "best_candidate": note.get("best_candidate") or "",
                "note": note.get("skipped") or "",
            }
        )
    table = pd.DataFrame(rows)
    table["train_rows"] = table["train_rows"].astype("Int64")
    table["test_rows"] = table["test_rows"].astype("Int64")
    columns = {str(n.get("segment_column")) for n in notes.values() if n.get("segment_column")}
    table.attrs.update(primary_metric=metric, segment_column=", ".join(sorted(columns)))
    return table


def _count(value: Any) -> int | None:
    return None if value is None else int(value)


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def segments_figure(table: pd.DataFrame) -> Figure:
    """The primary holdout metric of each segment: one bar each, its row counts beneath.

    A skipped segment has no bar, and says so.

    Args:
        table: From :func:`segments_table`.
    """
    metric = table.attrs.get("primary_metric") or _first_metric(table)
    figure = Figure(figsize=(max(4.0, 1.2 * len(table) + 2), 3.6), layout="constrained")
    axes = figure.add_subplot()
    scores = table[metric].astype(float).to_numpy()
    positions = np.arange(len(table))
    axes.bar(positions, np.nan_to_num(scores), color="#4c72b0", width=0.6)
    top = float(np.nanmax(scores)) if np.isfinite(scores).any() else 1.0
    for x, score in zip(positions, scores, strict=True):
        label = f"{score:.3f}" if np.isfinite(score) else "skipped"
        height = (score if np.isfinite(score) else 0) + top * 0.01
        axes.text(float(x), height, label, ha="center", va="bottom")
    axes.set_xticks(
        positions,
        [
            f"{segment}\n{_rows_label(train)} train / {_rows_label(test)} test"
            for segment, train, test in zip(
                table["segment"], table["train_rows"], table["test_rows"], strict=True
            )
        ],
    )
    better = "higher" if HIGHER_IS_BETTER.get(metric, True) else "lower"
    axes.set_ylabel(f"holdout {metric} ({better} is better)")
    column = table.attrs.get("segment_column")
    axes.set_title(f"One model per {column or 'segment'}: holdout {metric}")
    axes.set_ylim(0, top * 1.15)
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def _rows_label(value: Any) -> str:
    return "?" if value is None or pd.isna(value) else f"{int(value):,}"


def _first_metric(table: pd.DataFrame) -> str:
    for name in HIGHER_IS_BETTER:
        if name in table.columns:
            return name
    raise ModelingError(
        "segments_figure: the table has no metric column; build it with segments_table."
    )
