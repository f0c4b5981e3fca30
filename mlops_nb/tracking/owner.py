"""Which process owns a run, and whether that process is still alive.

A run records the host, pid and the kernel's start tick of the process that
started it. A run still marked ``running`` whose process is gone (killed,
crashed, kernel restarted) is reported as ``interrupted``.
"""

from __future__ import annotations

import os
import socket
from functools import cache
from pathlib import Path
from typing import NamedTuple


class Owner(NamedTuple):
    """The process a run belongs to."""

    host: str
    pid: int
    started: str | None


def current_owner() -> Owner:
    """The owner record of this process."""
    return _owner_of(os.getpid())


@cache
def _owner_of(pid: int) -> Owner:
    return Owner(socket.gethostname(), pid, start_tick(pid))


def start_tick(pid: int) -> str | None:
    """The kernel's start tick of ``pid`` (Linux), or None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def is_alive(host: str | None, pid: int | None, started: str | None) -> bool:
    """Whether the process that owns a run may still be running.

    Processes on another host cannot be checked and count as alive; a reused
    pid is told apart by its start tick.
    """
    if host != socket.gethostname() or pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return started is None or start_tick(pid) == started
