"""``mlops-nb store ...``: which store and artifact location are in use; moving a project."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mlops_nb.cli.output import console, print_error, print_json
from mlops_nb.config import load_settings

__all__ = ["store_app"]

store_app = typer.Typer(
    help="The store database and artifact location: what is in use, moving a project.",
    no_args_is_help=True,
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@store_app.command("info")
def store_info(as_json: JsonFlag = False) -> None:
    """Say which store and artifact location are in use, their schema and reachability."""
    from mlops_nb.maintenance.store import store_info as read_info

    info = read_info(load_settings())
    if as_json:
        print_json(info)
    else:
        _print_info(info)
    if not (info["store"]["reachable"] and info["artifacts"]["reachable"]):
        raise typer.Exit(2)


def _print_info(info: dict[str, Any]) -> None:
    store, files = info["store"], info["artifacts"]
    reach = "[green]reachable[/]" if store["reachable"] else "[red]unreachable[/]"
    console.print(f"store      {store['url']} ({store['kind']}, {reach})", soft_wrap=True)
    for name, version in (store.get("schema") or {}).items():
        latest = (store.get("latest_schema") or {}).get(name)
        state = "not created yet" if version == 0 else f"schema {version}"
        behind = f" (this mlops-nb: {latest})" if latest not in (None, version) and version else ""
        console.print(f"  {name:<10} {state}{behind}")
    if store.get("error"):
        print_error(store["error"])
    kind = "published" if files["publishes"] else "the outputs folder itself"
    reach = "[green]reachable[/]" if files["reachable"] else "[red]unreachable[/]"
    console.print(f"artifacts  {files['url']} ({kind}, {reach})", soft_wrap=True)
    if files.get("error"):
        print_error(files["error"])


@store_app.command("migrate")
def store_migrate(
    to: Annotated[
        str, typer.Option("--to", help="The target store: postgresql://user@host:port/db")
    ],
    artifacts: Annotated[
        str | None,
        typer.Option(help="The target artifact location (a folder or s3://bucket/prefix)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Copy this project's store and outputs into another store and artifact location.

    Verifies that every row and published file is there; safe to run again.
    """
    from mlops_nb.maintenance.store import migrate_store

    say = (lambda text: None) if as_json else (lambda text: console.print(f"  {text}"))
    report = migrate_store(load_settings(), to, artifacts=artifacts, progress=say)
    if as_json:
        print_json(report.to_dict())
    else:
        console.print(f"{report.source} → {report.target} (files: {report.artifacts})")
        console.print(
            f"verified: {sum(a for a, _ in report.rows.values())} rows, "
            f"{report.files} published files, {report.runs} runs"
        )
        for problem in report.problems:
            print_error(problem)
    if not report.ok:
        raise typer.Exit(1)
