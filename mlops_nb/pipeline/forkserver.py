"""A fork server: stage kernels forked from a process that has already imported the heavy modules.

Starting a kernel the ordinary way costs a new interpreter, the IPython kernel's
own imports and then, in the notebook, pandas, scikit-learn, pyarrow and the
rest: two to three seconds per stage. The fork server is a helper process, started
with the runner's interpreter at the start of a run, that imports those modules
once (the *preload*) and then forks one child per stage kernel. A child shares
the imported modules copy-on-write, initialises its own IPython kernel app on the
stage's connection file and is otherwise a fresh kernel: its own session, signal
handlers, working directory, environment, log file and random seeds, and none of
another stage's variables (every stage gets a new child of the server, never a
reused kernel).

The runner never forks itself (it has ZMQ contexts and asyncio threads); the
server creates no thread, ZMQ context or event loop before it forks. It talks to
the runner over its stdin and stdout, one JSON object per line, and exits, killing
its own kernels, when the runner closes its stdin or goes away.

The server is ready once it has imported what the first stage needs; it imports
the rest between requests, while that stage runs. On Linux the runner watches
and signals a forked kernel through ``/proc`` (checking the kernel's start time,
so a reused pid is never hit); the server only forks and reaps.

The client side is :class:`ForkServer`; :func:`preload_modules` derives the
preload list from the imports of a pipeline's templates.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mlops_nb.errors import ForkServerError

FORK_ENV = "MLOPS_NB_FORK"
PRELOAD_ENV = "MLOPS_NB_PRELOAD"
# The kernel machinery itself: imported by every kernel before the first cell runs.
ESSENTIALS = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.comm",
    "ipykernel.debugger",
    "IPython.core.completer",
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.interactiveshell",
    "IPython.core.oinspect",
    "IPython.display",
    "IPython.extensions.storemagic",
    "jupyter_client.session",
    "psutil",
    "tornado.gen",
    "tornado.ioloop",
    "tornado.locks",
    "tornado.platform.asyncio",
    "tornado.queues",
)
# Never imported before the fork: the inline backend hooks itself into the kernel's
# shell when it is first imported, which must happen in the kernel.
NEVER_PRELOAD = ("matplotlib_inline", "ipykernel_launcher", "__future__", "__main__")
_SERVER_CODE = "from mlops_nb.pipeline.forkserver import main; main()"


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


# --------------------------------------------------------------------------- preload list


def preload_modules(
    notebooks: Iterable[Path], cwd: Path | None = None, requested: Sequence[str] | None = None
) -> list[str]:
    """The modules a fork server imports before forking stage kernels.

    Args:
        notebooks: the pipeline's templates; their code cells' imports are the default list.
        cwd: the kernels' working directory; a module there shadows an installed one
            in the kernel, so an installed module of the same name is never preloaded.
        requested: an explicit list (``Runner(preload=...)``); None reads
            ``MLOPS_NB_PRELOAD`` (comma-separated), and without it the templates'
            imports are used. In the list, ``auto`` stands for the templates' imports
            and ``-name`` leaves out a module and its submodules (``auto,-torch``).

    Returns:
        Entries ``module`` or ``module:attribute`` (an attribute is read after the
        import, which loads lazily exported names such as ``mlops_nb:Stage``), the
        kernel essentials first, only modules importable in this environment.
    """
    if requested is None:
        text = os.environ.get(PRELOAD_ENV)
        requested = ["auto"] if text is None else [p.strip() for p in text.split(",")]
    entries: list[str] = list(ESSENTIALS)
    left_out = tuple(item[1:].strip() for item in requested if item.startswith("-"))
    for item in requested:
        if item == "auto":
            entries += _template_imports(notebooks)
        elif item and not item.startswith("-"):
            entries.append(item)
    kept: list[str] = []
    for entry in dict.fromkeys(entries):
        module = entry.split(":", 1)[0]
        if any(module == out or module.startswith(f"{out}.") for out in left_out):
            continue
        if _importable(module.split(".", 1)[0], cwd):
            kept.append(entry)
    return kept


def _template_imports(notebooks: Iterable[Path]) -> list[str]:
    found: list[str] = []
    for path in notebooks:
        try:
            cells = json.loads(Path(path).read_text()).get("cells", [])
        except (OSError, ValueError):
            continue
        for cell in cells:
            if cell.get("cell_type") == "code":
                source = cell.get("source", "")
                found += code_imports("".join(source) if isinstance(source, list) else source)
    return found


def code_imports(source: str) -> list[str]:
    """The modules (and attributes read from them) that a code cell imports.

    ``import pandas as pd`` gives ``pandas``; ``from a.b import c`` gives ``a.b`` and
    ``a.b:c``; ``import mlops_nb as mn`` then ``mn.Stage(...)`` gives ``mlops_nb``
    and ``mlops_nb:Stage``. IPython magics and shell escapes are ignored.

    Args:
        source: the cell's code.

    Returns:
        The entries in order of appearance, possibly repeated.
    """
    tree = _parse(source)
    if tree is None:
        return []
    found: list[str] = []
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for name in node.names:
                found.append(name.name)
                if name.asname:
                    aliases[name.asname] = name.name
                else:
                    top = name.name.split(".", 1)[0]
                    aliases.setdefault(top, top)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
            found += [f"{node.module}:{n.name}" for n in node.names if n.name != "*"]
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and not node.attr.startswith("_")
        ):
            found.append(f"{aliases[node.value.id]}:{node.attr}")
    return found


def _parse(source: str) -> ast.Module | None:
    lines = [
        "" if line.lstrip().startswith(("%", "!", "?")) or line.rstrip().endswith("?") else line
        for line in source.splitlines()
    ]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        pass
    # a cell IPython accepts but Python does not (x = !ls, %%magic): keep its plain imports
    kept = [ln for ln in lines if ln.startswith(("import ", "from "))]
    try:
        return ast.parse("\n".join(kept))
    except SyntaxError:
        return None


def _importable(top: str, cwd: Path | None) -> bool:
    import importlib.machinery
    import importlib.util

    if not top.isidentifier() or top in NEVER_PRELOAD:
        return False
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if cwd is not None:
        local = importlib.machinery.PathFinder.find_spec(top, [str(cwd)])
        if local is not None and _origin(local) != _origin(spec):
            return False
    return True


def _origin(spec: Any) -> str | None:
    where = spec.origin
    if where in {None, "namespace"} and spec.submodule_search_locations:
        where = next(iter(spec.submodule_search_locations), None)
    return os.path.realpath(where) if where and where not in {"built-in", "frozen"} else where


# --------------------------------------------------------------------------- client side


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
        log = log_path.open("ab") if log_path is not None else subprocess.DEVNULL
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _SERVER_CODE, "--parent", str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=cwd,
                env=env,
                start_new_session=True,  # a terminal's Ctrl-C is the runner's to handle
            )
        except OSError as exc:
            raise ForkServerError(f"could not start the fork server: {exc}") from exc
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
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
        self._ticks[pid] = start_tick(pid)
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
        state = _proc_state(pid, self._ticks.get(pid))
        if state == _RUNNING:
            return None
        if isinstance(state, int):
            return state
        return self.request({"op": "poll", "pid": pid})["status"]

    def send_signal(self, pid: int, signum: int) -> bool:
        """Send ``signum`` to kernel ``pid``'s process group; False if it had already exited.

        Only a kernel that ``/proc`` shows still running with the start time it had
        when forked is signalled directly; elsewhere the server signals it, and only
        if it has not reaped it yet. A reused pid is never hit.
        """
        state = _proc_state(pid, self._ticks.get(pid))
        if state == _RUNNING:
            return _signal_group(pid, signum)
        if state != _UNKNOWN:
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
        state = _proc_state(pid, self._ticks[pid])
        if state == _UNKNOWN:
            return _exists(pid)
        return state == _RUNNING

    def kill_orphan(self, pid: int, signum: int = signal.SIGKILL) -> None:
        """Signal kernel ``pid``'s group directly, if it is still the kernel this server forked."""
        if self.orphan_alive(pid):
            _signal_group(pid, signum)

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

    def _receive(self, wanted: Any, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                message = json.loads(line)
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

    def _fail(self, reason: str) -> None:
        self.broken = reason
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        raise ForkServerError(reason)


def start_tick(pid: int) -> str | None:
    """The kernel's start tick of ``pid`` (Linux), or None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


_RUNNING = "running"
_GONE = "gone"
_UNKNOWN = "unknown"


def _proc_state(pid: int, tick: str | None) -> str | int:
    """Kernel ``pid`` per ``/proc``: running, gone, its exit status, or unknown (no /proc).

    ``tick`` is its start time when forked: a pid now used by another process is gone.
    """
    if tick is None:
        return _UNKNOWN
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return _GONE
    if fields[19] != tick:
        return _GONE
    if fields[0] != "Z":
        return _RUNNING
    if len(fields) >= 50:  # field 52, exit_code (Linux 3.5+), as waitpid reports it
        return os.waitstatus_to_exitcode(int(fields[49]))
    return _UNKNOWN


def _signal_group(pid: int, signum: int) -> bool:
    try:
        os.killpg(pid, signum)  # the kernel leads its own session and process group
    except OSError:
        try:
            os.kill(pid, signum)
        except OSError:
            return False
    return True


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- server side


def main() -> None:
    """The fork server process (started by :meth:`ForkServer.start`, never by hand)."""
    _Server().serve()


class _Server:
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
        return json.loads(line)

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
        import importlib

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
        import gc

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
        import warnings

        if threading.active_count() > 1:
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
        raise LookupError(f"{pid} is not a kernel of this server")

    def _signal(self, pid: int, signum: int) -> bool:
        if pid not in self.children:
            return False  # reaped (or never ours): its pid may belong to someone else now
        return _signal_group(pid, signum)

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
    import random

    random.seed(os.urandom(32))
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy = sys.modules["numpy"]
        numpy_random.seed(numpy.frombuffer(os.urandom(32), dtype=numpy.uint32))


def _run_kernel(argv: Sequence[str]) -> int:
    import importlib.util

    from ipykernel.kernelapp import IPKernelApp

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
    import atexit

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
