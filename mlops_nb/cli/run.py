"""``mlops-nb run`` and ``mlops-nb params``: a pipeline executed, and what it accepts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from mlops_nb.cli.output import console, print_outcome, status
from mlops_nb.config import load_settings
from mlops_nb.errors import ParameterError

if TYPE_CHECKING:
    from mlops_nb.config import Settings
    from mlops_nb.pipeline.spec import RunPlan

__all__ = ["ConsoleObserver", "params", "parse_overrides", "run"]

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
    executor: Annotated[
        str | None,
        typer.Option(
            help="local (this machine, --jobs N) or dask (a task per stage on a cluster)."
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="The Dask scheduler, e.g. tcp://127.0.0.1:8786 (with --executor dask)."),
    ] = None,
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
    from mlops_nb.pipeline.executors import choose_executor
    from mlops_nb.pipeline.report import INDEX
    from mlops_nb.pipeline.runner import Runner

    settings = load_settings()
    if resume is not None and dev:
        raise ParameterError(
            "--resume repeats an archived run and --dev runs into the development folder: "
            "give one of them",
            param="dev",
        )
    plan, previous = _plan(settings, pipeline, param or [], until, resume)
    chosen = choose_executor(settings, executor, scheduler, jobs=jobs)
    runner = Runner(
        settings,
        ConsoleObserver(),
        cache=not no_cache,
        force=force or (),
        jobs=jobs,
        dev=dev,
        executor=chosen,
    )
    record = runner.run(plan, resume=previous)
    index = Path(record["run_dir"]) / INDEX
    cached = sum(bool(s.get("cached")) for s in record["stages"])
    reused = f", {cached} of {len(record['stages'])} stages cached" if cached else ""
    console.print(
        f"[green]{status(record)}[/] in {record['seconds']:.1f} s{reused} — report: {index}",
        soft_wrap=True,
    )
    if dev:
        console.print(
            f"the development folder {record['run_dir']} holds "
            f"{', '.join(s['name'] for s in record['stages'])}: the next template can Run All",
            soft_wrap=True,
        )
    print_outcome(record)


def _plan(
    settings: Settings,
    pipeline: str | None,
    param: list[str],
    until: str | None,
    resume: str | None,
) -> tuple[RunPlan, dict[str, Any] | None]:
    """The run plan, and the earlier run's record when ``resume`` names one."""
    from mlops_nb.pipeline.runner import plan_run

    if resume is None:
        return plan_run(settings, pipeline, parse_overrides(param), until), None
    if pipeline or param or until:
        raise ParameterError(
            "--resume repeats the earlier run exactly: give no pipeline, -p or --until with it",
            param="resume",
        )
    from mlops_nb.pipeline.index import find_record, run_folder

    previous = find_record(settings, resume)
    if previous["status"] != "succeeded":  # its finished stages, fetched here if need be
        folder = run_folder(settings, str(previous["id"]), report_only=False)
        previous = {**previous, "run_dir": str(folder)}
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
    return plan, previous


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
