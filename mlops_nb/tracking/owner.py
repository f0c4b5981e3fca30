"""Which process owns a run, and whether that process is still alive.

A run records the host, pid and the kernel's start tick of the process that
started it (see :mod:`mlops_nb.processes`). A run still marked ``running``
whose process is gone (killed, crashed, kernel restarted) is reported as
``interrupted``.
"""

from __future__ import annotations

import os
import socket
from functools import cache
from typing import NamedTuple

from mlops_nb.processes import is_running, start_tick


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


def is_alive(host: str | None, pid: int | None, started: str | None) -> bool:
    """Whether the process that owns a run may still be running.

    Processes on another host cannot be checked and count as alive; a reused
    pid is told apart by its start tick.
    """
    if host != socket.gethostname() or pid is None:
        return True
    return is_running(pid, started)
