"""The ``mlops-nb`` command: parses, calls the package, prints. Nothing more.

Exit codes: 0 success, 1 a stage failed, 2 a bad request (a usage error, a bad
spec or parameter, a missing run), 130 interrupted. A usage error (an unknown
command or option, a missing argument) is one short message naming the closest
valid command or option, never a traceback.

One module per command group: :mod:`~mlops_nb.cli.run` (``run``, ``params``),
:mod:`~mlops_nb.cli.runs` (``runs list|show|compare``), :mod:`~mlops_nb.cli.models`
(``models ...``), :mod:`~mlops_nb.cli.serving` (``serve``, ``predict``) and
:mod:`~mlops_nb.cli.new`, :mod:`~mlops_nb.cli.store` (``store info|migrate``),
:mod:`~mlops_nb.cli.doctor` (``doctor``), :mod:`~mlops_nb.cli.interop`
(``export mlflow``, ``import mlflow``);
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

from mlops_nb.cli import cluster, doctor, interop, models, new, run, runs, serving, store
from mlops_nb.cli.output import errors, print_error
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
