"""``mlops-nb doctor [--repair] [--json]``: is everything the project stored still whole.

Exit codes: 0 nothing to fix (after ``--repair``: everything found was
repaired), 1 problems remain, 2 the store cannot be reached (or a usage error).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from mlops_nb.cli.output import console, print_json
from mlops_nb.config import load_settings
from mlops_nb.errors import MlopsNbError

if TYPE_CHECKING:
    from mlops_nb.maintenance.doctor import Finding, Report

__all__ = ["doctor"]


def doctor(
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Fix what is safe to fix (stale runs, dangling cache entries, temporary "
            "files); never deletes a registered model's files, a run's files or audit rows.",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the store, registry, runs, cache and snapshots; say what is wrong and the fix."""
    from mlops_nb.maintenance.doctor import doctor as examine

    try:
        report = examine(load_settings(), repair=repair)
    except OSError as exc:  # each check reports what it cannot read: this is a last resort
        where = exc.filename if exc.filename is not None else "a file of the project"
        raise MlopsNbError(
            f"the doctor cannot read {where} ({type(exc).__name__}: {exc.strerror or exc}); "
            f"check its permissions and owner (ls -ld {where}), then run the doctor again",
            path=where,
        ) from exc
    if as_json:
        print_json(report.to_dict())
    else:
        _print(report)
    raise typer.Exit(report.exit_code)


def _print(report: Report) -> None:
    from mlops_nb.maintenance.doctor import CHECKS

    console.print(f"store {escape(report.store)}", soft_wrap=True)
    for check in CHECKS:
        found = [f for f in report.findings if f.check == check]
        looked = ", ".join(f"{n} {what}" for what, n in report.checked.get(check, {}).items())
        state = "[green]ok[/]" if not found else f"[red]{len(found)} problem(s)[/]"
        console.print(f"{check:<10} {state}{f' ({looked})' if looked else ''}")
        for finding in found:
            console.print(_line(finding), soft_wrap=True, highlight=False)
    for note in report.notes:
        console.print(f"[dim]note: {escape(note)}[/]", soft_wrap=True)
    repaired = sum(f.repaired for f in report.findings)
    remaining = len(report.remaining)
    if not report.findings:
        console.print("[green]no problems found[/]")
    elif report.repair:
        console.print(f"repaired {repaired}; {remaining} left that need a person")
    else:
        safe = sum(f.repairable for f in report.findings)
        console.print(
            f"{len(report.findings)} problem(s); {safe} can be repaired with "
            f"`mlops-nb doctor --repair`"
        )


def _line(finding: Finding) -> str:
    mark = "[green]repaired[/]" if finding.repaired else "[red]✗[/]"
    where, message, fix = escape(finding.where), escape(finding.message), escape(finding.fix)
    return f"  {mark} {finding.kind}: {where}: {message} [dim]— fix: {fix}[/]"
