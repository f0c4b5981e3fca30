"""The fork server process: imports the preload once, then forks one child per stage kernel.

Started by :meth:`~mlops_nb.pipeline.kernels.client.ForkServer.start` as
``python -c "from mlops_nb.pipeline.kernels.server import main; main()"``. It
reads requests (preload, spawn, poll, signal, forget) from its stdin and writes
one reply per request to its stdout, one JSON object per line; anything else
written to stdout goes to its log. It exits, killing its own kernels, when the
runner closes its stdin or goes away.

A child initialises its own IPython kernel app on the stage's connection file and
is otherwise a fresh kernel: its own session, signal handlers, working directory,
environment, log file and random seeds, and none of another stage's variables
(every stage gets a new child of the server, never a reused kernel).

Forking is only safe without threads, so this module imports nothing but the
standard library and :mod:`mlops_nb.processes`, and the server creates no thread,
ZMQ context or event loop before it forks; it refuses to fork once a preloaded
module has started a thread.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import importlib.util
import json
import os
import random
import select
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Sequence
from typing import Any

from mlops_nb.processes import signal_group


def main() -> None:
    """The fork server process (started by :meth:`ForkServer.start`, never by hand)."""
    _Server().serve()


class _Server:
    """The server's state: its pipes, the kernels it forked, their exit statuses."""

    def __init__(self) -> None:
        argv = sys.argv[1:]
        self.parent = int(argv[argv.index("--parent") + 1]) if "--parent" in argv else None
        # like ipykernel_launcher: the working directory is not on sys.path while importing
        if sys.path and sys.path[0] in {"", os.getcwd()}:
            del sys.path[0]
        self.requests = 0  # stdin
        self.replies = os.dup(1)
        os.dup2(2, 1)  # a stray print must not corrupt the protocol: it goes to the log
        self.children: set[int] = set()  # forked, not yet reaped
        self.exited: dict[int, int] = {}
        self.buffer = b""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        signal.signal(signal.SIGHUP, self._on_sigterm)

    def serve(self) -> None:
        try:
            first = self._next_request(None)
            if first is None:
                return
            self._reply(self._preload(first.get("modules", [])))
            # the rest is imported between requests: a kernel asked for meanwhile is
            # forked at once, with what has been imported so far
            later = [m for m in first.get("later", []) if m not in sys.modules]
            started = time.perf_counter()
            while True:
                message = self._next_request(0 if later else 0.5)
                if message is None:
                    break
                if message:
                    self._reply(self._handle(message))
                elif later:
                    entry = later.pop(0)
                    error = self._import(entry)
                    if error:
                        self._log(f"could not preload {entry}: {error}")
                    if threading.active_count() > 1:
                        later.clear()
                    if not later:
                        self._freeze()
                        seconds = round(time.perf_counter() - started, 3)
                        self._log(f"preloaded the other modules in {seconds} s")
        finally:
            self._stop_children()

    def _next_request(self, timeout: float | None) -> dict[str, Any] | None:
        """The next request; {} when none came within ``timeout``; None at EOF or parent death."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self.buffer:
            self._reap()
            if self.parent is not None and os.getppid() != self.parent:
                return None
            wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
            try:
                readable, _, _ = select.select([self.requests], [], [], wait)
            except InterruptedError:
                continue
            if readable:
                chunk = os.read(self.requests, 65536)
                if not chunk:
                    return None
                self.buffer += chunk
            elif deadline is not None and time.monotonic() >= deadline:
                return {}
        line, self.buffer = self.buffer.split(b"\n", 1)
        request: dict[str, Any] = json.loads(line)
        return request

    def _reply(self, message: dict[str, Any]) -> None:
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(self.replies, data) :]

    def _log(self, text: str) -> None:
        sys.stderr.write(f"{time.strftime('%H:%M:%S')} fork server {os.getpid()}: {text}\n")
        sys.stderr.flush()

    def _preload(self, modules: Sequence[str]) -> dict[str, Any]:
        started = time.perf_counter()
        loaded: list[str] = []
        failed: dict[str, str] = {}
        for entry in modules:
            error = self._import(entry)
            if error:
                failed[entry] = error
                continue
            loaded.append(entry)
            if threading.active_count() > 1:
                failed[entry] = "started a thread: fork refused"
                break
        self._freeze()
        seconds = round(time.perf_counter() - started, 3)
        self._log(f"preloaded {len(loaded)} modules in {seconds} s; failed: {failed or 'none'}")
        return {
            "event": "ready",
            "pid": os.getpid(),
            "seconds": seconds,
            "loaded": loaded,
            "failed": failed,
            "modules": len(sys.modules),
        }

    @staticmethod
    def _import(entry: str) -> str | None:
        """Import ``module`` or ``module:attribute``; the error, if any."""
        name, _, attribute = entry.partition(":")
        try:
            module = importlib.import_module(name)
            if attribute:
                try:
                    getattr(module, attribute)
                except AttributeError:
                    importlib.import_module(f"{name}.{attribute}")
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # a broken optional import must not stop the server
            return f"{type(exc).__name__}: {exc}"
        return None

    @staticmethod
    def _freeze() -> None:
        gc.collect()
        if hasattr(gc, "freeze"):
            gc.freeze()  # the preloaded objects stay shared: the collector never touches them

    def _handle(self, message: dict[str, Any]) -> dict[str, Any]:
        ident = message.get("id")
        op = message.get("op")
        try:
            if op == "spawn":
                return {"id": ident, "pid": self._spawn(message)}
            pid = int(message["pid"])
            if op == "poll":
                return {"id": ident, "status": self._status(pid)}
            if op == "signal":
                return {"id": ident, "sent": self._signal(pid, int(message["signal"]))}
            if op == "forget":
                self.exited.pop(pid, None)
                return {"id": ident}
            return {"id": ident, "error": f"unknown request {op!r}"}
        except Exception as exc:
            return {"id": ident, "error": f"{type(exc).__name__}: {exc}"}

    def _spawn(self, request: dict[str, Any]) -> int:
        if threading.active_count() > 1:
            # (in the server: every error of a request goes back to the client as text,
            # where ForkServer raises it as a ForkServerError)
            raise RuntimeError("the fork server has threads; it cannot fork safely")
        sys.stdout.flush()
        sys.stderr.flush()
        with warnings.catch_warnings():
            # native threads of BLAS/jemalloc pools are fork-safe (they have atfork handlers)
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the kernel process
            _kernel_child(request, close=(self.replies,))
        self.children.add(pid)
        self._log(f"forked kernel {pid} (log: {request.get('log')})")
        return pid

    def _status(self, pid: int) -> int | None:
        if pid in self.children:
            self._reap(pid)
        if pid in self.exited:
            return self.exited[pid]
        if pid in self.children:
            return None
        raise LookupError(f"{pid} is not a kernel of this server")  # a reply, as in _spawn

    def _signal(self, pid: int, signum: int) -> bool:
        if pid not in self.children:
            return False  # reaped (or never ours): its pid may belong to someone else now
        return signal_group(pid, signum)

    def _reap(self, pid: int = -1) -> None:
        while self.children:
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                return
            if done == 0:
                return
            self.children.discard(done)
            self.exited[done] = os.waitstatus_to_exitcode(status)
            self._log(f"kernel {done} exited with status {self.exited[done]}")
            if pid != -1:
                return

    def _stop_children(self) -> None:
        """Kill the kernels still running (only this server's own, unreaped children)."""
        self._reap()
        for signum, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            for pid in list(self.children):
                self._signal(pid, signum)
            deadline = time.monotonic() + grace
            while self.children and time.monotonic() < deadline:
                self._reap()
                time.sleep(0.02)
            if not self.children:
                break
        if self.children:
            self._log(f"kernels left running: {sorted(self.children)}")

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)


