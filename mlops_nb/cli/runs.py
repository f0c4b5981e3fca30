"""``mlops-nb runs ...``: the run archive from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from mlops_nb.cli.output import console, fmt, print_error, print_json, print_outcome, status
from mlops_nb.config import load_settings
from mlops_nb.errors import MlopsNbError
from mlops_nb.pipeline import archive, index

__all__ = ["runs_app", "with_paths"]

runs_app = typer.Typer(help="Look at archived runs.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
_SUMMARY_KEYS = (
    "id",
    "pipeline",
    "status",
    "until",
    "started_at",
    "seconds",
    "metrics",
    "notes",
    "decision",
    "trigger",
    "resumed_from",
    "run_dir",
)


@runs_app.command("list")
def runs_list(
    as_json: JsonFlag = False,
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline.")] = None,
) -> None:
    """List runs, oldest first."""
    records = index.all_runs(load_settings(), pipeline)
    if as_json:
        print_json([_summary(r) for r in records])
        return
    table = Table()
    for column in ("id", "pipeline", "status", "seconds", "stages"):
        table.add_column(column)
    for r in records:
        done = sum(s["status"] == "succeeded" for s in r["stages"])
        table.add_row(
            r["id"],
            r["pipeline"],
            status(r),
            f"{r.get('seconds') or 0:.1f}",
            f"{done}/{len(r['stages'])}",
        )
    console.print(table)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="A run id, a unique prefix, or 'latest'.")],
    as_json: JsonFlag = False,
) -> None:
    """Show one run: status, stages, metrics and where its report is."""
    settings = load_settings()
    found = index.find_record(settings, run_id)
    record = with_paths(found, _report_folder(settings, found))
    if as_json:
        print_json(record)
        return
    console.print(f"[bold]{record['id']}[/] {record['pipeline']} — {status(record)}")
    table = Table()
    for column in ("stage", "status", "seconds", "cached", "metrics"):
        table.add_column(column)
    for s in record["stages"]:
        metrics = ", ".join(f"{k}={fmt(v)}" for k, v in (s.get("metrics") or {}).items())
        table.add_row(s["name"], s["status"], f"{s['seconds'] or 0:.1f}", str(s["cached"]), metrics)
    console.print(table)
    if record.get("error"):
        print_error(record["error"]["message"])
    print_outcome(record)
    notes = record["notes"]
    if notes.get("register.promotion"):  # the gate as applied, re-judged if the champion moved
        reason = escape(str(notes.get("register.promotion_reason") or ""))
        verdict = escape(str(notes["register.promotion"]))
        console.print(f"promotion: [bold]{verdict}[/] {reason}", soft_wrap=True)
    if record["report"] is None:
        console.print(
            f"report: on {record.get('host') or 'the machine that ran it'} only; set "
            f"MLOPS_NB_ARTIFACTS on every machine to share run folders",
            soft_wrap=True,
        )
    else:
        console.print(f"report: {record['report']}")


@runs_app.command("compare")
def runs_compare(
    run_a: Annotated[str, typer.Argument(help="A run id, a unique prefix, or 'latest'.")],
    run_b: Annotated[str, typer.Argument(help="The run to compare with RUN_A (deltas are B - A).")],
    as_json: JsonFlag = False,
    show_all: Annotated[bool, typer.Option("--all", help="Show equal rows too.")] = False,
) -> None:
    """Compare two runs: params, metrics, stages, data versions, commit, packages, model."""
    from mlops_nb.pipeline.compare import compare_runs

    settings = load_settings()
    a, b = (index.find_record(settings, r) for r in (run_a, run_b))
    diff = compare_runs(a, b)
    if as_json:
        print_json(diff.to_dict(include_equal=show_all))
        return
    for label, record in (("A", a), ("B", b)):
        console.print(
            f"{label}: [bold]{record['id']}[/] ({record['pipeline']}, {status(record)})",
            soft_wrap=True,
        )
    for renderable in diff.rich_tables(include_equal=show_all):
        console.print(renderable)


def _report_folder(settings: Any, record: dict[str, Any]) -> Path | None:
    """The run's folder here, its report files fetched when it was published elsewhere."""
    local = settings.runs_dir / str(record["id"])
    try:
        return index.run_folder(settings, str(record["id"]))
    except MlopsNbError:
        return local if local.is_dir() else None


def with_paths(record: dict[str, Any], folder: Path | None) -> dict[str, Any]:
    """The record as shown: with ``notes`` (every stage's, as ``stage.key``) and its paths."""
    from mlops_nb.pipeline.compare import run_notes

    return {
        **record,
        "notes": run_notes(record),
        "partial": archive.is_partial(record),
        "run_dir": None if folder is None else str(folder),
        "report": None if folder is None else str(folder / archive.INDEX),
    }


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    from mlops_nb.pipeline.compare import run_notes

    shown = {**record, "notes": run_notes(record)}
    return {**{k: shown.get(k) for k in _SUMMARY_KEYS}, "partial": archive.is_partial(record)}


@runs_app.command("gc")
def runs_gc(
    older_than: Annotated[
        str, typer.Option("--older-than", help="Remove runs started longer ago: 12h, 30d, 2w.")
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would go and why the rest stays.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Remove old runs and the snapshots no kept run uses, keeping all evidence.

    Never removed: a run an active model version, an alias-history row or an approval refers
    to, a run not finished, and every tracking and registry row.
    """
    from mlops_nb.maintenance.retention import collect, parse_age, plan_gc

    settings = load_settings()
    plan = plan_gc(settings, parse_age(older_than))
    if not dry_run:
        plan = collect(settings, plan)
    if as_json:
        print_json(plan.to_dict())
        return
    table = Table(title="runs" + (" (dry run: nothing removed)" if dry_run else ""))
    for column in ("id", "pipeline", "status", "action", "why kept", "MB"):
        table.add_column(column)
    for entry in plan.runs:
        table.add_row(
            entry["id"],
            str(entry["pipeline"]),
            str(entry["status"]),
            entry["action"] if plan.done or entry["action"] == "keep" else "would remove",
            escape("; ".join(entry["reasons"])),
            f"{entry['bytes'] / 1e6:.1f}",
        )
    console.print(table)
    gone = [s for s in plan.snapshots if s["action"] == "remove"]
    verb = "removed" if plan.done else "would remove"
    console.print(
        f"{verb} {sum(r['action'] == 'remove' for r in plan.runs)} run(s) and {len(gone)} "
        f"snapshot(s), {plan.freed / 1e6:.1f} MB; kept "
        f"{sum(r['action'] == 'keep' for r in plan.runs)} run(s)"
    )
