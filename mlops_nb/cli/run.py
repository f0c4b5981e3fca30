"""``mlops-nb run`` and ``mlops-nb params``: a pipeline executed, and what it accepts.

Parameters come from ``-f FILE`` (a YAML mapping, its values typed as YAML types
them) and ``-p NAME=VALUE`` (text, typed by the parameter's declared type); a
``-p`` wins over the file. ``--fail-on DECISIONS`` makes a run whose decision
(the monitor's ``ok``, ``drift`` or ``degraded``) is one of them exit with
:data:`DECISION_EXIT`, after the run has succeeded and been archived.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml
from rich.table import Table

from mlops_nb.cli.output import (
    console,
    errors,
    is_quiet,
    print_json,
    print_outcome,
    say,
    status,
)
from mlops_nb.cli.runs import with_paths
from mlops_nb.config import load_settings
from mlops_nb.errors import ParameterError
from mlops_nb.yamlio import load_yaml

if TYPE_CHECKING:
    from mlops_nb.config import Settings
    from mlops_nb.pipeline.spec import RunPlan

__all__ = [
    "DECISION_EXIT",
    "ConsoleObserver",
    "decision_exit",
    "load_params_file",
    "params",
    "parse_fail_on",
    "parse_overrides",
    "run",
]

DECISION_EXIT = 3
"""The exit code of a run that succeeded with a decision ``--fail-on`` names."""
MAX_PARAMS_FILE_BYTES = 1024 * 1024
"""The largest ``-f`` parameters file read (1 MiB, as pipeline.yaml)."""

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


def load_params_file(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """A ``-f`` file's parameters, and where each is (``"params.yaml line 3"``).

    The file is a YAML mapping of parameter names to values, which keep their
    YAML types (``seed: 3`` is an int, ``columns: [a, b]`` a list); an empty
    file sets nothing.

    Raises:
        ParameterError: The file is missing or unreadable, not YAML, or not a
            mapping of names; the message names the file, and the line when
            there is one.
    """
    text = _read_params_file(path)
    try:
        data = load_yaml(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ParameterError(
            f"-f {path}: not YAML{at} ({problem}); write one NAME: VALUE per line, e.g. seed: 3",
            path=str(path),
        ) from exc
    if data is None:
        return {}, {}
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise ParameterError(
            f"-f {path}: holds a {type(data).__name__}, not a mapping of parameters; "
            f"write one NAME: VALUE per line, e.g. seed: 3",
            path=str(path),
        )
    lines = {str(key.value): key.start_mark.line + 1 for key, _ in node.value}
    for name in data:
        if not isinstance(name, str) or not name.strip():
            line = lines.get(str(name), "?")
            raise ParameterError(
                f"-f {path} line {line}: {name!r} is not a parameter name; "
                f"names are text, e.g. seed: 3",
                path=str(path),
            )
    origins = {name: f"{path} line {lines.get(name, '?')}" for name in data}
    return dict(data), origins


def _read_params_file(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_PARAMS_FILE_BYTES:
            raise ParameterError(
                f"-f {path}: {size:,} bytes is more than a parameters file may hold "
                f"({MAX_PARAMS_FILE_BYTES:,}); give the large values as files or data sources",
                path=str(path),
            )
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ParameterError(
            f"-f {path}: no such file; give the path of a YAML file of parameters",
            path=str(path),
        ) from exc
    except UnicodeDecodeError as exc:
        raise ParameterError(
            f"-f {path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 YAML",
            path=str(path),
        ) from exc
    except OSError as exc:
        raise ParameterError(
            f"-f {path}: cannot be read ({exc.strerror or exc}); check that it is a file "
            f"you may read",
            path=str(path),
        ) from exc


def parse_fail_on(text: str | None) -> frozenset[str]:
    """``"drift,degraded"`` → the decisions to fail on; an unknown name is a usage error."""
    if text is None:
        return frozenset()
    from mlops_nb.monitoring.loop import DECISIONS

    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in DECISIONS]
    if unknown or not names:
        what = f"unknown decision {', '.join(map(repr, unknown))}" if unknown else "no decision"
        raise typer.BadParameter(
            f"{what}; the decisions are {', '.join(DECISIONS)} (e.g. --fail-on drift,degraded)",
            param_hint="'--fail-on'",
        )
    return frozenset(names)


def decision_exit(record: dict[str, Any], fail_on: frozenset[str]) -> int:
    """:data:`DECISION_EXIT` when the run's decision is one of ``fail_on``, else 0."""
    decision = record.get("decision")
    return DECISION_EXIT if decision is not None and str(decision) in fail_on else 0


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
    param: Annotated[
        list[str] | None,
        typer.Option("-p", "--param", help="NAME=VALUE (wins over -f); repeat for more."),
    ] = None,
    params_file: Annotated[
        Path | None,
        typer.Option(
            "-f",
            "--params-file",
            help="A YAML file of NAME: VALUE parameters (typed as YAML types them).",
        ),
    ] = None,
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
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            metavar="DECISIONS",
            help=f"Exit {DECISION_EXIT} when the run's decision is one of these, e.g. "
            "drift,degraded (the run still succeeds and is archived).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the run's record as JSON, nothing else.")
    ] = False,
) -> None:
    """Run a pipeline: every stage's template executed by papermill into a new run folder."""
    from mlops_nb.pipeline.executors import choose_executor
    from mlops_nb.pipeline.runner import Runner

    failing = parse_fail_on(fail_on)
    settings = load_settings()
    if resume is not None and dev:
        raise ParameterError(
            "--resume repeats an archived run and --dev runs into the development folder: "
            "give one of them",
            param="dev",
        )
    plan, previous = _plan(settings, pipeline, param or [], params_file, until, resume)
    chosen = choose_executor(settings, executor, scheduler, jobs=jobs)
    runner = Runner(
        settings,
        None if as_json or is_quiet() else ConsoleObserver(),
        cache=not no_cache,
        force=force or (),
        jobs=jobs,
        dev=dev,
        executor=chosen,
    )
    record = runner.run(plan, resume=previous)
    if as_json:
        print_json(with_paths(record, Path(record["run_dir"])))
    else:
        _print_run(record, dev)
    code = decision_exit(record, failing)
    if code:
        errors.print(
            f"--fail-on: run {record['id']} decided [bold]{record['decision']}[/] "
            f"(exit {code}; the run itself succeeded and is archived)",
            soft_wrap=True,
        )
        raise typer.Exit(code)
    if failing and record.get("decision") is None and not is_quiet():
        errors.print(
            f"note: pipeline {record['pipeline']} made no decision; --fail-on had nothing to check",
            soft_wrap=True,
        )


