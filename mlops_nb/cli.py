"""The ``mlops-nb`` command: parses, calls the package, prints. Nothing more."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlops_nb.cli_models import models_app
from mlops_nb.cli_serving import predict, serve
from mlops_nb.config import load_settings
from mlops_nb.errors import MlopsNbError, ParameterError, StageFailedError
from mlops_nb.pipeline import archive

app = typer.Typer(
    help="Jupyter-first MLOps: run notebook pipelines, keep every run.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
runs_app = typer.Typer(help="Look at archived runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
app.add_typer(models_app, name="models")
app.command()(serve)
app.command()(predict)
console = Console()
errors = Console(stderr=True)

_MARKS = {
    "succeeded": "[green]✓[/]",
    "failed": "[red]✗[/]",
    "interrupted": "[yellow]![/]",
    "skipped": "[dim]-[/]",
}


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` → ``{"a": "1", "b": "x=y"}``."""
    overrides: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"-p {pair!r} is not NAME=VALUE (e.g. -p seed=3)", param=pair)
        overrides[name.strip()] = value
    return overrides


class ConsoleObserver:
    """Draws one line per stage, with a spinner while it runs."""

    def __init__(self) -> None:
        self._status: Any = None

    def run_started(self, record: dict[str, Any]) -> None:
        console.print(
            f"run [bold]{record['id']}[/] of pipeline [bold]{record['pipeline']}[/]"
            f" → {record['run_dir']}",
            soft_wrap=True,
        )

    def stage_started(self, stage: dict[str, Any], index: int, total: int) -> None:
        self._status = console.status(f"[{index + 1}/{total}] {stage['name']} …")
        self._status.start()

    def stage_finished(self, stage: dict[str, Any], index: int, total: int) -> None:
        if self._status is not None:
            self._status.stop()
        mark = _MARKS.get(stage["status"], "?")
        cached = " (cached)" if stage.get("cached") else ""
        console.print(
            f"  {mark} [{index + 1}/{total}] {stage['name']:<12} "
            f"{stage['seconds'] or 0:6.1f} s{cached}"
        )


@app.command()
def run(
    pipeline: Annotated[
        str | None, typer.Argument(help="Pipeline name (default: the first).")
    ] = None,
    param: Annotated[list[str] | None, typer.Option("-p", "--param", help="NAME=VALUE")] = None,
    until: Annotated[str | None, typer.Option(help="Stop after this stage.")] = None,
) -> None:
    """Run a pipeline: every stage's template executed by papermill into a new run folder."""
    from mlops_nb.pipeline.report import INDEX
    from mlops_nb.pipeline.runner import Runner, plan_run

    settings = load_settings()
    plan = plan_run(settings, pipeline, parse_overrides(param or []), until)
    record = Runner(settings, ConsoleObserver()).run(plan)
    index = Path(record["run_dir"]) / INDEX
    console.print(
        f"[green]succeeded[/] in {record['seconds']:.1f} s — report: {index}", soft_wrap=True
    )


@app.command()
def params(pipeline: Annotated[str | None, typer.Argument()] = None) -> None:
    """List the parameters a pipeline accepts with -p, their types and defaults."""
    from mlops_nb.pipeline.spec import load_project

    spec = load_project(load_settings().pipeline_file).pipeline(pipeline)
    table = Table(title=f"parameters of pipeline '{spec.name}'")
    for column in ("name", "type", "default", "help"):
        table.add_column(column)
    for name, param in spec.param_specs().items():
        table.add_row(name, param.type, repr(param.default), param.help)
    console.print(table)


@runs_app.command("list")
def runs_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline.")] = None,
) -> None:
    """List runs, oldest first."""
    records = archive.list_runs(load_settings().runs_dir)
    records = [r for r in records if pipeline is None or r["pipeline"] == pipeline]
    if as_json:
        print(json.dumps([_summary(r) for r in records], indent=2, default=str))
        return
    table = Table()
    for column in ("id", "pipeline", "status", "seconds", "stages"):
        table.add_column(column)
    for r in records:
        done = sum(s["status"] == "succeeded" for s in r["stages"])
        table.add_row(
            r["id"],
            r["pipeline"],
            r["status"],
            f"{r.get('seconds') or 0:.1f}",
            f"{done}/{len(r['stages'])}",
        )
    console.print(table)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="A run id, a unique prefix, or 'latest'.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one run: status, stages, metrics and where its report is."""
    folder = archive.find_run(load_settings().runs_dir, run_id)
    record = _with_paths(archive.read_run(folder), folder)
    if as_json:
        print(json.dumps(record, indent=2, default=str))
        return
    console.print(f"[bold]{record['id']}[/] {record['pipeline']} — {record['status']}")
    table = Table()
    for column in ("stage", "status", "seconds", "cached", "metrics"):
        table.add_column(column)
    for s in record["stages"]:
        metrics = ", ".join(f"{k}={_fmt(v)}" for k, v in (s.get("metrics") or {}).items())
        table.add_row(s["name"], s["status"], f"{s['seconds'] or 0:.1f}", str(s["cached"]), metrics)
    console.print(table)
    if record.get("error"):
        _print_error(record["error"]["message"])
    console.print(f"report: {record['report']}")


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _with_paths(record: dict[str, Any], folder: Path) -> dict[str, Any]:
    return {**record, "run_dir": str(folder), "report": str(folder / archive.INDEX)}


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "pipeline", "status", "started_at", "seconds", "metrics", "run_dir")
    return {k: record.get(k) for k in keys}


def _print_error(message: str) -> None:
    errors.print(Text("error: ", style="bold red") + Text(message), soft_wrap=True)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Entry point: turns every mlops-nb error into a message and an exit code."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        app(standalone_mode=False)
    except StageFailedError as exc:
        _print_error(str(exc))
        sys.exit(1)
    except MlopsNbError as exc:
        _print_error(str(exc))
        sys.exit(2)
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted[/]: the run is marked interrupted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
