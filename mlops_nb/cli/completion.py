"""``mlops-nb completion SHELL``: a shell's script to complete mlops-nb's words.

Bash, zsh, fish and PowerShell complete commands, options and choices with it.
The script calls ``mlops-nb`` back with ``_MLOPS_NB_COMPLETE`` set, and typer's
completion machinery answers with the candidates for the words typed so far.
:func:`prepare` readies that machinery when the variable is set; it also takes
click's spelling of the request (``bash_complete``, as click's own scripts send
it) besides typer's (``complete_bash``).
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from enum import StrEnum
from typing import Annotated

import typer

__all__ = ["COMPLETE_VAR", "PROG_NAME", "Shell", "completion", "prepare", "script"]

PROG_NAME = "mlops-nb"
COMPLETE_VAR = "_MLOPS_NB_COMPLETE"
_ACTIONS = ("complete", "source")


class Shell(StrEnum):
    """The shells a completion script is written for."""

    bash = "bash"
    zsh = "zsh"
    fish = "fish"
    powershell = "powershell"


def script(shell: str) -> str:
    """The completion script for ``shell``, to be sourced by it."""
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name=PROG_NAME, complete_var=COMPLETE_VAR, shell=shell)


def prepare(environ: MutableMapping[str, str] | None = None) -> None:
    """Ready the completion machinery when the shell asks ``mlops-nb`` for candidates."""
    environ = os.environ if environ is None else environ
    request = environ.get(COMPLETE_VAR)
    if not request:
        return
    from typer._completion_classes import completion_init

    completion_init()  # typer registers its shells only for apps built with add_completion
    shell, _, action = request.partition("_")
    if shell in {s.value for s in Shell} and action in _ACTIONS:  # click's order: bash_complete
        environ[COMPLETE_VAR] = f"{action}_{shell}"


def completion(
    shell: Annotated[Shell, typer.Argument(help="bash, zsh, fish or powershell.")],
) -> None:
    """Print the shell completion script for SHELL.

    bash: eval "$(mlops-nb completion bash)" in ~/.bashrc; zsh: the same with zsh
    in ~/.zshrc (after compinit); fish: mlops-nb completion fish >
    ~/.config/fish/completions/mlops-nb.fish
    """
    print(script(shell.value))
