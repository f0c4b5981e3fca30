"""The runner's side of a fork server: start it, ask it to fork kernels, watch them.

Starting a kernel the ordinary way costs a new interpreter, the IPython kernel's
own imports and then, in the notebook, pandas, scikit-learn, pyarrow and the
rest: two to three seconds per stage. A fork server is a helper process, started
with the runner's interpreter at the start of a run, that imports those modules
once (the *preload*, see :mod:`~mlops_nb.pipeline.kernels.preload`) and then
forks one child per stage kernel (:mod:`~mlops_nb.pipeline.kernels.server`).
A child shares the imported modules copy-on-write and is otherwise a fresh kernel.

The runner never forks itself (it has ZMQ contexts and asyncio threads). It
talks to the server over the server's stdin and stdout, one JSON object per
line. The server is ready once it has imported what the first stage needs; it
imports the rest between requests, while that stage runs. On Linux the runner
watches and signals a forked kernel through ``/proc`` (checking the kernel's
start tick, so a reused pid is never hit; see :mod:`mlops_nb.processes`); the
server only forks and reaps.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from mlops_nb import processes
from mlops_nb.errors import ForkServerError

FORK_ENV = "MLOPS_NB_FORK"
SERVER_CODE = "from mlops_nb.pipeline.kernels.server import main; main()"
"""What the server's interpreter runs (``python -c``): it imports no more than it needs."""


def fork_supported() -> bool:
    """Whether this platform can fork a kernel (Linux and macOS)."""
    return hasattr(os, "fork") and sys.platform.startswith(("linux", "darwin"))


def fork_wanted(fork: bool | None = None) -> bool:
    """Whether kernels should be forked: ``fork`` if given, else ``MLOPS_NB_FORK`` (default on).

    Args:
        fork: an explicit choice (e.g. ``Runner(fork=False)``); None reads the environment.

    Returns:
        False where the platform cannot fork, whatever was asked.
    """
    if fork is None:
        fork = os.environ.get(FORK_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}
    return fork and fork_supported()


