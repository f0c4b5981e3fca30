"""Where kernels write: ``kernel.log`` in each stage's folder, ``forkserver.log`` in the run's.

A kernel's start-up chatter and, when it dies, the reason go to its stderr (and,
when forked, its stdout); the runner keeps them in ``<stage>/kernel.log`` instead
of the user's terminal, and the run report links it. The runner adds its own
lines there too (a fallback, a retry), marked ``[mlops-nb HH:MM:SS]``.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

KERNEL_LOG = "kernel.log"
FORK_SERVER_LOG = "forkserver.log"


def note(log_path: Path | None, text: str) -> None:
    """Append a line from the runner to a stage's kernel.log (nothing without a log)."""
    if log_path is None:
        return
    with contextlib.suppress(OSError), log_path.open("a") as handle:
        handle.write(f"[mlops-nb {time.strftime('%H:%M:%S')}] {text}\n")


__all__ = ["FORK_SERVER_LOG", "KERNEL_LOG", "note"]
