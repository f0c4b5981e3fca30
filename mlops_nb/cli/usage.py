"""Usage errors: one short message naming the closest valid command or option, exit 2.

A group built with :class:`CommandGroup` raises :class:`UnknownCommandError` for
a subcommand it does not have; :func:`print_usage_error` turns any click usage
error into ``error: ...`` and ``see `mlops-nb ... --help```, never a traceback.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from typer.core import TyperGroup

from mlops_nb.cli.output import console, errors
from mlops_nb.errors import closest

try:  # recent typer carries its own copy of click
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older typer runs on click itself
    from click import exceptions as click_errors  # type: ignore[no-redef]

__all__ = [
    "CommandGroup",
    "UnknownCommandError",
    "click_errors",
    "print_usage_error",
    "usage_problem",
]


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


def print_usage_error(error: click_errors.UsageError) -> None:
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
    if ctx is None:
        return f"`mlops-nb`: {error.format_message()}"
    path = ctx.command_path
    command: Any = ctx.command  # a group for an unknown command
    if isinstance(error, UnknownCommandError):
        names = sorted(
            n for n in command.list_commands(ctx) if not command.get_command(ctx, n).hidden
        )
        return (
            f"`{path}` has no command '{error.name}'{_closest(error.name, names, quote=True)}; "
            f"its commands: {', '.join(names)}"
        )
    if isinstance(error, click_errors.NoSuchOption):
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
    close = closest(name.lstrip("-"), bare)
    if not close:
        return ""
    match = bare[close[0]]
    return f" (did you mean '{match}'?)" if quote else f" (did you mean {match}?)"
