"""Usage errors of every command and subcommand: one short message, the closest name, exit 2.

The command tree is walked from the real typer app, so a command added later is
checked without touching this file.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from importlib import metadata
from typing import Any

import pytest
import typer

from mlops_nb.cli import app, main
from tests.test_cli import cli

ROOT = typer.main.get_command(app)


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from walk(sub, (*path, name))


COMMANDS = dict(walk(ROOT))
GROUPS = {path: command for path, command in COMMANDS.items() if hasattr(command, "commands")}
LEAVES = {path: command for path, command in COMMANDS.items() if path not in GROUPS}


def ids(path: tuple[str, ...]) -> str:
    return " ".join(("mlops-nb", *path))


def long_options(command: Any) -> list[str]:
    return [
        opt
        for param in command.params
        if param.param_type_name == "option"
        for opt in (*param.opts, *param.secondary_opts)
        if opt.startswith("--")
    ]


def required_arguments(command: Any) -> list[str]:
    return [
        (p.metavar or p.name).upper()
        for p in command.params
        if p.param_type_name == "argument" and p.required
    ]


@pytest.fixture
def mlops(monkeypatch, capsys):
    """Run ``main()`` in this process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # main() installs a SIGTERM handler

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["mlops-nb", *args])
        try:
            main()
            code = 0
        except SystemExit as exited:
            code = exited.code if isinstance(exited.code, int) else 1
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_the_walk_sees_every_command():
    commands = {
        ("run",),
        ("runs", "list"),
        ("models", "promote"),
        ("serve",),
        ("store", "info"),
        ("export", "mlflow"),
        ("import", "mlflow"),
        ("completion",),
    }
    assert commands <= set(COMMANDS)
    groups = {(), ("runs",), ("models",), ("store",), ("cluster",), ("export",), ("import",)}
    assert groups == set(GROUPS)


@pytest.mark.parametrize("path", list(COMMANDS), ids=ids)
def test_an_unknown_option_is_one_short_message(mlops, path):
    code, _, err = mlops(*path, "--no-such-option")
    assert code == 2, err
    assert f"`{ids(path)}` has no option --no-such-option" in err
    assert f"see `{ids(path)} --help`" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 2, err


@pytest.mark.parametrize("path", list(COMMANDS), ids=ids)
def test_a_mistyped_option_names_the_real_one(mlops, path):
    options = [o for o in long_options(COMMANDS[path]) if o != "--help"] or ["--help"]
    for option in options:
        code, _, err = mlops(*path, option + option[-1])
        assert code == 2, err
        assert f"(did you mean {option}?)" in err, err
        assert "Traceback" not in err


@pytest.mark.parametrize("path", list(GROUPS), ids=ids)
def test_a_mistyped_subcommand_names_the_real_one(mlops, path):
    for name in GROUPS[path].commands:
        typo = name + name[-1]
        code, _, err = mlops(*path, typo)
        assert code == 2, err
        assert f"`{ids(path)}` has no command '{typo}' (did you mean '{name}'?)" in err
        assert f"see `{ids(path)} --help`" in err
        assert "Traceback" not in err


@pytest.mark.parametrize("path", list(GROUPS), ids=ids)
def test_an_unknown_subcommand_lists_the_real_ones(mlops, path):
    code, _, err = mlops(*path, "zzzzzz")
    assert code == 2
    assert f"has no command 'zzzzzz'; its commands: {', '.join(sorted(GROUPS[path].commands))}" in (
        err
    )
    assert "did you mean" not in err


@pytest.mark.parametrize("path", [p for p in LEAVES if required_arguments(LEAVES[p])], ids=ids)
def test_a_missing_argument_is_named(mlops, path):
    code, _, err = mlops(*path)
    assert code == 2, err
    first = required_arguments(LEAVES[path])[0]
    assert f"`{ids(path)}` needs the argument {first}" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 2, err


def test_a_missing_required_option_is_named(mlops):
    code, _, err = mlops("models", "retire", "churn", "1")
    assert code == 2
    assert "`mlops-nb models retire` needs the option --reason" in err


def test_a_bad_value_says_which_option(mlops):
    code, _, err = mlops("run", "--jobs", "many")
    assert code == 2
    assert "`mlops-nb run`: Invalid value for '--jobs'" in err and "Traceback" not in err


def test_version_is_printed_with_exit_zero(mlops):
    code, out, _ = mlops("--version")
    assert code == 0
    assert out.strip() == f"mlops-nb {metadata.version('mlops-nb')}"


def test_as_a_real_process_usage_errors_exit_2_without_a_traceback(isolated):
    done = cli("frobnicate", cwd=isolated)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "`mlops-nb` has no command 'frobnicate'" in done.stderr
    done = cli("run", "--untill", "validate", cwd=isolated)
    assert done.returncode == 2 and "(did you mean --until?)" in done.stderr
    done = cli("--version", cwd=isolated)
    assert done.returncode == 0 and done.stdout.startswith("mlops-nb ")
