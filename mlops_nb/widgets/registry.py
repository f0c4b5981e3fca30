"""Browse the model registry: versions, alias history, and audited alias moves."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from mlops_nb.config import Settings, load_settings
from mlops_nb.errors import MlopsNbError
from mlops_nb.widgets._base import Panel, frame_table, note

__all__ = ["RegistryBrowser"]

VERSION_COLUMNS = ("version", "status", "aliases", "created_at", "task", "target")
LINEAGE_COLUMNS = ("data_version", "pipeline_run", "training_run", "retired_reason")


class RegistryBrowser(Panel):
    """A model's versions and alias history, and forms to move an alias or retire a version.

    Every alias move goes through :meth:`mlops_nb.Registry.set_alias` with the
    reason typed in, so it lands in the audit history like a move from the
    command line. Errors (no reason, an unknown version, a retired version) are
    shown in ``message``, never raised.

    Children (set ``.value`` or ``.click()`` them from code too):

    * ``model``: the model (dropdown); ``refresh_button`` reads the registry again;
    * ``versions``: its versions (status, aliases, metrics, lineage);
    * ``history``: every alias change, newest first (who, when, from, to, reason, run);
    * ``promote_version`` (a number, ``latest`` or an alias), ``promote_alias``,
      ``promote_reason`` and ``promote_button``: point the alias at the version;
    * ``retire_version``, ``retire_reason`` and ``retire_button``: retire a version
      (its aliases are removed, with history);
    * ``message``: the outcome of the last action.

    Args:
        settings: The project (default: :func:`mlops_nb.load_settings`).
        actor: Who the audit history names (default: the OS user).
    """

    def __init__(self, settings: Settings | None = None, *, actor: str | None = None) -> None:
        self.settings = settings or load_settings()
        self.actor = actor
        self._quiet = False
        self.model = w.Dropdown(description="model", options=[])
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.message = w.HTML()
        self.versions = w.HTML()
        self.history = w.HTML()
        self.promote_version = w.Combobox(
            description="version", placeholder="number, latest or an alias", ensure_option=False
        )
        self.promote_alias = w.Text(description="alias", value="production")
        self.promote_reason = w.Text(
            description="reason",
            placeholder="why (required: it goes into the audit history)",
            layout=w.Layout(width="36rem"),
        )
        self.promote_button = w.Button(description="Set alias", button_style="primary")
        self.retire_version = w.Combobox(
            description="version", placeholder="number", ensure_option=False
        )
        self.retire_reason = w.Text(
            description="reason", placeholder="why (required)", layout=w.Layout(width="36rem")
        )
        self.retire_button = w.Button(description="Retire version", button_style="danger")
        self.model.observe(self._on_model, names="value")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.promote_button.on_click(lambda _: self.promote())
        self.retire_button.on_click(lambda _: self.retire())
        self.widget = w.VBox(
            [
                w.HBox([self.model, self.refresh_button]),
                self.message,
                w.HTML("<b>Versions</b>"),
                self.versions,
                w.HTML("<b>Alias history</b>"),
                self.history,
                w.HTML("<b>Move an alias</b>"),
                w.HBox([self.promote_version, self.promote_alias]),
                w.HBox([self.promote_reason, self.promote_button]),
                w.HTML("<b>Retire a version</b>"),
                w.HBox([self.retire_version, self.retire_reason, self.retire_button]),
            ]
        )
        self.refresh()

    def _registry(self) -> Any:
        from mlops_nb.registry import Registry

        return Registry.from_settings(self.settings)

    # --- reading ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the list of models again and show the selected one."""
        names: list[str] = []
        if self.settings.database.is_file():
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
            return
        try:
            with self._registry() as registry:
                versions = registry.versions(name)
                history = registry.history(name)
        except MlopsNbError as exc:
            self.message.value = note(exc.message, "error")
            return
        self.versions.value = self._versions_table(versions)
        if len(history):
            newest = history.iloc[::-1].reset_index(drop=True)
            newest["at"] = newest["at"].dt.strftime("%Y-%m-%d %H:%M:%S")
            self.history.value = frame_table(newest)
        else:
            self.history.value = note("no alias has been set yet.")
        numbers = [str(v) for v in versions["version"].iloc[::-1]]
        aliases = sorted({a.strip() for v in versions["aliases"] for a in str(v).split(",") if a})
        self.promote_version.options = tuple([*numbers, "latest", *aliases])
        active = versions.loc[versions["status"] == "active", "version"].iloc[::-1]
        self.retire_version.options = tuple(str(v) for v in active)

    def _versions_table(self, frame: Any) -> str:
        metrics = [c for c in frame.columns if c not in (*VERSION_COLUMNS, *LINEAGE_COLUMNS)]
        columns = [c for c in (*VERSION_COLUMNS, *metrics, *LINEAGE_COLUMNS) if c in frame]
        shown = frame.iloc[::-1][columns].copy()
        if "created_at" in shown:
            shown["created_at"] = shown["created_at"].dt.strftime("%Y-%m-%d %H:%M")
        styles = ["" if s == "active" else "group" for s in shown["status"]]
        return frame_table(shown, styles=styles)

    # --- acting -------------------------------------------------------------------------------

    def promote(self) -> bool:
        """Point ``promote_alias`` at ``promote_version`` with ``promote_reason``.

        Returns:
            True when the alias moved (a history row was written).
        """
        name, reason = self.model.value, self.promote_reason.value.strip()
        alias, ref = self.promote_alias.value.strip(), _ref(self.promote_version.value)
        problem = _missing(name, ref, reason, alias=alias)
        if problem:
            self.message.value = note(problem, "error")
            return False
        try:
            with self._registry() as registry:
                moved = registry.set_alias(name, alias, ref, reason=reason, actor=self.actor)
                version = registry.get(name, alias).version
        except MlopsNbError as exc:
            self.message.value = note(exc.message, "error")
            return False
        if moved:
            self.message.value = note(f"{name}@{alias} → version {version}: {reason}", "ok")
            self.promote_reason.value = ""
        else:
            self.message.value = note(
                f"{name}@{alias} already points at version {version}; nothing recorded."
            )
        self._show()
        return moved

    def retire(self) -> bool:
        """Retire ``retire_version`` with ``retire_reason`` (its aliases are removed).

        Returns:
            True when a version was retired.
        """
        name, reason = self.model.value, self.retire_reason.value.strip()
        ref = _ref(self.retire_version.value)
        problem = _missing(name, ref, reason)
        if problem:
            self.message.value = note(problem, "error")
            return False
        try:
            with self._registry() as registry:
                before = registry.get(name, ref)
                retired = registry.retire(name, ref, reason=reason, actor=self.actor)
        except MlopsNbError as exc:
            self.message.value = note(exc.message, "error")
            return False
        if before.status == retired.status:
            self.message.value = note(f"{retired.ref} was already retired; nothing changed.")
        else:
            removed = f" (aliases removed: {', '.join(before.aliases)})" if before.aliases else ""
            self.message.value = note(f"retired {retired.ref}{removed}: {reason}", "ok")
            self.retire_reason.value = ""
        self._show()
        return before.status != retired.status


def _ref(text: str) -> int | str:
    text = (text or "").strip()
    return int(text) if text.isdigit() else text


def _missing(name: Any, ref: int | str, reason: str, alias: str | None = None) -> str | None:
    if not name:
        return "no model selected."
    if ref == "":
        return "choose a version: a number, latest or an alias."
    if alias is not None and not alias:
        return "type the alias to move (e.g. production)."
    if not reason:
        return "a reason is required: it is kept in the audit history (say why)."
    return None