def _print_run(record: dict[str, Any], dev: bool) -> None:
    from mlops_nb.pipeline.report import INDEX

    index = Path(record["run_dir"]) / INDEX
    cached = sum(bool(s.get("cached")) for s in record["stages"])
    reused = f", {cached} of {len(record['stages'])} stages cached" if cached else ""
    console.print(
        f"[green]{status(record)}[/] in {record['seconds']:.1f} s{reused} — report: {index}",
        soft_wrap=True,
    )
    if dev:
        say(
            f"the development folder {record['run_dir']} holds "
            f"{', '.join(s['name'] for s in record['stages'])}: the next template can Run All",
            soft_wrap=True,
        )
    print_outcome(record)


def _plan(
    settings: Settings,
    pipeline: str | None,
    param: list[str],
    params_file: Path | None,
    until: str | None,
    resume: str | None,
) -> tuple[RunPlan, dict[str, Any] | None]:
    """The run plan, and the earlier run's record when ``resume`` names one."""
    from mlops_nb.pipeline.runner import plan_run

    if resume is None:
        overrides, origins = load_params_file(params_file) if params_file else ({}, {})
        given = parse_overrides(param)
        for name in given:  # a -p wins over the file
            origins.pop(name, None)
        overrides.update(given)
        return plan_run(settings, pipeline, overrides, until, origins=origins), None
    if pipeline or param or params_file or until:
        raise ParameterError(
            "--resume repeats the earlier run exactly: give no pipeline, -p, -f or --until with it",
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


def params(
    pipeline: Annotated[str | None, typer.Argument()] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the parameters a pipeline accepts with -p and -f, their types and defaults."""
    from mlops_nb.pipeline.spec import load_project

    spec = load_project(load_settings().pipeline_file).pipeline(pipeline)
    if as_json:
        print_json(
            {
                "pipeline": spec.name,
                "parameters": {
                    name: {
                        "type": p.type,
                        "default": p.default,
                        "choices": None if p.choices is None else list(p.choices),
                        "min": p.minimum,
                        "max": p.maximum,
                        "help": p.help,
                    }
                    for name, p in spec.param_specs().items()
                },
            }
        )
        return
    table = Table(title=f"parameters of pipeline '{spec.name}'")
    for column in ("name", "type", "default", "help"):
        table.add_column(column)
    for name, param in spec.param_specs().items():
        table.add_row(name, param.type, repr(param.default), param.help)
    console.print(table)
