"""Processes: start ticks, liveness and the states /proc tells, read the one way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from mlops_nb import processes
from mlops_nb.tracking import owner

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@linux
def test_the_start_tick_names_a_process_and_is_what_runs_record():
    tick = processes.start_tick(os.getpid())
    assert tick is not None and tick.isdigit()
    assert owner.current_owner().started == tick  # the tracking store records the same tick
    assert processes.start_tick(dead_pid()) is None


def test_a_process_is_running_only_with_its_own_start_tick():
    me = os.getpid()
    assert processes.pid_exists(me) and processes.is_running(me, None)
    assert processes.is_running(me, processes.start_tick(me))
    assert not processes.pid_exists(dead_pid()) and not processes.is_running(dead_pid(), None)
    if sys.platform.startswith("linux"):
        assert not processes.is_running(me, "1")  # the pid, reused by another process


@linux
def test_proc_state_tells_running_gone_and_a_zombies_exit_status():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        tick = processes.start_tick(child.pid)
        assert processes.proc_state(child.pid, tick) == processes.RUNNING
        assert processes.proc_state(child.pid, "1") == processes.GONE
        assert processes.proc_state(child.pid, None) == processes.UNKNOWN
        assert processes.signal_group(child.pid, signal.SIGKILL)  # no group of its own: the pid
        deadline = time.monotonic() + 10
        while processes.proc_state(child.pid, tick) == processes.RUNNING:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert processes.proc_state(child.pid, tick) == -signal.SIGKILL  # not reaped yet
    finally:
        child.kill()
        child.wait()
    assert processes.proc_state(child.pid, tick) == processes.GONE
    assert processes.signal_group(child.pid, signal.SIGTERM) is False


def test_the_owner_of_a_run_elsewhere_or_without_pid_counts_as_alive():
    assert owner.is_alive("another-host", 1, None)
    assert owner.is_alive(owner.current_owner().host, None, None)
    assert not owner.is_alive(owner.current_owner().host, dead_pid(), None)
