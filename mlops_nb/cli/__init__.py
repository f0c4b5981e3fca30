"""The ``mlops-nb`` command: parses, calls the package, prints. Nothing more.

Exit codes, the same for every command:

* 0: success.
* 1: a stage failed (``run``); problems remain (``doctor``); a migration did not
  verify (``store migrate``).
* 2: a bad request: a usage error, a bad pipeline.yaml, parameter (``-p``, ``-f``)
  or model reference, a missing run; an unreachable store (``store info``,
  ``doctor``).
* 3: the run succeeded, and decided what ``run --fail-on`` fails on
  (:data:`~mlops_nb.cli.run.DECISION_EXIT`).
* 130: interrupted (Ctrl-C, SIGTERM); a run is marked interrupted.

A usage error (an unknown command or option, a missing argument) is one short
message naming the closest valid command or option, never a traceback. Every
error is one ``error: ...`` line on stderr; stdout holds only results.

Global options, given before the command: ``--version``; ``-q``/``--quiet``
(only errors and each command's essential result: no stage lines, spinner,
progress bar or hints); ``-v``/``--verbose``, repeatable (``-v`` logs the
``mlops_nb`` loggers at INFO, ``-vv`` at DEBUG, on stderr). Every command that
reports takes ``--json``: its result as one JSON document on stdout, nothing else
(see :func:`~mlops_nb.cli.output.print_json`). ``mlops-nb completion SHELL``
prints the shell completion script (:mod:`~mlops_nb.cli.completion`).

One module per command group: :mod:`~mlops_nb.cli.run` (``run``, ``params``),
:mod:`~mlops_nb.cli.runs` (``runs list|show|compare``), :mod:`~mlops_nb.cli.models`
(``models ...``), :mod:`~mlops_nb.cli.serving` (``serve``, ``predict``) and
:mod:`~mlops_nb.cli.new`, :mod:`~mlops_nb.cli.store` (``store info|migrate``),
:mod:`~mlops_nb.cli.doctor` (``doctor``), :mod:`~mlops_nb.cli.completion`
(``completion``), :mod:`~mlops_nb.cli.interop` (``export mlflow``, ``import mlflow``);
:mod:`~mlops_nb.cli.usage` turns usage errors into one line and
:mod:`~mlops_nb.cli.output` holds the consoles. Each command imports the
heavy parts of the package when it runs, so every command starts fast.
"""

from __future__ import annotations

import signal
import sys
from importlib import metadata
from typing import Annotated, Any

import typer

from mlops_nb.cli import (
    cluster,
    completion,
    doctor,
    interop,
    lineage,
    models,
    new,
    run,
    runs,
    serving,
    store,
)
from mlops_nb.cli.output import configure, errors, print_error
from mlops_nb.cli.usage import CommandGroup, click_errors, print_usage_error
from mlops_nb.errors import MlopsNbError, StageFailedError

__all__ = ["app", "main", "version"]

app = typer.Typer(
    cls=CommandGroup,
    help="Jupyter-first MLOps: run notebook pipelines, keep every run.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(runs.runs_app, name="runs", cls=CommandGroup)
app.add_typer(models.models_app, name="models", cls=CommandGroup)
app.add_typer(store.store_app, name="store", cls=CommandGroup)
app.add_typer(cluster.cluster_app, name="cluster", cls=CommandGroup)
app.add_typer(interop.export_app, name="export", cls=CommandGroup)
app.add_typer(interop.import_app, name="import", cls=CommandGroup)
app.command()(serving.serve)
app.command()(serving.predict)
app.command()(run.run)
app.command()(new.new)
app.command()(run.params)
app.command()(doctor.doctor)
app.command()(lineage.lineage)
app.command()(completion.completion)


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
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="Print only errors and the result: no progress, no hints."
        ),
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose",
            "-v",
            count=True,
            help="Log what mlops-nb does on stderr: -v at INFO, -vv at DEBUG.",
        ),
    ] = 0,
) -> None:
    configure(quiet=quiet, verbose=verbose)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Entry point: turns every mlops-nb error into a message and an exit code."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    completion.prepare()
    try:
        code = app(standalone_mode=False, prog_name=completion.PROG_NAME)
        if code == 130:  # typer turns KeyboardInterrupt into an exit code in this mode
            raise KeyboardInterrupt
        if isinstance(code, int) and code:
            sys.exit(code)
    except StageFailedError as exc:
        print_error(str(exc))
        sys.exit(1)
    except MlopsNbError as exc:
        print_error(str(exc))
        sys.exit(2)
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted[/]: the run is marked interrupted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except click_errors.UsageError as exc:
        print_usage_error(exc)
        sys.exit(2)
    except click_errors.ClickException as exc:
        print_error(exc.format_message())
        sys.exit(exc.exit_code)