class ForkServer:
    """The runner's handle on a fork server process.

    Every call is synchronous and short (a fork, a ``waitpid``, a signal), guarded by
    a timeout: a server that stops answering is killed and reported as an error, so
    the caller can fall back to an ordinary kernel. A request waits at most for the
    module the server is importing at that moment.
    """

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path | None = None) -> None:
        self.process = process
        self.log_path = log_path
        self.info: dict[str, Any] | None = None  # the server's "ready" message
        self.spawned: list[int] = []
        self.broken: str | None = None
        self._buffer = b""
        self._next_id = 0
        self._lock = threading.Lock()
        self._ticks: dict[int, str | None] = {}

    @classmethod
    def start(
        cls,
        preload: Sequence[str],
        *,
        later: Sequence[str] = (),
        cwd: Path | None = None,
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> ForkServer:
        """Start a server with this interpreter; it imports ``preload`` in the background.

        Args:
            preload: entries as returned by :func:`preload_modules`, imported before
                the server is ready.
            later: entries imported after that, between requests (a kernel asked for
                meanwhile is forked with what has been imported so far).
            cwd: the server's working directory (the kernels choose their own).
            log_path: where the server writes what it does (preload, forks, exits).
            env: the server's environment (the kernels get their own).

        Raises:
            ForkServerError: the process could not be started.
        """
        log = log_path.open("ab") if log_path is not None else None
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", SERVER_CODE, "--parent", str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log if log is not None else subprocess.DEVNULL,
                cwd=cwd,
                env=env,
                start_new_session=True,  # a terminal's Ctrl-C is the runner's to handle
            )
        except OSError as exc:
            raise ForkServerError(f"could not start the fork server: {exc}") from exc
        finally:
            if log is not None:
                log.close()  # the server keeps its own descriptor
        server = cls(process, log_path)
        try:
            server._send({"op": "preload", "modules": list(preload), "later": list(later)})
        except ForkServerError:
            server.close()
            raise
        return server

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ready(self) -> bool:
        return self.info is not None and self.broken is None

    def wait_ready(self, timeout: float) -> dict[str, Any]:
        """Wait until the preload is done; return the server's report of it.

        Raises:
            ForkServerError: the server died, or was not ready within ``timeout`` seconds.
        """
        with self._lock:
            if self.info is None:
                self.info = self._receive(lambda m: m.get("event") == "ready", timeout)
            return self.info

    def spawn(
        self,
        argv: Sequence[str],
        *,
        cwd: str | os.PathLike[str],
        env: dict[str, str],
        log_path: Path | None,
        timeout: float = 30,
    ) -> int:
        """Fork a kernel running ``ipykernel`` with ``argv``; return its pid.

        Args:
            argv: the kernel app's arguments (``-f CONNECTION_FILE`` and the rest).
            cwd: the kernel's working directory.
            env: the kernel's whole environment.
            log_path: the file its stdout and stderr are appended to.
            timeout: seconds to wait for the server's answer.

        Raises:
            ForkServerError: the server is gone, did not answer, or refused.
        """
        reply = self.request(
            {
                "op": "spawn",
                "argv": list(argv),
                "cwd": os.fspath(cwd),
                "env": dict(env),
                "log": os.fspath(log_path) if log_path is not None else None,
            },
            timeout,
        )
        pid = int(reply["pid"])
        self.spawned.append(pid)
        self._ticks[pid] = processes.start_tick(pid)
        return pid

    def poll(self, pid: int) -> int | None:
        """The exit status of kernel ``pid`` (negative: killed by that signal), None if running.

        On Linux the answer comes from ``/proc`` (a kernel that exited stays there,
        with its exit status, until the server reaps it), so it never waits for a
        server busy importing; elsewhere, and once the kernel is reaped, the server
        is asked.

        Raises:
            ForkServerError: the server is gone (see :meth:`orphan_alive`).
        """
        state = processes.proc_state(pid, self._ticks.get(pid))
        if state == processes.RUNNING:
            return None
        if isinstance(state, int):
            return state
        status: int | None = self.request({"op": "poll", "pid": pid})["status"]
        return status

    def send_signal(self, pid: int, signum: int) -> bool:
        """Send ``signum`` to kernel ``pid``'s process group; False if it had already exited.

        Only a kernel that ``/proc`` shows still running with the start time it had
        when forked is signalled directly; elsewhere the server signals it, and only
        if it has not reaped it yet. A reused pid is never hit.
        """
        state = processes.proc_state(pid, self._ticks.get(pid))
        if state == processes.RUNNING:
            return processes.signal_group(pid, signum)
        if state != processes.UNKNOWN:
            return False  # exited
        return bool(self.request({"op": "signal", "pid": pid, "signal": int(signum)})["sent"])

    def forget(self, pid: int) -> None:
        """Let the server drop the exit status it keeps for ``pid`` (without waiting)."""
        with contextlib.suppress(ForkServerError), self._lock:
            if self.broken is None:
                self._next_id += 1
                self._send({"op": "forget", "pid": pid, "id": self._next_id})

    def orphan_alive(self, pid: int) -> bool:
        """Whether kernel ``pid`` still runs, judged without the server (after it died)."""
        if pid not in self._ticks:
            return False
        state = processes.proc_state(pid, self._ticks[pid])
        if state == processes.UNKNOWN:
            return processes.pid_exists(pid)
        return state == processes.RUNNING

    def kill_orphan(self, pid: int, signum: int = signal.SIGKILL) -> None:
        """Signal kernel ``pid``'s group directly, if it is still the kernel this server forked."""
        if self.orphan_alive(pid):
            processes.signal_group(pid, signum)

    def request(self, message: dict[str, Any], timeout: float = 10) -> dict[str, Any]:
        """Send one request and return its answer.

        Raises:
            ForkServerError: the server is gone, did not answer in time, or refused.
        """
        with self._lock:
            if self.broken is not None:
                raise ForkServerError(self.broken)
            self._next_id += 1
            ident = self._next_id
            self._send({**message, "id": ident})
            reply = self._receive(lambda m: m.get("id") == ident, timeout)
        if "error" in reply:
            raise ForkServerError(f"fork server: {reply['error']}")
        return reply

    def close(self, timeout: float = 5) -> None:
        """Stop the server: it kills the kernels it still has and exits.

        A server that does not exit within ``timeout`` is killed, and its kernels
        are then killed directly.
        """
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()  # EOF: the server shuts down
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for pid in self.spawned:
            self.kill_orphan(pid)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.broken = self.broken or "the fork server was closed"

    # -- plumbing

    def _send(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        try:
            assert self.process.stdin is not None
            self.process.stdin.write(data)
            self.process.stdin.flush()
        except (OSError, ValueError) as exc:
            self._fail(f"the fork server is gone ({exc})")

    def _receive(self, wanted: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                message: dict[str, Any] = json.loads(line)
                if message.get("event") == "ready":
                    self.info = message
                if wanted(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail(f"the fork server did not answer within {timeout:g} s")
            readable, _, _ = select.select([fd], [], [], left)
            if readable:
                chunk = os.read(fd, 65536)
                if not chunk:
                    code = self.process.poll()
                    self._fail(f"the fork server exited (status {code}); see {self.log_path}")
                self._buffer += chunk

    def _fail(self, reason: str) -> NoReturn:
        """Mark the server broken (killing it if it still runs) and raise ``reason``."""
        self.broken = reason
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        raise ForkServerError(reason)


__all__ = [
    "FORK_ENV",
    "SERVER_CODE",
    "ForkServer",
    "ForkServerError",
    "fork_supported",
    "fork_wanted",
]
