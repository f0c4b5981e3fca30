"""What every command prints with: the consoles, error lines, run statuses and outcomes."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from mlops_nb.pipeline import archive

__all__ = ["console", "errors", "fmt", "print_error", "print_outcome", "status"]

console = Console()
errors = Console(stderr=True)
_DECISION_STYLE = {"ok": "green", "drift": "yellow", "degraded": "red"}


def print_error(message: str) -> None:
    """``error: MESSAGE`` on stderr."""
    errors.print(Text("error: ", style="bold red") + Text(message), soft_wrap=True)


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
