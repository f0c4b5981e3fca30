"""The ``mlops-nb`` command: parses, calls the package, prints. Nothing more.

Exit codes: 0 success, 1 a stage failed, 2 a bad request (a usage error, a bad
spec or parameter, a missing run), 130 interrupted. A usage error (an unknown
command or option, a missing argument) is one short message naming the closest
valid command or option, never a traceback.
"""

from __future__ import annotations

import difflib
import json
import signal
import sys
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from mlops_nb.cli_models import models_app
from mlops_nb.cli_serving import predict, serve
from mlops_nb.config import load_settings
from mlops_nb.errors import MlopsNbError, ParameterError, StageFailedError
from mlops_nb.pipeline import archive

try:  # recent typer carries its own copy of click
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older typer runs on click itself
    from click import exceptions as click_errors  # type: ignore[no-redef]


class UnknownCommandError(click_errors.UsageError):
    """A group was given a subcommand it does not have (``name`` is the typo)."""

    def __init__(self, name: str, ctx: Any) -> None:
        super().__init__(f"no such command '{name}'", ctx)
        self.name = name


class CommandGroup(TyperGroup):
    """A command group whose unknown subcommand raises :class:`UnknownCommandError`."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            raise UnknownCommandError(name, ctx)
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=CommandGroup,
    help="Jupyter-first MLOps: run notebook pipelines, keep every run.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
runs_app = typer.Typer(help="Look at archived runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs", cls=CommandGroup)
app.add_typer(models_app, name="models", cls=CommandGroup)
app.command()(serve)
app.command()(predict)
console = Console()
errors = Console(stderr=True)


def version() -> str:
    """The installed mlops-nb's version."""
    try:
        return metadata.version("mlops-nb")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        from mlops_nb import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        print(f"mlops-nb {version()}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    pass


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
        what = "development run" if record.get("dev") else f"run [bold]{record['id']}[/]"
        until = f" until {record['until']}" if record.get("until") else ""
        console.print(
            f"{what} of pipeline [bold]{record['pipeline']}[/]{until} → {record['run_dir']}",
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
    dev: Annotated[
        bool,
        typer.Option(
            "--dev",
            help="Run into the development folder outputs/dev/<stage>/, where templates run by "
            "hand read and write (no archived run).",
        ),
    ] = False,
) -> None:
    """Run a pipeline: every stage's template executed by papermill into a new run folder."""
    from mlops_nb.pipeline.report import INDEX
    from mlops_nb.pipeline.runner import Runner, plan_run

    settings = load_settings()
    previous = None
    if resume is not None and dev:
        raise ParameterError(
            "--resume repeats an archived run and --dev runs into the development folder: "
            "give one of them",
            param="dev",
        )
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
    runner = Runner(
        settings, ConsoleObserver(), cache=not no_cache, force=force or (), jobs=jobs, dev=dev
    )
    record = runner.run(plan, resume=previous)
    index = Path(record["run_dir"]) / INDEX
    cached = sum(bool(s.get("cached")) for s in record["stages"])
    reused = f", {cached} of {len(record['stages'])} stages cached" if cached else ""
    console.print(
        f"[green]{_status(record)}[/] in {record['seconds']:.1f} s{reused} — report: {index}",
        soft_wrap=True,
    )
    if dev:
        console.print(
            f"the development folder {record['run_dir']} holds "
            f"{', '.join(s['name'] for s in record['stages'])}: the next template can Run All",
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
    no_git: Annotated[
        bool,
        typer.Option("--no-git", help="Neither make a git repository nor configure nbstripout."),
    ] = False,
) -> None:
    """Create a project from the demo: pipeline.yaml, templates, contracts, CI workflow."""
    from mlops_nb.scaffold import new_project

    project = new_project(path, git=not no_git)
    console.print(f"created [bold]{project.path}[/] ({len(project.files)} files)", soft_wrap=True)
    if project.git:
        console.print(f"git: {project.git}", soft_wrap=True, highlight=False)
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
            _status(r),
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
    console.print(f"[bold]{record['id']}[/] {record['pipeline']} — {_status(record)}")
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
            f"{label}: [bold]{record['id']}[/] ({record['pipeline']}, {_status(record)})",
            soft_wrap=True,
        )
    for renderable in diff.rich_tables(include_equal=show_all):
        console.print(renderable)


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _status(record: dict[str, Any]) -> str:
    """``succeeded``, or ``succeeded (partial: until validate)`` for a partial run."""
    if archive.is_partial(record):
        return f"{record['status']} (partial: until {record.get('until')})"
    return str(record["status"])


