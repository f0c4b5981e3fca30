"""``mlops-nb models ...``: the registry from the command line."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from mlops_nb.cli.output import console, print_json
from mlops_nb.config import load_settings

if TYPE_CHECKING:
    from mlops_nb.registry import Registry

__all__ = ["models_app"]

models_app = typer.Typer(
    help="The model registry: versions, aliases, audit history.", no_args_is_help=True
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
VersionArg = Annotated[str, typer.Argument(help="A version number, 'latest' or an alias.")]
Reason = Annotated[str, typer.Option(help="Why: recorded in the audit history.")]


def _registry(name: str | None = None, alias: str | None = None) -> Registry:
    """The project's registry, once ``name`` and ``alias`` are names it accepts.

    They are checked first, so a refused name never creates or opens the store.
    """
    from mlops_nb.registry import Registry
    from mlops_nb.registry.names import validate_alias, validate_name

    if name is not None:
        validate_name(name)
    if alias is not None:
        validate_alias(alias)
    return Registry.from_settings(load_settings())


def _records(frame: Any) -> list[dict[str, Any]]:
    """JSON-ready rows: timestamps as ISO text, NA as null."""
    text = frame.to_json(orient="records", date_format="iso", date_unit="us", default_handler=str)
    rows: list[dict[str, Any]] = json.loads(text)
    return rows


def _print_frame(frame: Any, title: str) -> None:
    import pandas as pd

    table = Table(title=title)
    for column in frame.columns:
        table.add_column(str(column))
    for row in frame.itertuples(index=False):
        table.add_row(*("" if pd.isna(v) else str(v) for v in row))
    console.print(table)


@models_app.command("list")
def models_list(as_json: JsonFlag = False) -> None:
    """List registered models with their latest version and aliases."""
    with _registry() as registry:
        frame = registry.list_models()
    if as_json:
        print_json(_records(frame))
    else:
        _print_frame(frame, "models")


@models_app.command("show")
def models_show(name: str, as_json: JsonFlag = False) -> None:
    """Show a model's versions: status, aliases, metrics, lineage."""
    with _registry(name) as registry:
        frame = registry.versions(name)
    if as_json:
        print_json({"name": name, "versions": _records(frame)})
    else:
        _print_frame(frame, f"versions of {name}")


@models_app.command("history")
def models_history(
    name: str,
    alias: Annotated[str | None, typer.Option(help="Only this alias.")] = None,
    at: Annotated[str | None, typer.Option(help="ISO time: which version held ALIAS then.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The audit history of a model's aliases: proposals, approvals, moves, rollbacks.

    Each row says when, what (event), from which version to which, who, why and in which run.
    """
    with _registry(name, alias) as registry:
        if at is not None:
            _print_alias_at(registry, name, alias, at, as_json)
            return
        frame = registry.audit(name, alias)
    if as_json:
        print_json({"name": name, "history": _records(frame)})
    else:
        _print_frame(frame, f"alias history of {name}")


def _print_alias_at(
    registry: Registry, name: str, alias: str | None, at: str, as_json: bool
) -> None:
    if alias is None:
        raise typer.BadParameter("--at needs --alias (which alias to look up)")
    version = registry.alias_at(name, alias, at)
    if as_json:
        print_json({"name": name, "alias": alias, "at": at, "version": version})
    else:
        held = f"v{version}" if version is not None else "no version"
        console.print(f"{name}@{alias} at {at}: {held}")


@models_app.command("promote")
def models_promote(
    name: str,
    version: VersionArg,
    alias: str,
    reason: Reason,
    as_json: JsonFlag = False,
) -> None:
    """Point ALIAS of NAME at VERSION, recording who, when and why."""
    with _registry(name, alias) as registry:
        moved = registry.set_alias(name, alias, version, reason=reason)
        target = registry.get(name, alias)
    result = {"name": name, "alias": alias, "version": target.version, "moved": moved}
    if as_json:
        print_json(result)
    elif moved:
        console.print(f"{name}@{alias} → v{target.version}")
    else:
        console.print(f"{name}@{alias} already is v{target.version}; nothing changed")


@models_app.command("retire")
def models_retire(
    name: str,
    version: int,
    reason: Reason,
    as_json: JsonFlag = False,
) -> None:
    """Retire a version: its aliases are removed and it can no longer take one."""
    with _registry(name) as registry:
        retired = registry.retire(name, version, reason=reason)
    if as_json:
        print_json({"name": retired.name, "version": retired.version, "status": retired.status})
    else:
        console.print(f"{retired.name} v{retired.version} is {retired.status}")


@models_app.command("propose")
def models_propose(
    name: str,
    version: VersionArg,
    alias: str,
    reason: Reason,
    as_json: JsonFlag = False,
) -> None:
    """Propose moving a protected ALIAS of NAME to VERSION; someone else approves it."""
    with _registry(name, alias) as registry:
        held, proposal = registry.propose(name, alias, version, reason=reason)
        target = registry.get(name, version)
    result = {"name": name, "alias": alias, "version": target.version, "proposal": proposal}
    if as_json:
        print_json({**result, "champion_version": held})
    else:
        console.print(
            f"proposal #{proposal}: {name}@{alias} → v{target.version}; it moves once someone "
            f"other than its registrant runs `mlops-nb models approve {name} {target.version} "
            f"{alias} --reason TEXT`"
        )


@models_app.command("pending")
def models_pending(
    name: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Proposals of protected aliases waiting for an approval, with the report to review."""
    with _registry(name) as registry:
        frame = registry.pending(name)
    if as_json:
        print_json({"pending": _records(frame)})
    elif frame.empty:
        console.print("no pending proposals")
    else:
        _print_frame(frame, "pending proposals")


@models_app.command("approve")
def models_approve(
    name: str,
    version: VersionArg,
    alias: str,
    reason: Reason,
    report_sha256: Annotated[
        str | None,
        typer.Option(help="The sha256 of the report you reviewed (`models pending` shows it)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Approve the pending proposal moving protected ALIAS to VERSION, and move it.

    The approver ($MLOPS_NB_USER, else the OS user) must not be who registered the version.
    """
    with _registry(name, alias) as registry:
        digest = registry.approve(name, version, alias, reason=reason, report_sha256=report_sha256)
        target = registry.get(name, alias)
    result = {"name": name, "alias": alias, "version": target.version, "report_sha256": digest}
    if as_json:
        print_json(result)
    else:
        console.print(f"approved: {name}@{alias} → v{target.version} (report sha256 {digest})")


@models_app.command("rollback")
def models_rollback(
    name: str,
    reason: Reason,
    alias: Annotated[str, typer.Option(help="The alias to roll back.")] = "production",
    as_json: JsonFlag = False,
) -> None:
    """Emergency: move ALIAS back to the version it held before, without an approval (audited)."""
    with _registry(name, alias) as registry:
        left, now = registry.rollback(name, alias, reason=reason)
    if as_json:
        print_json({"name": name, "alias": alias, "from_version": left, "version": now})
    else:
        console.print(f"rolled back: {name}@{alias} v{left} → v{now} (recorded as a rollback)")
