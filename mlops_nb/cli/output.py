"""What every command prints with: the consoles, error lines, JSON, run statuses and outcomes.

Two global options shape it (set once per command by the app's callback, see
:func:`configure`): ``--quiet`` keeps only errors and each command's essential
result (:func:`say` prints the rest, and stays silent then), ``-v``/``-vv`` turns
the ``mlops_nb`` loggers on at INFO/DEBUG, written to stderr. A command's
``--json`` prints :func:`print_json`'s document alone on stdout.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from typing import Any

from rich.console import Console
from rich.text import Text

from mlops_nb.pipeline import archive

__all__ = [
    "configure",
    "console",
    "errors",
    "fmt",
    "is_quiet",
    "print_error",
    "print_json",
    "print_outcome",
    "say",
    "status",
]

console = Console()
errors = Console(stderr=True)
_DECISION_STYLE = {"ok": "green", "drift": "yellow", "degraded": "red"}
_LEVELS = {1: logging.INFO}


class _Mode:
    """The global options of the command running (one command per process, or per test)."""

    quiet = False
    log_handler: logging.Handler | None = None


_mode = _Mode()


def configure(*, quiet: bool = False, verbose: int = 0) -> None:
    """Apply ``--quiet`` and ``-v`` (repeated: ``-vv``) for the command about to run.

    ``verbose`` 1 logs ``mlops_nb`` at INFO, 2 or more at DEBUG, on stderr; 0
    leaves logging as the command found it (warnings and errors only).
    """
    _mode.quiet = quiet
    logger = logging.getLogger("mlops_nb")
    if verbose <= 0:
        if _mode.log_handler is not None:  # an earlier command in this process asked for -v
            logger.removeHandler(_mode.log_handler)
            logger.setLevel(logging.NOTSET)
            _mode.log_handler = None
        return
    if _mode.log_handler is None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        _mode.log_handler = handler
    logger.setLevel(_LEVELS.get(verbose, logging.DEBUG))


def is_quiet() -> bool:
    """True under ``--quiet``: print only errors and the essential result."""
    return _mode.quiet


def say(*objects: Any, **options: Any) -> None:
    """Print what is not the command's result (progress, hints), unless ``--quiet``."""
    if not _mode.quiet:
        console.print(*objects, **options)


def print_error(message: str) -> None:
    """``error: MESSAGE`` on stderr."""
    errors.print(Text("error: ", style="bold red") + Text(message), soft_wrap=True)


def print_json(data: Any) -> None:
    """``data`` as one JSON document on stdout: sorted keys, dates and paths as text.

    A float that JSON cannot hold (NaN, infinity) is written as ``null``.
    """
    text = json.dumps(_finite(data), indent=2, sort_keys=True, default=str, allow_nan=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key if isinstance(key, str) else str(key): _finite(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def fmt(value: Any) -> str:
    """A value for a table cell: floats to 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def status(record: dict[str, Any]) -> str:
    """``succeeded``, or ``succeeded (partial: until validate)`` for a partial run."""
    if archive.is_partial(record):
        return f"{record['status']} (partial: until {record.get('until')})"
    return str(record["status"])


def print_outcome(record: dict[str, Any]) -> None:
    """Print what a run decided (the monitor's decision and any retraining)."""
    decision = record.get("decision")
    if decision is not None:
        style = _DECISION_STYLE.get(str(decision), "bold")
        reason = record.get("decision_reason") or ""
        console.print(f"decision: [{style}]{decision}[/] {reason}", soft_wrap=True)
    retraining = record.get("retraining")
    if retraining:
        console.print(f"retraining: {retraining.get('summary', retraining)}", soft_wrap=True)