def _with_paths(record: dict[str, Any], folder: Path) -> dict[str, Any]:
    return {
        **record,
        "partial": archive.is_partial(record),
        "run_dir": str(folder),
        "report": str(folder / archive.INDEX),
    }


def _summary(record: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "pipeline",
        "status",
        "until",
        "started_at",
        "seconds",
        "metrics",
        "decision",
        "trigger",
        "resumed_from",
        "run_dir",
    )
    return {**{k: record.get(k) for k in keys}, "partial": archive.is_partial(record)}


def _print_error(message: str) -> None:
    errors.print(Text("error: ", style="bold red") + Text(message), soft_wrap=True)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Entry point: turns every mlops-nb error into a message and an exit code."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        code = app(standalone_mode=False, prog_name="mlops-nb")
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
    except click_errors.UsageError as exc:
        _print_usage_error(exc)
        sys.exit(2)
    except click_errors.ClickException as exc:
        _print_error(exc.format_message())
        sys.exit(exc.exit_code)


def _print_usage_error(error: click_errors.UsageError) -> None:
    """One message naming what was wrong, the closest valid name, and where help is."""
    if isinstance(error, getattr(click_errors, "NoArgsIsHelpError", ())):
        if error.format_message().strip():  # typer has usually printed the help already
            console.print(error.format_message(), markup=False, highlight=False)
        return
    path = error.ctx.command_path if error.ctx is not None else "mlops-nb"
    errors.print(Text("error: ", style="bold red") + Text(usage_problem(error)), soft_wrap=True)
    errors.print(Text(f"see `{path} --help`", style="dim"), soft_wrap=True)


def usage_problem(error: click_errors.UsageError) -> str:
    """What a usage error says, with the closest command or option of its level."""
    ctx = error.ctx
    path = ctx.command_path if ctx is not None else "mlops-nb"
    command = ctx.command if ctx is not None else None
    if isinstance(error, UnknownCommandError) and command is not None:
        names = sorted(
            n for n in command.list_commands(ctx) if not command.get_command(ctx, n).hidden
        )
        return (
            f"`{path}` has no command '{error.name}'{_closest(error.name, names, quote=True)}; "
            f"its commands: {', '.join(names)}"
        )
    if isinstance(error, click_errors.NoSuchOption) and command is not None:
        names = [
            o
            for p in command.get_params(ctx)
            if p.param_type_name == "option"
            for o in (*p.opts, *p.secondary_opts)
        ]
        return f"`{path}` has no option {error.option_name}{_closest(error.option_name, names)}"
    param = getattr(error, "param", None)
    if isinstance(error, click_errors.MissingParameter) and param is not None:
        if param.param_type_name == "argument":
            return f"`{path}` needs the argument {(param.metavar or param.name or '').upper()}"
        return f"`{path}` needs the option {'/'.join(param.opts)}"
    return f"`{path}`: {error.format_message()}"


def _closest(name: str, names: list[str], *, quote: bool = False) -> str:
    """`` (did you mean --until?)`` for the most similar of ``names``, or nothing.

    Options are compared without their dashes, which every option shares.
    """
    bare = {n.lstrip("-"): n for n in names}
    close = difflib.get_close_matches(name.lstrip("-"), list(bare), n=1)
    if not close:
        return ""
    match = bare[close[0]]
    return f" (did you mean '{match}'?)" if quote else f" (did you mean {match}?)"