def _kernel_child(request: dict[str, Any], close: Sequence[int]) -> None:  # pragma: no cover
    """Become a stage's kernel; never returns (the process exits here)."""
    code = 1
    try:
        os.setsid()
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _redirect(request.get("log"))
        for fd in close:
            with contextlib.suppress(OSError):
                os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _reseed()
        code = _run_kernel(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        _exit(code)


def _redirect(log: str | None) -> None:
    stdin = os.open(os.devnull, os.O_RDONLY)
    if log:
        out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    else:
        out = os.open(os.devnull, os.O_WRONLY)
    os.dup2(stdin, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(stdin)
    os.close(out)


def _reseed() -> None:
    random.seed(os.urandom(32))
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy = sys.modules["numpy"]
        numpy_random.seed(numpy.frombuffer(os.urandom(32), dtype=numpy.uint32))


def _run_kernel(argv: Sequence[str]) -> int:
    from ipykernel.kernelapp import IPKernelApp  # in the child only: the app is created there

    launcher = importlib.util.find_spec("ipykernel_launcher")
    sys.argv = [launcher.origin if launcher and launcher.origin else "ipykernel_launcher", *argv]
    app = IPKernelApp.instance()
    # the trait's default was read from the environment when the server imported it
    app.initialize([*argv, f"--IPKernelApp.parent_handle={os.getppid()}"])
    _inline_matplotlib()
    app.start()
    # A shutdown request stops the main loop while the control thread still sends its
    # reply's "idle" status; let it finish before the exit handlers close the iopub
    # channel under it (its flush would then wait out a 10 s timeout).
    for name in ("control_thread", "shell_channel_thread"):
        thread = getattr(app, name, None)
        if thread is not None and thread.is_alive():
            thread.join(timeout=2)
    return 0


def _inline_matplotlib() -> None:
    """Give a preloaded matplotlib the backend a fresh kernel's import would have chosen."""
    matplotlib = sys.modules.get("matplotlib")
    backend = os.environ.get("MPLBACKEND")  # the kernel app sets the inline backend here
    if matplotlib is None or not backend:
        return
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None and getattr(pyplot, "_backend_mod", None) is not None:
        pyplot.switch_backend(backend)
    else:
        matplotlib.rcParams["backend"] = backend


def _exit(code: int) -> None:  # pragma: no cover - runs in the kernel process
    """End the kernel process as the interpreter would: threads, atexit handlers, streams."""
    for step in (getattr(threading, "_shutdown", None), atexit._run_exitfuncs):
        if step is not None:
            try:
                step()
            except BaseException:
                traceback.print_exc()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()
    os._exit(code)


__all__ = ["main"]
