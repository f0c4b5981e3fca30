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
    """Draws one line per finished stage, and a spinner naming the stages running."""

    def __init__(self) -> None:
        self._status: Any = None
        self._running: dict[str, str] = {}

    def run_started(self, record: dict[str, Any]) -> None:
        console.print(
            f"run [bold]{record['id']}[/] of pipeline [bold]{record['pipeline']}[/]"
            f" → {record['run_dir']}",
            soft_wrap=True,
        )

    def stage_started(self, stage: dict[str, Any], index: int, total: int) -> None:
        self._running[stage["name"]] = f"[{index + 1}/{total}] {stage['name']}"
        self._spin()

    def stage_finished(self, stage: dict[str, Any], index: int, total: int) -> None:
        self._running.pop(stage["name"], None)
        if self._status is not None:
            self._status.stop()
            self._status = None
        mark = _MARKS.get(stage["status"], "?")
        cached = f" (cached from {stage['cached_from']})" if stage.get("cached") else ""
        console.print(
            f"  {mark} [{index + 1}/{total}] {stage['name']:<12} "
            f"{stage['seconds'] or 0:6.1f} s{cached}"
        )
        self._spin()

    def _spin(self) -> None:
        if not self._running:
            return
        text = ", ".join(self._running.values()) + " …"
        if self._status is None:
            self._status = console.status(text)
            self._status.start()
        else:
            self._status.update(text)


@app.command()
def run(
    pipeline: Annotated[
        str | None, typer.Argument(help="Pipeline name (default: the first).")
    ] = None,
    param: Annotated[list[str] | None, typer.Option("-p", "--param", help="NAME=VALUE")] = None,
    until: Annotated[str | None, typer.Option(help="Stop after this stage.")] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Execute every stage, reusing nothing.")
    ] = False,
    force: Annotated[
        list[str] | None, typer.Option("--force", help="Execute this stage even if cached.")
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(help="Re-run a failed or interrupted run: its finished stages are reused."),
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Stages run at once.")] = 1,
) -> None:
    """Run a pipeline: every stage's template executed by papermill into a new run folder."""
    from mlops_nb.pipeline.report import INDEX
    from mlops_nb.pipeline.runner import Runner, plan_run

    settings = load_settings()
    previous = None
    if resume is not None:
        if pipeline or param or until:
            raise ParameterError(
                "--resume repeats the earlier run exactly: give no pipeline, -p or --until with it",
                param="resume",
            )
        previous = archive.read_run(archive.find_run(settings.runs_dir, resume))
        if previous["status"] == "succeeded":
            raise ParameterError(
                f"run {previous['id']} succeeded: there is nothing to resume "
                f"(mlops-nb run {previous['pipeline']} starts a new run)",
                param="resume",
            )
        plan = plan_run(
            settings,
            previous["pipeline"],
            previous.get("overrides") or {},
            previous.get("until"),
            previous.get("trigger"),
        )
    else:
        plan = plan_run(settings, pipeline, parse_overrides(param or []), until)
    runner = Runner(settings, ConsoleObserver(), cache=not no_cache, force=force or (), jobs=jobs)
    record = runner.run(plan, resume=previous)
    index = Path(record["run_dir"]) / INDEX
    cached = sum(bool(s.get("cached")) for s in record["stages"])
    reused = f", {cached} of {len(record['stages'])} stages cached" if cached else ""
    console.print(
        f"[green]succeeded[/] in {record['seconds']:.1f} s{reused} — report: {index}",
        soft_wrap=True,
    )
    _print_outcome(record)


_DECISION_STYLE = {"ok": "green", "drift": "yellow", "degraded": "red"}


def _print_outcome(record: dict[str, Any]) -> None:
    """Print what a run decided (the monitor's decision and any retraining)."""
    decision = record.get("decision")
    if decision is not None:
        style = _DECISION_STYLE.get(str(decision), "bold")
        reason = record.get("decision_reason") or ""
        console.print(f"decision: [{style}]{decision}[/] {reason}", soft_wrap=True)
    retraining = record.get("retraining")
    if retraining:
        console.print(f"retraining: {retraining.get('summary', retraining)}", soft_wrap=True)


@app.command()
def new(
    path: Annotated[Path, typer.Argument(help="The new project's folder (new or empty).")],
) -> None:
    """Create a project from the demo: pipeline.yaml, templates, contracts, CI workflow."""
    from mlops_nb.scaffold import new_project

    project = new_project(path)
    console.print(f"created [bold]{project.path}[/] ({len(project.files)} files)", soft_wrap=True)
    console.print(f"next: cd {project.path} && mlops-nb run train", soft_wrap=True)


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
    _print_outcome(record)
    console.print(f"report: {record['report']}")


@runs_app.command("compare")
def runs_compare(
    run_a: Annotated[str, typer.Argument(help="A run id, a unique prefix, or 'latest'.")],
    run_b: Annotated[str, typer.Argument(help="The run to compare with RUN_A (deltas are B - A).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    show_all: Annotated[bool, typer.Option("--all", help="Show equal rows too.")] = False,
) -> None:
    """Compare two runs: params, metrics, stages, data versions, commit, packages, model."""
    from mlops_nb.pipeline.compare import compare_runs

    runs_dir = load_settings().runs_dir
    a, b = (archive.read_run(archive.find_run(runs_dir, r)) for r in (run_a, run_b))
    diff = compare_runs(a, b)
    if as_json:
        print(json.dumps(diff.to_dict(include_equal=show_all), indent=2, default=str))
        return
    for label, record in (("A", a), ("B", b)):
        console.print(
            f"{label}: [bold]{record['id']}[/] ({record['pipeline']}, {record['status']})",
            soft_wrap=True,
        )
    for renderable in diff.rich_tables(include_equal=show_all):
        console.print(renderable)


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _with_paths(record: dict[str, Any], folder: Path) -> dict[str, Any]:
    return {**record, "run_dir": str(folder), "report": str(folder / archive.INDEX)}


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "pipeline",
        "status",
        "started_at",
        "seconds",
        "metrics",
        "decision",
        "trigger",
        "resumed_from",
        "run_dir",
    )
    return {k: record.get(k) for k in keys}


def _print_error(message: str) -> None:
    errors.print(Text("error: ", style="bold red") + Text(message), soft_wrap=True)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Entry point: turns every mlops-nb error into a message and an exit code."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        code = app(standalone_mode=False)
        if code == 130:  # typer turns KeyboardInterrupt into an exit code in this mode
            raise KeyboardInterrupt
        if isinstance(code, int) and code:
            sys.exit(code)
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
