"""``mlops-nb lineage NAME@ALIAS``: where a model came from and where it went."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from mlops_nb.cli.output import console, print_json
from mlops_nb.config import load_settings

__all__ = ["lineage"]


def lineage(
    ref: Annotated[str, typer.Argument(help="NAME@ALIAS, NAME:VERSION or NAME@latest.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Where a model version came from and where it went.

    Data source → snapshot → run → stages → version → alias moves → deployments and monitor runs.
    """
    from mlops_nb.pipeline.lineage import lineage as build

    chain = build(load_settings(), ref).to_dict()
    if as_json:
        print_json(chain)
        return
    _print(chain)


def _print(chain: dict[str, Any]) -> None:
    model, data, run = chain["model"], chain["data"], chain["run"]
    snapshot = data["snapshot"] or {}
    kept = "" if snapshot.get("present", True) else " (snapshot removed)"
    console.print(f"[bold]{escape(chain['ref'])}[/] → {escape(model['ref'])} ({model['status']})")
    console.print(f"  data source   {escape(str(data['source'] or 'not recorded'))}")
    console.print(f"  snapshot      {escape(str(data['data_version'] or 'not recorded'))}{kept}")
    if run is None:
        console.print("  run           not recorded")
    elif run.get("missing"):
        console.print(f"  run           {escape(run['id'])} (its record is gone)")
    else:
        console.print(
            f"  run           {escape(str(run['id']))} ({run['pipeline']}, {run['status']}, "
            f"{escape(str(run['run_dir']))})"
        )
    for stage in chain["stages"]:
        how = "cached" if stage["cached"] else "executed"
        console.print(f"    stage       {stage['name']}: {stage['status']} ({how})")
    console.print(
        f"  version       {escape(model['ref'])} registered {model['registered_at']} by "
        f"{escape(str(model['registered_by'] or 'unknown'))}; aliases: "
        f"{', '.join(model['aliases']) or 'none'}"
    )
    for move in chain["audit"]:
        console.print(
            f"    {move['event']:<13} {move['alias']} {_v(move['from_version'])} → "
            f"{_v(move['to_version'])} by {escape(str(move['actor']))} at {move['at']}: "
            f"{escape(str(move['reason']))}"
        )
    for kind, entries in (("deployed", chain["deployments"]), ("monitored", chain["monitoring"])):
        if not entries:
            console.print(f"  {kind:<13} no run yet")
        for entry in entries:
            extra = f", decision {entry['decision']}" if entry.get("decision") else ""
            console.print(
                f"  {kind:<13} run {escape(str(entry['run']))} ({entry['status']}{extra})"
            )


def _v(version: int | None) -> str:
    return "none" if version is None else f"v{version}"
