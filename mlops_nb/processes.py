"""Processes on this machine: whether one still runs, and whether it is still the same one.

A pid alone does not name a process for long: once the process is reaped, the
kernel may hand the pid to a new one. What tells them apart is the *start tick*,
field 22 of ``/proc/<pid>/stat`` (clock ticks after boot, kept as the text the
kernel writes). A run records it as ``pid_started`` in run.json and in the
tracking store, and the fork server's client records it for every kernel it
forks; a process with that pid and another tick is another process.

Only the standard library is used: the fork server imports this module, and it
must not load anything that starts a thread before it forks.

Why not ``psutil.Process.create_time()``: it answers in another unit (a float of
seconds since the epoch, computed from the boot time), so it would not match the
ticks that run.json and the tracking store already hold; it cannot give the exit
status a zombie leaves in ``/proc`` (which the fork server's client reads, so it
never waits for a busy server); and it would add an import to the fork server.
Where ``/proc`` does not exist (macOS), :func:`start_tick` is None and callers
fall back to what the pid alone tells them, as they always have.
"""

from __future__ import annotations

import os
from pathlib import Path

RUNNING = "running"
""":func:`proc_state`: the process runs (or sleeps) and is the one expected."""
GONE = "gone"
""":func:`proc_state`: no such process, or the pid belongs to another process now."""
UNKNOWN = "unknown"
""":func:`proc_state`: nothing can be told (no start tick to compare, or no exit status)."""

_STATE = 0  # field 3 of /proc/<pid>/stat, counted after the command name
_START_TICK = 19  # field 22
_EXIT_CODE = 49  # field 52 (Linux 3.5+), the status as waitpid reports it


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name, or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()  # the name may hold spaces and parentheses


def start_tick(pid: int) -> str | None:
    """The start tick of ``pid`` (Linux), or None where unknown (no such process, no /proc)."""
    fields = _stat_fields(pid)
    return fields[_START_TICK] if fields is not None else None


def pid_exists(pid: int) -> bool:
    """Whether some process has the pid ``pid`` (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_running(pid: int, started: str | None) -> bool:
    """Whether ``pid`` still runs as the process that started at tick ``started``.

    ``started`` None (not recorded, e.g. on a system without /proc) trusts the
    pid alone.
    """
    return pid_exists(pid) and (started is None or start_tick(pid) == started)


def proc_state(pid: int, tick: str | None) -> str | int:
    """What ``/proc`` tells of ``pid``, expected to have started at ``tick``.

    Returns:
        :data:`RUNNING`, :data:`GONE` (also when the pid now belongs to another
        process), the exit status of a process that exited but is not reaped yet
        (negative: the signal that killed it), or :data:`UNKNOWN` (``tick`` is
        None, or the kernel keeps no exit status).
    """
    if tick is None:
        return UNKNOWN
    fields = _stat_fields(pid)
    if fields is None or fields[_START_TICK] != tick:
        return GONE
    if fields[_STATE] != "Z":
        return RUNNING
    if len(fields) > _EXIT_CODE:
        return os.waitstatus_to_exitcode(int(fields[_EXIT_CODE]))
    return UNKNOWN


def signal_group(pid: int, signum: int) -> bool:
    """Send ``signum`` to the process group ``pid`` leads, else to ``pid``; False if neither."""
    try:
        os.killpg(pid, signum)
    except OSError:
        try:
            os.kill(pid, signum)
        except OSError:
            return False
    return True


__all__ = [
    "GONE",
    "RUNNING",
    "UNKNOWN",
    "is_running",
    "pid_exists",
    "proc_state",
    "signal_group",
    "start_tick",
]
