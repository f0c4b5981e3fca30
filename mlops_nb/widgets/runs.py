"""Browse archived runs: filter, select, compare side by side, plot a metric."""

from __future__ import annotations

import re
from html import escape
from typing import Any

import ipywidgets as w

from mlops_nb.config import Settings, load_settings
from mlops_nb.errors import MlopsNbError
from mlops_nb.pipeline import archive
from mlops_nb.pipeline.compare import same_value
from mlops_nb.pipeline.diff import format_value
from mlops_nb.pipeline.index import all_runs
from mlops_nb.store import open_backend
from mlops_nb.widgets._base import Panel, figure_png, html_table, link, note, short_id, show_png

__all__ = ["RunBrowser"]

ALL = "(all)"
ANY = "(any)"
STATUSES = ("succeeded", "failed", "interrupted", "running")
TRACKING_FILTER = re.compile(
    r"\s*`?(metrics?|params?|tags?|attr|attributes?)\.\S.*?(=|<|>|\blike\b)", re.IGNORECASE
)
"""A filter text that is a tracking-store expression (``metrics.cv_roc_auc > 0.8``)."""
_MISSING = object()


class RunBrowser(Panel):
    """Filter the archived runs, compare the selected ones, plot a metric across them.

    Children (set ``.value`` or ``.click()`` them from code too):

    * ``pipeline``, ``status``: filters (dropdowns);
    * ``query``: text found in a run's id, params or metrics, or a tracking-store
      filter such as ``metrics.cv_roc_auc > 0.78 and params.candidate = 'logistic'``
      (matching the runs that have a stage matching it);
    * ``runs``: the matching runs, newest first (multi-select; at first the
      newest two runs of one pipeline are selected: the newest run's pipeline,
      or the last one run twice);
    * ``only_differences``: hide the rows equal in every selected run;
    * ``table``: the selected runs' status, params and metrics side by side,
      differing rows highlighted;
    * ``metric`` and ``plot``: one numeric metric across the selected runs;
    * ``links``: each selected run's report (``index.html``);
    * ``message``: what happened (no runs yet, a bad filter...);
    * ``refresh_button``: read the archive again.

    Args:
        settings: The project (default: :func:`mlops_nb.load_settings`).
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or load_settings()
        self.records: dict[str, dict[str, Any]] = {}
        self._quiet = False
        self.pipeline = w.Dropdown(description="pipeline", options=[ALL], value=ALL)
        self.status = w.Dropdown(description="status", options=[ANY, *STATUSES], value=ANY)
        self.query = w.Text(
            description="filter",
            placeholder="text in params/metrics, or metrics.cv_roc_auc > 0.8",
            continuous_update=False,
            layout=w.Layout(width="32rem"),
        )
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.runs = w.SelectMultiple(
            description="runs", options=[], rows=8, layout=w.Layout(width="42rem")
        )
        self.only_differences = w.Checkbox(description="only differences", value=False)
        self.message = w.HTML()
        self.table = w.HTML()
        self.metric = w.Dropdown(description="metric", options=[])
        self.plot = w.Image(format="png", layout=w.Layout(display="none"))
        self.links = w.HTML()
        for control in (self.pipeline, self.status, self.query):
            control.observe(self._on_filter, names="value")
        self.runs.observe(self._on_select, names="value")
        self.only_differences.observe(self._on_select, names="value")
        self.metric.observe(self._on_metric, names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.widget = w.VBox(
            [
                w.HBox([self.pipeline, self.status, self.refresh_button]),
                self.query,
                self.message,
                self.runs,
                self.links,
                self.only_differences,
                self.table,
                self.metric,
                self.plot,
            ]
        )
        self.refresh()

    # --- reading and filtering ----------------------------------------------------------------

    @property
    def selected(self) -> list[str]:
        """The selected run ids, oldest first."""
        return sorted(self.runs.value)

    def refresh(self) -> None:
        """Read the run archive again and re-apply the filters."""
        records = all_runs(self.settings)  # this machine's, and the team store's
        self.records = {str(r.get("id")): r for r in records}
        pipelines = sorted({str(r.get("pipeline")) for r in records})
        current = self.pipeline.value
        self._quiet = True
        try:
            self.pipeline.options = [ALL, *pipelines]
            self.pipeline.value = current if current in pipelines else ALL
        finally:
            self._quiet = False
        self._apply_filters()

    def matching(self) -> list[str]:
        """Ids of the runs passing the filters, newest first.

        Raises:
            MlopsNbError: The filter is a tracking-store expression that cannot be read.
        """
        pipeline, status = self.pipeline.value, self.status.value
        ids = [
            run_id
            for run_id, record in self.records.items()
            if (pipeline == ALL or record.get("pipeline") == pipeline)
            and (status == ANY or record.get("status") == status)
        ]
        text = self.query.value.strip()
        if text and TRACKING_FILTER.match(text):
            found = self._search(text)
            ids = [i for i in ids if i in found]
        elif text:
            ids = [i for i in ids if _contains(self.records[i], text.lower())]
        return sorted(ids, reverse=True)

    def _search(self, text: str) -> set[str]:
        if not open_backend(self.settings).exists():
            return set()
        from mlops_nb.tracking import TrackingStore

        with TrackingStore.from_settings(self.settings) as store:
            frame = store.search_runs(text)
        return {str(v) for v in frame["pipeline_run"].dropna()}

    def _on_filter(self, change: Any) -> None:
        if not self._quiet:
            self._apply_filters()

    def _apply_filters(self) -> None:
        if not self.records:
            self._set_runs([], [])
            self.message.value = note(
                f"no runs yet in {self.settings.runs_dir}: start one with `mlops-nb run` "
                "(then Refresh)."
            )
            return
        try:
            ids = self.matching()
        except MlopsNbError as exc:
            self._set_runs([], [])
            self.message.value = note(f"filter: {exc.message}", "error")
            return
        kept = [i for i in self.runs.value if i in ids] or self._default_selection(ids)
        self._set_runs(ids, kept)
        shown = f"{len(ids)} of {len(self.records)} runs match" if ids else "no run matches"
        self.message.value = note(shown)

    def _default_selection(self, ids: list[str]) -> list[str]:
        """The newest two runs of one pipeline (``ids`` newest first).

        The pipeline is the newest run's when it has two runs, else the most
        recently run pipeline that has two; with none, the newest run alone.
        Runs of different pipelines share almost no params or metrics, so a
        default comparison across pipelines would only highlight every row.
        """
        by_pipeline: dict[Any, list[str]] = {}
        for run_id in ids:
            by_pipeline.setdefault(self.records[run_id].get("pipeline"), []).append(run_id)
        pairs = [runs[:2] for runs in by_pipeline.values() if len(runs) >= 2]
        return pairs[0] if pairs else ids[:1]

    def _set_runs(self, ids: list[str], selected: list[str]) -> None:
        self._quiet = True
        try:
            self.runs.options = [(self._label(i), i) for i in ids]
            self.runs.value = tuple(selected)
        finally:
            self._quiet = False
        self._render()

    def _label(self, run_id: str) -> str:
        record = self.records[run_id]
        seconds = record.get("seconds")
        took = f" · {seconds:.1f} s" if isinstance(seconds, (int, float)) else ""
        return f"{run_id} · {record.get('pipeline')} · {record.get('status')}{took}"

    # --- showing ------------------------------------------------------------------------------

    def _on_select(self, change: Any) -> None:
        if not self._quiet:
            self._render()

    def _render(self) -> None:
        ids = self.selected
        records = [self.records[i] for i in ids]
        if not records:
            self.table.value = (
                note("select one or more runs to compare them.") if self.records else ""
            )
            self.links.value = ""
            self._set_metrics([])
            return
        self.table.value = self._table(ids, records)
        self.links.value = "reports: " + " · ".join(
            link(self.settings.runs_dir / i / archive.INDEX, short_id(i)) for i in ids
        )
        numeric = {
            key
            for record in records
            for key, value in (record.get("metrics") or {}).items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
        }
        ordered = [k for r in records for k in (r.get("metrics") or {}) if k in numeric]
        self._set_metrics(list(dict.fromkeys(ordered)))

    def _table(self, ids: list[str], records: list[dict[str, Any]]) -> str:
        header = ["", *(escape(short_id(i)) for i in ids)]
        rows: list[list[Any]] = []
        styles: list[str] = []

        def add(key: str, values: list[Any], group: bool = False) -> None:
            if group:
                rows.append([key, *([""] * len(values))])
                styles.append("group")
                return
            differs = any(not _equal(values[0], v) for v in values[1:])
            if self.only_differences.value and not differs and len(values) > 1:
                return
            rows.append([key, *(None if v is _MISSING else v for v in values)])
            styles.append("changed" if differs else "")

        add("run", [None] * len(records), group=True)
        for field in ("pipeline", "status", "started_at", "seconds"):
            add(field, [r.get(field, _MISSING) for r in records])
        for section in ("params", "metrics"):
            keys = list(dict.fromkeys(k for r in records for k in (r.get(section) or {})))
            if keys:
                add(section, [None] * len(records), group=True)
            for key in keys:
                add(key, [(r.get(section) or {}).get(key, _MISSING) for r in records])
        return html_table(header, rows, styles=styles, raw_header=True)

    def _set_metrics(self, keys: list[str]) -> None:
        current = self.metric.value
        self._quiet = True
        try:
            self.metric.options = keys
            if keys:
                self.metric.value = current if current in keys else _preferred(keys)
        finally:
            self._quiet = False
        self._plot()

    def _on_metric(self, change: Any) -> None:
        if not self._quiet:
            self._plot()

    def _plot(self) -> None:
        key = self.metric.value
        if not key or not self.selected:
            show_png(self.plot, b"")
            return
        show_png(self.plot, figure_png(self.metric_figure(key)))

    def metric_figure(self, key: str) -> Any:
        """The matplotlib ``Figure`` of metric ``key`` across the selected runs, oldest first.

        Each point is labelled with its value, above it in the lower half of the
        plot and below it in the upper half, so no label reaches the frame.
        """
        from matplotlib.figure import Figure

        ids = self.selected
        values = [(self.records[i].get("metrics") or {}).get(key) for i in ids]
        points = [
            (n, float(v))
            for n, v in enumerate(values)
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        figure = Figure(figsize=(7, 3), layout="constrained")
        ax = figure.add_subplot()
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o", color="#1f77b4")
            ax.margins(y=0.25)  # room above and below the points for their labels
            low, high = ax.get_ylim()
            for x, y in points:
                above = y <= (low + high) / 2
                ax.annotate(
                    format_value(y),
                    (x, y),
                    textcoords="offset points",
                    xytext=(0, 7 if above else -7),
                    ha="center",
                    va="bottom" if above else "top",
                    fontsize=8,
                )
        ax.set_xticks(
            range(len(ids)), [short_id(i) for i in ids], rotation=20, ha="right", fontsize=8
        )
        ax.set_xlim(-0.5, len(ids) - 0.5)
        ax.set_title(key, fontsize=10)
        ax.grid(alpha=0.3)
        return figure


def _equal(a: Any, b: Any) -> bool:
    if a is _MISSING or b is _MISSING:
        return a is b
    return same_value(a, b)


def _preferred(keys: list[str]) -> str:
    from mlops_nb.pipeline.report import HEADLINE

    return next((k for k in keys if HEADLINE.fullmatch(k.rpartition(".")[2])), keys[0])


def _contains(record: dict[str, Any], text: str) -> bool:
    """Whether ``text`` (lower case) is in the run's id, pipeline, params or metrics."""
    parts = [str(record.get("id")), str(record.get("pipeline")), str(record.get("status"))]
    for section in ("params", "metrics"):
        for key, value in (record.get(section) or {}).items():
            parts.append(f"{key}={format_value(value)}")
    return any(text in part.lower() for part in parts)
