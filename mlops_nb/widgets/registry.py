"""Browse the model registry: versions, alias history, and audited alias moves."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

import ipywidgets as w

from mlops_nb.config import Settings, load_settings
from mlops_nb.errors import MlopsNbError
from mlops_nb.pipeline.archive import INDEX, RUN_FILE
from mlops_nb.store import open_backend
from mlops_nb.widgets._base import Panel, cell, html_table, link, note, short_id

__all__ = ["RegistryBrowser"]

VERSION_COLUMNS = ("version", "status", "aliases", "created_at", "task", "target")
LINEAGE_COLUMNS = ("data_version", "pipeline_run", "training_run", "retired_reason")
NEW_ALIAS = "new alias…"
"""The ``promote_alias`` choice that reveals ``new_alias``."""
MAX_ID = 16
"""Longer identifiers in the versions table are cut, the whole one in the tooltip."""


class RegistryBrowser(Panel):
    """A model's versions and alias history, and forms to move an alias or retire a version.

    Every alias move goes through :meth:`mlops_nb.Registry.set_alias` with the
    reason typed in, so it lands in the audit history like a move from the
    command line. Errors (no reason, an unknown version, a retired version) are
    shown next to the button that met them, never raised.

    Two moves ask for a second click (the button turns into **Confirm**):
    creating an alias no version has held yet (so a typo such as "prodution"
    is not silently a new alias), and pointing an alias at a version its
    promotion gate decided to keep out of it (the ``decision.json`` of the
    run that registered it).

    Children (set ``.value`` or ``.click()`` them from code too):

    * ``model``: the model (dropdown); ``refresh_button`` reads the registry again;
    * ``message``: what went wrong reading the registry, or that there are no models;
    * ``versions``: its versions (status, aliases, metrics, lineage), retired ones greyed;
    * ``history``: every alias change, newest first (who, when, from, to, reason, run);
    * ``promote_version`` (a number, ``latest`` or an alias), ``promote_alias``
      (the model's aliases, or ``new alias…`` with ``new_alias``), ``promote_reason``
      and ``promote_button``: point the alias at the version; ``promote_message``
      says what happened;
    * ``retire_version``, ``retire_reason`` and ``retire_button``: retire a version
      (its aliases are removed, with history); ``retire_message`` says what happened.

    Args:
        settings: The project (default: :func:`mlops_nb.load_settings`).
        actor: Who the audit history names (default: the OS user).
    """

    def __init__(self, settings: Settings | None = None, *, actor: str | None = None) -> None:
        self.settings = settings or load_settings()
        self.actor = actor
        self._quiet = False
        self._pending: tuple[Any, ...] | None = None
        self._proposals: dict[int, tuple[int, str]] = {}
        self.model = w.Dropdown(description="model", options=[])
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.message = w.HTML()
        self.versions = w.HTML()
        self.history = w.HTML()
        self.pending = w.HTML()
        self._promote_controls()
        self._approve_controls()
        self._retire_controls()
        self._wire()
        self.widget = self._layout()
        self.refresh()

    def _promote_controls(self) -> None:
        self.promote_version = w.Combobox(
            description="version", placeholder="number, latest or an alias", ensure_option=False
        )
        self.promote_alias = w.Dropdown(description="alias", options=[NEW_ALIAS], value=NEW_ALIAS)
        self.new_alias = w.Text(
            description="new alias",
            placeholder="a name no version holds yet",
            layout=w.Layout(display="none"),
        )
        self.promote_reason = w.Text(
            description="reason",
            placeholder="why (required: it goes into the audit history)",
            layout=w.Layout(width="36rem"),
        )
        self.promote_button = w.Button(description="Set alias", button_style="primary")
        self.promote_message = w.HTML()

    def _approve_controls(self) -> None:
        self.approve_proposal = w.Dropdown(description="proposal", options=[])
        self.approve_reason = w.Text(
            description="reason",
            placeholder="why (required): what you reviewed in the run report",
            layout=w.Layout(width="36rem"),
        )
        self.approve_button = w.Button(description="Approve", button_style="success")
        self.approve_message = w.HTML()

    def _retire_controls(self) -> None:
        self.retire_version = w.Combobox(
            description="version", placeholder="number", ensure_option=False
        )
        self.retire_reason = w.Text(
            description="reason", placeholder="why (required)", layout=w.Layout(width="36rem")
        )
        self.retire_button = w.Button(description="Retire version", button_style="danger")
        self.retire_message = w.HTML()

    def _wire(self) -> None:
        self.model.observe(self._on_model, names="value")
        self.promote_alias.observe(self._on_alias, names="value")
        for control in (self.promote_version, self.new_alias, self.promote_reason):
            control.observe(self._on_promote_input, names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.promote_button.on_click(lambda _: self.promote())
        self.retire_button.on_click(lambda _: self.retire())
        self.approve_button.on_click(lambda _: self.approve())

    def _layout(self) -> Any:
        return w.VBox(
            [
                w.HBox([self.model, self.refresh_button]),
                self.message,
                w.HTML("<b>Versions</b>"),
                self.versions,
                w.HTML("<b>Audit history</b>"),
                self.history,
                w.HTML("<b>Move an alias</b>"),
                w.HBox([self.promote_version, self.promote_alias, self.new_alias]),
                w.HBox([self.promote_reason, self.promote_button]),
                self.promote_message,
                w.HTML("<b>Retire a version</b>"),
                w.HBox([self.retire_version, self.retire_reason, self.retire_button]),
                self.retire_message,
                w.HTML("<b>Approve a proposal</b> (protected aliases: another person approves)"),
                self.pending,
                w.HBox([self.approve_proposal, self.approve_reason, self.approve_button]),
                self.approve_message,
            ]
        )

    def _registry(self) -> Any:
        from mlops_nb.registry import Registry

        return Registry.from_settings(self.settings)

    # --- reading ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the list of models again and show the selected one."""
        names: list[str] = []
        if open_backend(self.settings).exists():
            try:
                with self._registry() as registry:
                    names = [str(n) for n in registry.list_models()["name"]]
            except MlopsNbError as exc:
                self.message.value = note(exc.message, "error")
                return
        current = self.model.value
        self._quiet = True
        try:
            self.model.options = names
            self.model.value = current if current in names else (names[0] if names else None)
        finally:
            self._quiet = False
        if not names:
            self.message.value = note(
                "no models yet: run the train pipeline (`mlops-nb run train`) to register one, "
                "then Refresh."
            )
        self._show()

    def _on_model(self, change: Any) -> None:
        if not self._quiet:
            self.message.value = ""
            self._show()

    def _show(self) -> None:
        name = self.model.value
        if not name:
            self.versions.value = self.history.value = ""
            self.promote_version.options = self.retire_version.options = ()
            self._set_aliases([])
            return
        try:
            with self._registry() as registry:
                versions = registry.versions(name)
                history = registry.audit(name)
                pending = registry.pending(name)
        except MlopsNbError as exc:
            self.message.value = note(exc.message, "error")
            return
        self.versions.value = self._versions_table(versions)
        self._show_pending(pending)
        if len(history):
            self.history.value = self._history_table(history)
        else:
            self.history.value = note("no alias has been set yet.")
        held = {a.strip() for v in versions["aliases"] for a in str(v).split(",") if a.strip()}
        self.promote_version.options = tuple(
            [*(str(v) for v in versions["version"].iloc[::-1]), "latest", *sorted(held)]
        )
        self._set_aliases(sorted(held | {str(a) for a in history["alias"]}))
        active = versions.loc[versions["status"] == "active", "version"].iloc[::-1]
        self.retire_version.options = tuple(str(v) for v in active)

    def _show_pending(self, pending: Any) -> None:
        """The proposals waiting for an approval, with the report's sha256 an approval records."""
        if pending.empty:
            self.pending.value = note("no proposal waits for an approval.")
            self.approve_proposal.options = []
            self._proposals = {}
            return
        columns = ["id", "version", "alias", "champion_version", "proposed_by", "reason"]
        rows = [
            [
                *(cell(row[c]) for c in columns),
                link(Path(row["report"]), "run report") if row["report"] else "",
                cell(row["report_sha256"]),
            ]
            for row in pending.to_dict("records")
        ]
        every = range(len(columns) + 2)
        self.pending.value = html_table(
            [*columns, "report", "report_sha256"], rows, raw_columns=every
        )
        records = pending.to_dict("records")
        self._proposals = {int(row["id"]): (int(row["version"]), row["alias"]) for row in records}
        self.approve_proposal.options = [
            (f"#{row['id']}: v{row['version']} → {row['alias']}", int(row["id"])) for row in records
        ]
        current = self.approve_proposal.value
        self.approve_proposal.value = (
            current if current in self._proposals else int(records[0]["id"])
        )

    def approve(self) -> bool:
        """Approve the chosen proposal with ``approve_reason``: the alias moves.

        Returns:
            True when the approval was recorded and the alias moved.
        """
        name, reason = self.model.value, self.approve_reason.value.strip()
        chosen = self._proposals.get(self.approve_proposal.value)
        if chosen is None or not reason:
            self.approve_message.value = note(
                "choose a proposal and say why you approve it (the reason is recorded).", "error"
            )
            return False
        version, alias = chosen
        try:
            with self._registry() as registry:
                digest = registry.approve(name, version, alias, reason=reason, actor=self.actor)
        except MlopsNbError as exc:
            self.approve_message.value = note(exc.message, "error")
            return False
        self.approve_message.value = note(
            f"approved: {name}@{alias} → v{version} (report sha256 {digest})", "ok"
        )
        self.approve_reason.value = ""
        self._show()
        return True

    def _set_aliases(self, aliases: list[str]) -> None:
        """The alias choices: the model's aliases (production first), then ``new alias…``."""
        ordered = sorted(aliases, key=lambda a: (a != "production", a != "staging", a))
        current = self.promote_alias.value
        self.promote_alias.options = [*ordered, NEW_ALIAS]
        self.promote_alias.value = current if current in ordered else (ordered or [NEW_ALIAS])[0]
        self._on_alias(None)

    def _versions_table(self, frame: Any) -> str:
        """One row per version, newest first, narrow enough for the output area.

        The metrics share one cell, and so does the lineage (data version, the
        pipeline run linked to its report, the training run), one per line;
        retired versions are greyed.
        """
        metrics = [c for c in frame.columns if c not in (*VERSION_COLUMNS, *LINEAGE_COLUMNS)]
        header = ["version", "status", "aliases", "created_at", "task · target", "metrics"]
        header += ["lineage"]
        retired = "retired_reason" in frame and frame["retired_reason"].notna().any()
        if retired:
            header.append("retired_reason")
        rows = []
        for record in frame.iloc[::-1].to_dict("records"):
            created = record.get("created_at")
            row = [
                cell(record.get("version")),
                cell(record.get("status")),
                cell(record.get("aliases")),
                cell(created.strftime("%Y-%m-%d %H:%M") if created is not None else None),
                f"{cell(record.get('task'))} · {cell(record.get('target'))}",
                "<br>".join(f"{escape(m)} {cell(record.get(m))}" for m in metrics),
                "<br>".join(
                    f"{c} {self._lineage(c, record.get(c))}"
                    for c in LINEAGE_COLUMNS[:3]
                    if cell(record.get(c))
                ),
            ]
            if retired:
                row.append(cell(record.get("retired_reason")))
            rows.append(row)
        styles = ["" if status == "active" else "retired" for status in frame["status"].iloc[::-1]]
        return html_table(header, rows, styles=styles, raw_columns=range(len(header)))

    def _history_table(self, history: Any) -> str:
        """Every alias change, newest first; the run of a change links to its report."""
        newest = history.iloc[::-1].reset_index(drop=True)
        newest["at"] = newest["at"].dt.strftime("%Y-%m-%d %H:%M:%S")
        columns = [str(c) for c in newest.columns]
        rows = [
            [self._lineage("pipeline_run", v) if c == "run" else cell(v) for c, v in row.items()]
            for row in newest.to_dict("records")
        ]
        return html_table(columns, rows, raw_columns=range(len(columns)))

    def _lineage(self, column: str, value: Any) -> str:
        """A lineage value: a run links to its report, long identifiers are cut."""
        text = cell(value)
        if column == "pipeline_run":
            run_dir = self.settings.runs_dir / str(value)
            if (run_dir / INDEX).is_file():
                return link(run_dir / INDEX, short_id(str(value)))
        if len(str(value)) > MAX_ID:
            return f'<span title="{text}">{escape(str(value)[: MAX_ID - 1])}…</span>'
        return text

    # --- acting -------------------------------------------------------------------------------

    def _on_alias(self, change: Any) -> None:
        self.new_alias.layout.display = None if self.promote_alias.value == NEW_ALIAS else "none"
        self._on_promote_input(change)

    def _on_promote_input(self, change: Any) -> None:
        """Any change to the form cancels a pending confirmation."""
        if self._pending is not None:
            self._pending = None
            self.promote_button.description = "Set alias"
            self.promote_button.button_style = "primary"

    def _chosen_alias(self) -> str:
        if self.promote_alias.value == NEW_ALIAS:
            return str(self.new_alias.value).strip()
        return str(self.promote_alias.value or "").strip()

    def promote(self, *, confirm: bool = False) -> bool:
        """Point the chosen alias at ``promote_version`` with ``promote_reason``.

        A new alias, or an alias the version's promotion gate kept it out of,
        first shows a warning and turns the button into **Confirm**; the move
        happens on the second click (or at once with ``confirm=True``).

        Returns:
            True when the alias moved (a history row was written).
        """
        name, reason = self.model.value, self.promote_reason.value.strip()
        alias, ref = self._chosen_alias(), _ref(self.promote_version.value)
        problem = _missing(name, ref, reason, alias=alias)
        if problem:
            self.promote_message.value = note(problem, "error")
            return False
        from mlops_nb.registry import validate_alias

        try:
            validate_alias(alias)  # a clash with a version reference, before any confirmation
            with self._registry() as registry:
                target = registry.get(name, ref)
                warnings = self._warnings(name, target, alias)
                key = (name, target.version, alias, reason)
                if warnings and not confirm and self._pending != key:
                    self._ask_confirmation(key, warnings)
                    return False
                moved: bool = registry.set_alias(name, alias, ref, reason=reason, actor=self.actor)
                version = registry.get(name, alias).version
        except MlopsNbError as exc:
            self.promote_message.value = note(exc.message, "error")
            return False
        self._on_promote_input(None)
        if moved:
            overridden = " (against the gate's decision)" if warnings else ""
            self.promote_message.value = note(
                f"{name}@{alias} → version {version}{overridden}: {reason}", "ok"
            )
            self.promote_reason.value = ""
        else:
            self.promote_message.value = note(
                f"{name}@{alias} already points at version {version}; nothing recorded."
            )
        self._show()
        return moved

    def _warnings(self, name: str, target: Any, alias: str) -> list[str]:
        """Why moving ``alias`` to ``target`` deserves a second look (empty: it does not)."""
        warnings = []
        known = [a for a in self.promote_alias.options if a != NEW_ALIAS]
        if alias not in known:
            existing = ", ".join(known) if known else "none yet"
            warnings.append(
                f"{alias!r} is a new alias of {name} (its aliases: {existing}); choose one from "
                f"the list unless you mean to create it."
            )
        gate = _gate_verdict(self.settings, target.lineage.get("pipeline_run"))
        if gate is not None and not gate.get("promote") and gate.get("alias") == alias:
            warnings.append(
                f"the promotion gate of run {gate['run']} kept version {target.version} out of "
                f"{alias}: {gate.get('reason') or 'no reason recorded'}. Moving it overrides "
                f"the gate."
            )
        return warnings

    def _ask_confirmation(self, key: tuple[Any, ...], warnings: list[str]) -> None:
        self._pending = key
        self.promote_button.description = "Confirm"
        self.promote_button.button_style = "warning"
        self.promote_message.value = note(
            "\n".join([*warnings, "Click Confirm to go ahead, or change the form."]), "warning"
        )

    def retire(self) -> bool:
        """Retire ``retire_version`` with ``retire_reason`` (its aliases are removed).

        Returns:
            True when a version was retired.
        """
        name, reason = self.model.value, self.retire_reason.value.strip()
        ref = _ref(self.retire_version.value)
        problem = _missing(name, ref, reason)
        if problem:
            self.retire_message.value = note(problem, "error")
            return False
        try:
            with self._registry() as registry:
                before = registry.get(name, ref)
                retired = registry.retire(name, ref, reason=reason, actor=self.actor)
        except MlopsNbError as exc:
            self.retire_message.value = note(exc.message, "error")
            return False
        if before.status == retired.status:
            self.retire_message.value = note(f"{retired.ref} was already retired; nothing changed.")
        else:
            removed = f" (aliases removed: {', '.join(before.aliases)})" if before.aliases else ""
            self.retire_message.value = note(f"retired {retired.ref}{removed}: {reason}", "ok")
            self.retire_reason.value = ""
        self._show()
        return bool(before.status != retired.status)


def _gate_verdict(settings: Settings, pipeline_run: Any) -> dict[str, Any] | None:
    """The promotion gate's decision in the archived run that registered a version."""
    if not pipeline_run:
        return None
    from mlops_nb.pipeline.report import gate_decision

    run_dir = settings.runs_dir / str(pipeline_run)
    try:
        record = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    decision = gate_decision(run_dir, record) if isinstance(record, dict) else None
    return None if decision is None else {**decision, "run": str(pipeline_run)}


def _ref(text: str) -> int | str:
    text = (text or "").strip()
    return int(text) if text.isdigit() else text


def _missing(name: Any, ref: int | str, reason: str, alias: str | None = None) -> str | None:
    if not name:
        return "no model selected."
    if ref == "":
        return "choose a version: a number, latest or an alias."
    if alias is not None and not alias:
        return "choose the alias to move, or type the new alias to create (e.g. production)."
    if not reason:
        return "a reason is required: it is kept in the audit history (say why)."
    return None
