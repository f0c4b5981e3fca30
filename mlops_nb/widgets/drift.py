"""Explore drift: a model version's reference profile against any current data."""

from __future__ import annotations

import math
from typing import Any

import ipywidgets as w

from mlops_nb.config import Settings, load_settings
from mlops_nb.errors import MlopsNbError
from mlops_nb.store import open_backend
from mlops_nb.widgets._base import Panel, figure_png, html_table, note, show_png

__all__ = ["DriftExplorer"]

DEFAULT_DATA = "sample:churn?drift=2&seed=5"
TABLE_COLUMNS = ("column", "status", "p_adjusted", "effect_name", "effect", "threshold", "reason")


class DriftExplorer(Panel):
    """Test current data for drift against a registered version's reference profile.

    The version's ``reference_profile.parquet`` (attached at registration) gives
    the detector; the current data gets the model's prediction column (scored on
    the rows its input contract accepts), as in the ``monitor`` pipeline, so the
    result is what a monitor run with default settings would find.

    Children (set ``.value`` or ``.click()`` them from code too):

    * ``model``: a model reference, e.g. ``churn@production`` or ``churn:3``;
    * ``data``: the current data source (a path, a SQLAlchemy URL,
      ``sample:churn?drift=2&seed=5`` or ``inference`` for the serving log);
    * ``check_button``: run the test;
    * ``summary``, ``table``: the verdict and one row per feature (and the prediction);
    * ``overview``: effect size of every feature against its threshold (PNG);
    * ``feature`` and ``plot``: one feature's reference and current distributions;
    * ``message``: what went wrong, if anything.

    After a check, ``report`` (the :class:`~mlops_nb.monitoring.DriftReport`),
    ``detector`` and ``frame`` (the tested rows) hold the result.

    Args:
        settings: The project (default: :func:`mlops_nb.load_settings`).
        model: The initial model reference (default: the first model's
            ``production`` version, or its latest).
        data: The initial current data source.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        model: str | None = None,
        data: str = DEFAULT_DATA,
    ) -> None:
        self.settings = settings or load_settings()
        self.report: Any = None
        self.detector: Any = None
        self.frame: Any = None
        self._quiet = False
        self.model = w.Combobox(
            description="model",
            placeholder="churn@production",
            ensure_option=False,
            layout=w.Layout(width="24rem"),
        )
        self.data = w.Text(
            description="data",
            value=data,
            placeholder="sample:churn?drift=2&seed=5, a CSV/Parquet path, a SQL URL or inference",
            layout=w.Layout(width="36rem"),
        )
        self.check_button = w.Button(description="Check drift", button_style="primary")
        self.message = w.HTML()
        self.summary = w.HTML()
        self.table = w.HTML()
        self.overview = w.Image(format="png", layout=w.Layout(display="none"))
        self.feature = w.Dropdown(description="feature", options=[])
        self.plot = w.Image(format="png", layout=w.Layout(display="none"))
        self.check_button.on_click(lambda _: self.check())
        self.feature.observe(self._on_feature, names="value")
        self.widget = w.VBox(
            [
                w.HBox([self.model, self.check_button]),
                self.data,
                self.message,
                self.summary,
                self.table,
                self.overview,
                self.feature,
                self.plot,
            ]
        )
        self._suggest(model)

    def _registry(self) -> Any:
        from mlops_nb.registry import Registry

        return Registry.from_settings(self.settings)

    def _suggest(self, model: str | None) -> None:
        """Fill the model suggestions; without models, say so."""
        refs: list[str] = []
        if open_backend(self.settings).exists():
            try:
                with self._registry() as registry:
                    for row in registry.list_models().itertuples():
                        held = [a.split("=")[0] for a in str(row.aliases).split(", ") if a]
                        refs += [f"{row.name}@{a}" for a in held] + [f"{row.name}:latest"]
            except MlopsNbError as exc:
                self.message.value = note(exc.message, "error")
        self.model.options = tuple(refs)
        preferred = [r for r in refs if r.endswith("@production")] or refs
        self.model.value = model or (preferred[0] if preferred else "")
        if not refs and not model:
            self.message.value = note(
                "no models yet: run the train pipeline (`mlops-nb run train`) to register one; "
                "its reference profile is what new data is compared with."
            )

    # --- checking -----------------------------------------------------------------------------

    def check(self) -> bool:
        """Test the data in ``data`` against the profile of the version in ``model``.

        Returns:
            True when the test ran (the result is shown), False on an error (shown
            in ``message``).
        """
        ref, source = self.model.value.strip(), self.data.value.strip()
        if not ref or not source:
            what = "a model reference (e.g. churn@production)" if not ref else "a data source"
            self._fail(f"type {what} first.")
            return False
        self.message.value = note(f"checking {ref} against {source} …")
        try:
            self.detector, self.frame, self.report, title = self._test(ref, source)
        except MlopsNbError as exc:
            self._fail(exc.message)
            return False
        except Exception as exc:  # a widget callback must not raise: show what happened
            self._fail(f"{type(exc).__name__}: {exc}")
            return False
        self.message.value = note(title, "ok")
        self._show()
        return True

    def _test(self, ref: str, source: str) -> tuple[Any, Any, Any, str]:
        from mlops_nb.monitoring import DriftDetector
        from mlops_nb.monitoring.loop import PROFILE_FILE, load_current_data

        with self._registry() as registry:
            version = registry.get(ref)
            loaded = registry.load(version.name, version.version)
            profile = registry.attachment(version.name, PROFILE_FILE, version.version)
        detector = DriftDetector.from_profile(profile)
        current = load_current_data(source, self.settings, version.name, version.target)
        columns = list(loaded.signature.columns)
        missing = [c for c in columns if c not in current.frame.columns]
        if missing:
            raise MlopsNbError(
                f"the current data ({current.source}) lacks the model's input column(s) "
                f"{', '.join(missing)}; it has {', '.join(map(str, current.frame.columns))}."
            )
        frame = current.frame[columns].copy()
        scored = _add_predictions(frame, loaded, detector, version.task, current.source)
        report = detector.test(frame)
        title = (
            f"{version.ref} against {len(frame):,} rows of {current.source}"
            f" ({scored:,} scored by the model)."
        )
        return detector, frame, report, title

    def _fail(self, message: str) -> None:
        self.report = self.detector = self.frame = None
        self.message.value = note(message, "error")
        self.summary.value = self.table.value = ""
        show_png(self.overview, b"")
        show_png(self.plot, b"")
        self._quiet = True
        try:
            self.feature.options = []
        finally:
            self._quiet = False

    # --- showing ------------------------------------------------------------------------------

    def _show(self) -> None:
        from mlops_nb.monitoring import drift_overview_figure

        report = self.report
        self.summary.value = note(report.summary(), "error" if report.dataset_drift else "info")
        rows = [r for _, r in report.features.iterrows()]
        if report.prediction is not None:
            rows.append(report.prediction)
        self.table.value = html_table(
            [*TABLE_COLUMNS, "drifted"],
            [[row.get(c) for c in TABLE_COLUMNS] + [bool(row["drifted"])] for row in rows],
            styles=["drift" if row["drifted"] else "" for row in rows],
        )
        show_png(self.overview, figure_png(drift_overview_figure(report)))
        ranked = sorted(rows, key=lambda r: -_effect(r))
        names = [str(r["column"]) for r in ranked if r["status"] in ("drift", "no drift")]
        names += [str(r["column"]) for r in rows if str(r["column"]) not in names]
        self._quiet = True
        try:
            self.feature.options = names
            self.feature.value = names[0] if names else None
        finally:
            self._quiet = False
        self._plot()

    def _on_feature(self, change: Any) -> None:
        if not self._quiet:
            self._plot()

    def _plot(self) -> None:
        column = self.feature.value
        if self.report is None or not column:
            show_png(self.plot, b"")
            return
        from mlops_nb.monitoring import drift_figure

        try:
            figure = drift_figure(self.detector, self.frame, column, report=self.report)
        except MlopsNbError as exc:
            self.message.value = note(exc.message, "error")
            show_png(self.plot, b"")
            return
        show_png(self.plot, figure_png(figure))


def _add_predictions(frame: Any, loaded: Any, detector: Any, task: str, source: str) -> int:
    """Add the prediction column the profile has, scoring the rows the contract accepts."""
    from mlops_nb.monitoring.loop import PREDICTION_COLUMN, prediction_scores
    from mlops_nb.validation import validate

    profiled = detector.profile_.columns.get(PREDICTION_COLUMN)
    if profiled is None or profiled.kind == "skipped":
        return 0
    columns = list(loaded.signature.columns)
    quality = validate(
        frame[columns],
        loaded.signature,
        on_invalid="quarantine",
        max_invalid_fraction=1.0,
        source=source,
    )
    scored = quality.valid.index
    if len(scored):
        scores = prediction_scores(loaded.model, frame.loc[scored, columns], task)
        frame[PREDICTION_COLUMN] = scores.reindex(frame.index)
    else:
        frame[PREDICTION_COLUMN] = float("nan")
    return len(scored)


def _effect(row: Any) -> float:
    value = row.get("effect")
    threshold = row.get("threshold")
    try:
        ratio = float(value) / float(threshold) if threshold else float(value)
    except (TypeError, ValueError):
        return -1.0
    return -1.0 if math.isnan(ratio) else ratio
