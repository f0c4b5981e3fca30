"""Crashing a train run, and what must hold after: used by ``test_crash.py`` and ``bench/crash.py``.

:func:`crash` starts ``mlops-nb run train`` on the demo project and kills it: at a
named crash point (``MLOPS_NB_FAULT``, see :mod:`mlops_nb.faults`), by SIGKILL of
the runner once a stage runs (plus a delay), or by SIGKILL of the stage's
kernel. While it runs, every descendant of the runner (the fork server, the
kernels, what they start) is recorded, so that after the crash :class:`Crash`
can say which of them survived it. :func:`recover` then runs the doctor (before
and after ``--repair``) and ``mlops-nb run --resume``.

No pytest here: the benchmark imports it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[2]
CHEAP = ["--until", "register", "-p", "budget=1", "-p", "data_source=sample:churn?rows=400&seed=1"]
"""The cheapest train run that still snapshots, trains, registers and moves aliases."""
GRACE_S = 15.0
"""How long the runner's descendants get to notice it is gone and end."""
SERVER = "mlops_nb.pipeline.kernels.server"


def project_env(outputs: Path, fault: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_NB_")}
    env["MLOPS_NB_OUTPUTS"] = str(outputs)
    if fault is not None:
        env["MLOPS_NB_FAULT"] = fault
    return env


def cli(outputs: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_nb", *args],
        cwd=REPO,
        env=project_env(outputs),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Crash:
    """What one crashed run left: its exit status, what was killed, what survived."""

    returncode: int
    killed: str
    run_id: str | None
    output: str
    descendants: list[psutil.Process] = field(default_factory=list)

    def survivors(self, grace: float = GRACE_S) -> list[str]:
        """The runner's descendants still alive after ``grace`` seconds (zombies are dead)."""
        deadline = time.monotonic() + grace
        while True:
            alive = [p for p in self.descendants if _alive(p)]
            if not alive or time.monotonic() > deadline:
                return [f"{p.pid} {' '.join(_cmdline(p))[:120]}" for p in alive]
            time.sleep(0.1)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def crash(
    outputs: Path,
    *args: str,
    fault: str | None = None,
    stage: str | None = None,
    delay: float = 0.0,
    target: str = "runner",
    timeout: float = 300,
) -> Crash:
    """Run ``mlops-nb run train ARGS`` and crash it (see the module docstring).

    With ``fault`` the process named by the crash point kills itself. Otherwise,
    once ``stage`` runs (any stage: None), ``delay`` seconds later, SIGKILL goes
    to the runner (``target="runner"``) or to the stage's kernel (``"kernel"``).
    """
    before = set(_runs(outputs))
    runner = subprocess.Popen(
        [sys.executable, "-m", "mlops_nb", "run", "train", *args],
        cwd=REPO,
        env=project_env(outputs, fault),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watched = psutil.Process(runner.pid)
    seen: dict[int, psutil.Process] = {}
    killed, deadline, due = f"runner at {fault}" if fault else "", time.monotonic() + timeout, None
    while runner.poll() is None and time.monotonic() < deadline:
        _record(watched, seen)
        if fault is None and due is None and _running_stage(outputs, before, stage, target):
            due = time.monotonic() + delay
        if due is not None and time.monotonic() >= due and not killed:
            killed = _kill(runner, seen, target)
        time.sleep(0.05)
    if runner.poll() is None:
        runner.kill()
        killed = killed or "runner at the timeout"
    output, _ = runner.communicate()
    new = sorted(set(_runs(outputs)) - before)
    if fault and runner.returncode != -signal.SIGKILL:
        killed = f"kernel at {fault}"
    return Crash(runner.returncode, killed, new[-1] if new else None, output, list(seen.values()))


def _runs(outputs: Path) -> list[str]:
    folder = outputs / "runs"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _running_stage(outputs: Path, before: set[str], stage: str | None, target: str) -> bool:
    """Whether the new run's run.json says ``stage`` (any, for None) is running.

    For a kernel to kill, the stage's kernel must also have executed a cell: one
    that dies while starting is started again (and the run goes on).
    """
    new = sorted(set(_runs(outputs)) - before)
    if not new:
        return False
    folder = outputs / "runs" / new[-1]
    try:
        record = json.loads((folder / "run.json").read_text())
    except (OSError, ValueError):
        return False
    running = [s for s in record["stages"] if s["status"] == "running"]
    chosen = [s for s in running if stage is None or s["name"] == stage]
    if target == "kernel":
        return any(_executing(folder / s["dir"] / "executed.ipynb") for s in chosen)
    return bool(chosen)


def _executing(notebook: Path) -> bool:
    """Whether papermill has saved a cell executed (a kernel that answered) in ``notebook``."""
    try:
        return re.search(r'"execution_count": \d', notebook.read_text()) is not None
    except OSError:
        return False


def _record(process: psutil.Process, seen: dict[int, psutil.Process]) -> None:
    try:
        for child in process.children(recursive=True):
            seen.setdefault(child.pid, child)
    except psutil.Error:
        pass


def _kill(runner: subprocess.Popen[str], seen: dict[int, psutil.Process], target: str) -> str:
    if target == "kernel":
        kernels = [p for p in seen.values() if _alive(p) and _is_kernel(p, runner.pid)]
        if kernels:
            kernel = max(kernels, key=lambda p: p.create_time())
            kernel.send_signal(signal.SIGKILL)
            return f"kernel {kernel.pid}"
    runner.send_signal(signal.SIGKILL)
    return "runner"


def _is_kernel(process: psutil.Process, runner: int) -> bool:
    """A stage kernel: a child of the fork server, or an ipykernel the runner started."""
    try:
        parent = process.ppid()
        line = " ".join(process.cmdline())
    except psutil.Error:
        return False
    if "ipykernel" in line and parent == runner:
        return True
    try:
        return SERVER in " ".join(psutil.Process(parent).cmdline()) and parent != runner
    except psutil.Error:
        return False


@dataclass
class Recovery:
    """The doctor before and after ``--repair``, and the resume."""

    before: list[dict[str, Any]]
    after: list[dict[str, Any]]
    resumed: subprocess.CompletedProcess[str] | None


def doctor(outputs: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    done = cli(outputs, "doctor", "--json", *args, timeout=120)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"the doctor failed: {done.stdout}{done.stderr}")
    return done.returncode, json.loads(done.stdout)["findings"]


def recover(outputs: Path, run_id: str | None) -> Recovery:
    """Doctor, doctor --repair, doctor again, then resume the crashed run."""
    _, before = doctor(outputs)
    doctor(outputs, "--repair")
    _, after = doctor(outputs)
    resumed = None
    if run_id is not None and status(outputs, run_id) != "succeeded":  # killed too late
        resumed = cli(outputs, "run", "--resume", run_id)
    return Recovery(before, after, resumed)


def status(outputs: Path, run_id: str) -> str | None:
    """The status run.json of ``run_id`` says (None: no readable run.json)."""
    try:
        return str(json.loads((outputs / "runs" / run_id / "run.json").read_text())["status"])
    except (OSError, ValueError, KeyError):
        return None


def summary(findings: list[dict[str, Any]]) -> str:
    """``stale-run, leftover x2`` (or ``-``)."""
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding["kind"]] = counts.get(finding["kind"], 0) + 1
    return ", ".join(f"{k} x{n}" if n > 1 else k for k, n in counts.items()) or "-"
