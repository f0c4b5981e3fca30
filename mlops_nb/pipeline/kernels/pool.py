"""Where a run's stage kernels come from, and how one stage's kernel lives and ends.

A run opens a :class:`KernelPool`. Where the platform can fork and the run's
kernel runs this interpreter (its kernelspec's ``argv``, whatever the kernel's
name: see :mod:`~mlops_nb.pipeline.kernels.specs`), the pool starts a fork server
(:mod:`~mlops_nb.pipeline.kernels.client`) that has already imported what the
templates import, and each stage's kernel is forked from it
(:mod:`~mlops_nb.pipeline.kernels.provisioner`). Otherwise (or with
``MLOPS_NB_FORK=0``, ``Runner(fork=False)``, a server that failed) a kernel is
started the ordinary way. A forked kernel that does not come up is retried once
as an ordinary kernel, and the retry is noted in ``kernel.log``.

Either way every stage gets a new kernel process, and :class:`StageKernel` times
it, follows the cell it runs (to say where it died) and shuts it down when the
stage ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from jupyter_core.utils import run_sync

from mlops_nb.errors import ForkServerError
from mlops_nb.pipeline.kernels.client import ForkServer, fork_wanted
from mlops_nb.pipeline.kernels.logs import KERNEL_LOG, note
from mlops_nb.pipeline.kernels.preload import preload_modules
from mlops_nb.pipeline.kernels.provisioner import (
    ForkProvisioner,
    StageKernelManager,
    signal_forked,
)
from mlops_nb.pipeline.kernels.specs import (
    NATIVE_KERNEL,
    choose_kernel,
    find_kernel,
    interpreter_problem,
)

log = logging.getLogger(__name__)
# A forked kernel is ready in well under a second; one that is not ready after this
# long is given up and started again the ordinary way (with the full start timeout).
FORK_START_TIMEOUT = 30.0


Execute = Callable[[StageKernelManager, float, dict[str, Any]], None]


class KernelPool:
    """Where a run's stage kernels come from: a fork server when possible, else ordinary starts."""

    def __init__(
        self,
        kernel_name: str = NATIVE_KERNEL,
        start_timeout: float = 120.0,
        server: ForkServer | None = None,
        fork_off_reason: str | None = None,
    ) -> None:
        self.kernel_name = kernel_name
        self.start_timeout = start_timeout
        self.server = server
        self.fork_off_reason = fork_off_reason
        self._chosen: dict[str, tuple[str, str | None]] = {}

    def choose(
        self, kernel_name: str, template: str | Path | None = None
    ) -> tuple[str, str | None]:
        """The kernel to start for a stage naming ``kernel_name``, and why if another one.

        A kernel that is not installed is stood in for by Jupyter's default
        kernel (:func:`~mlops_nb.pipeline.kernels.specs.choose_kernel`); the
        first time, a warning says so and how to install it.
        """
        if kernel_name not in self._chosen:
            chosen = self._chosen[kernel_name] = choose_kernel(kernel_name, template)
            if chosen[1] is not None:
                log.warning("%s", chosen[1])
        return self._chosen[kernel_name]

    @classmethod
    def open(
        cls,
        notebooks: Iterable[Path],
        *,
        cwd: Path,
        kernel_name: str = NATIVE_KERNEL,
        start_timeout: float = 120.0,
        fork: bool | None = None,
        preload: Sequence[str] | None = None,
        log_path: Path | None = None,
    ) -> KernelPool:
        """Open a pool for one run, starting its fork server when kernels can be forked.

        Args:
            notebooks: the run's templates; their imports are the default preload.
            cwd: the kernels' working directory (the project root).
            kernel_name: the Jupyter kernel the stages run in (a stage may name
                another, see :meth:`kernel`); it is forked only when its kernelspec
                runs this interpreter's ``ipykernel_launcher``.
            start_timeout: seconds a kernel may take to start.
            fork: force forking on or off; None reads ``MLOPS_NB_FORK`` (default on).
            preload: the modules the server imports (see
                :func:`~mlops_nb.pipeline.kernels.preload.preload_modules`); None reads
                ``MLOPS_NB_PRELOAD`` or derives them from the templates.
            log_path: the fork server's log.

        Returns:
            The pool; it never raises for a fork server that cannot start, it falls
            back to ordinary kernels.

        Raises:
            RunError: neither the kernel nor Jupyter's default kernel is installed
                (the message names the ``ipykernel install`` command).
        """
        notebooks = list(notebooks)
        template = notebooks[0] if notebooks else None
        unforked = cls(kernel_name, start_timeout)
        chosen, _ = unforked.choose(kernel_name, template)
        other = interpreter_problem(find_kernel(chosen, template).argv)
        if other is not None:
            unforked.fork_off_reason = f"kernel {chosen!r} is not forked: {other}"
            return unforked
        if not fork_wanted(fork):
            unforked.fork_off_reason = "forking is off"
            return unforked
        try:
            # the first stage waits only for its own imports; the rest follow while it runs
            first = preload_modules(notebooks[:1], cwd, preload)
            rest = [m for m in preload_modules(notebooks, cwd, preload) if m not in first]
            server = ForkServer.start(first, later=rest, cwd=cwd, log_path=log_path)
        except (ForkServerError, OSError) as exc:
            log.warning("kernels start the ordinary way: %s", exc)
            unforked.fork_off_reason = str(exc)
            return unforked
        unforked.server = server
        return unforked

    def manager(
        self,
        stage_dir: Path,
        fork: bool = True,
        environment: Mapping[str, str] | None = None,
        kernel_name: str | None = None,
    ) -> StageKernelManager:
        """A kernel manager for one stage, logging the kernel's output in ``stage_dir``.

        ``environment`` is set for the kernel on top of this process's variables;
        ``kernel_name`` is the stage's kernel (None: the pool's). Whatever the
        kernel, it is forked only if its command runs this interpreter (else the
        provisioner starts it the ordinary way and says why in ``kernel.log``).
        """
        manager = StageKernelManager(kernel_name=kernel_name or self.kernel_name)
        manager.log_path = stage_dir / KERNEL_LOG
        manager.environment = dict(environment or {})
        if fork and self.server is not None and self.server.broken is None:
            manager.fork_server = self.server
            manager.server_timeout = self.start_timeout
        return manager

    def kernel(
        self,
        stage_dir: Path,
        environment: Mapping[str, str] | None = None,
        kernel_name: str | None = None,
        template: str | Path | None = None,
    ) -> StageKernel:
        """The kernel of one stage (started by :meth:`StageKernel.run`).

        ``kernel_name`` is the kernel ``template`` names (None: the pool's); one
        that is not installed is stood in for (see :meth:`choose`).
        """
        return StageKernel(self, stage_dir, environment, kernel_name, template)

    def close(self) -> None:
        """Stop the fork server and any kernel it still runs; safe to call twice."""
        if self.server is not None:
            self.server.close()


class StageKernel:
    """One stage's kernel: started (forked when possible), timed, and always shut down.

    Attributes:
        kernel_name: the kernel started: the one the stage's template names, or
            Jupyter's default kernel standing in for one that is not installed.
        stand_in: why another kernel than the template's was started (None: it was not).
        kernel_seconds: time from asking for a kernel until it answered (retries included).
        execute_seconds: time from then until the notebook's execution returned.
        started: whether a kernel was launched at all.
        forked: whether the kernel that ran the stage was forked.
        retried: whether a forked kernel failed to start and an ordinary one was used.
        cell: the cell running when the kernel stopped answering: ``count`` (its
            ``In [n]``), ``index`` and ``source``; None when no cell was running.
        exit_status: the kernel's exit status when it died during the stage
            (negative: the signal that killed it).
    """

    def __init__(
        self,
        pool: KernelPool,
        stage_dir: Path,
        environment: Mapping[str, str] | None = None,
        kernel_name: str | None = None,
        template: str | Path | None = None,
    ) -> None:
        self.pool = pool
        self.stage_dir = stage_dir
        self.environment = dict(environment or {})
        self.kernel_name, self.stand_in = pool.choose(kernel_name or pool.kernel_name, template)
        self.kernel_seconds: float | None = None
        self.execute_seconds: float | None = None
        self.started = False
        self.forked = False
        self.retried = False
        self.cell: dict[str, Any] | None = None
        self.exit_status: int | None = None
        self._executed = 0
        self._ready: float | None = None

    def timing(self) -> dict[str, Any]:
        """The entries the run record keeps for the stage.

        ``kernel`` says how its kernel started: ``forked``, ``ordinary``, or
        ``ordinary (retry)`` after a forked kernel failed to start.
        """
        how = "forked" if self.forked else "ordinary (retry)" if self.retried else "ordinary"
        return {
            "kernel_seconds": self.kernel_seconds,
            "execute_seconds": self.execute_seconds,
            "kernel": how if self.started else None,
        }

    def run(self, execute: Execute) -> None:
        """Start a kernel, call ``execute(km, start_timeout, hooks)``, and shut the kernel down.

        ``execute`` runs the notebook (papermill) with the kernel manager ``km``,
        the start timeout to use and ``hooks``, the notebook client's hooks that
        time the kernel's start and follow the running cell. A forked kernel that
        fails before it was ready is retried once as an ordinary kernel.
        """
        started = time.perf_counter()
        km = self.pool.manager(
            self.stage_dir, environment=self.environment, kernel_name=self.kernel_name
        )
        if self.stand_in is not None:
            note(km.log_path, self.stand_in)
        interrupted = False
        try:
            try:
                execute(km, self._start_timeout(km), self._hooks())
            except Exception as exc:
                if self._ready is not None or km.fork_server is None or km.provisioner is None:
                    raise
                self._note_retry(km, exc)
                self._shutdown(km)
                self.retried = True
                km = self.pool.manager(
                    self.stage_dir,
                    fork=False,
                    environment=self.environment,
                    kernel_name=self.kernel_name,
                )
                execute(km, self.pool.start_timeout, self._hooks())
        except KeyboardInterrupt:
            interrupted = True
            raise
        except Exception:
            self.exit_status = _exit_status(km)
            raise
        finally:
            ended = time.perf_counter()
            self.started = km.provisioner is not None
            self.forked = km.forked
            ready = self._ready if self._ready is not None else ended
            self.kernel_seconds = round(ready - started, 3)
            self.execute_seconds = round(ended - ready, 3) if self._ready is not None else None
            self._shutdown(km, now=interrupted)

    def describe_death(self) -> str | None:
        """Where and how the kernel died, for the failure message (None if it did not)."""
        parts = []
        if self.cell is not None:
            first = next((ln for ln in self.cell["source"].splitlines() if ln.strip()), "")
            parts.append(f"while running cell In [{self.cell['count']}] ({first.strip()[:70]})")
        if self.exit_status is not None and self.exit_status < 0:
            try:
                name = signal.Signals(-self.exit_status).name
            except ValueError:
                name = f"signal {-self.exit_status}"
            hint = " (out of memory?)" if name == "SIGKILL" else ""
            parts.append(f"killed by {name}{hint}")
        elif self.exit_status is not None:
            parts.append(f"exit status {self.exit_status}")
        return "the kernel died " + ", ".join(parts) if parts else None

    # -- internals

    def _start_timeout(self, km: StageKernelManager) -> float:
        if km.fork_server is None:
            return self.pool.start_timeout
        return min(self.pool.start_timeout, FORK_START_TIMEOUT)

    def _hooks(self) -> dict[str, Any]:
        self._ready = None
        self.cell = None
        self._executed = 0

        def on_notebook_start(**_: Any) -> None:
            self._ready = time.perf_counter()

        def on_cell_execute(cell: Any, cell_index: int, **_: Any) -> None:
            self._executed += 1
            self.cell = {"index": cell_index, "count": self._executed, "source": cell.source}

        def on_cell_executed(**_: Any) -> None:  # the kernel replied
            self.cell = None

        return {
            "on_notebook_start": on_notebook_start,
            "on_cell_execute": on_cell_execute,
            "on_cell_executed": on_cell_executed,
        }

    def _note_retry(self, km: StageKernelManager, exc: Exception) -> None:
        how = "forked kernel" if km.forked else "kernel"
        note(
            km.log_path,
            f"the {how} did not start ({type(exc).__name__}: {exc}); "
            "retrying once with an ordinary kernel",
        )
        log.warning("stage kernel in %s did not start (%s); retrying", self.stage_dir, exc)

    def _shutdown(self, km: StageKernelManager, now: bool = False) -> None:
        """Stop the kernel and free the manager's and clients' sockets and connection file."""
        for client in km.clients:  # papermill leaves the clients of a manager it was given
            with contextlib.suppress(Exception):
                client.stop_channels()
        km.clients.clear()
        if km.provisioner is None:
            return  # never started
        try:
            if now:
                _kill_now(km)
            elif run_sync(km.is_alive)():
                run_sync(km.shutdown_kernel)(now=False)
            else:  # died, or never came up: reap it and free what is left
                if km.has_kernel:
                    run_sync(km.provisioner.wait)()
                run_sync(km.cleanup_resources)()
        except Exception:
            log.warning("could not shut the kernel in %s down cleanly", self.stage_dir)
            with contextlib.suppress(Exception):
                _kill_now(km)


def _exit_status(km: StageKernelManager) -> int | None:
    """The exit status of ``km``'s kernel if it has exited, else None."""
    provisioner = km.provisioner
    if provisioner is None or not provisioner.has_process:
        return None
    if isinstance(provisioner, ForkProvisioner) and provisioner.forked_pid is not None:
        return provisioner.forked_status(provisioner.forked_pid)
    process = getattr(provisioner, "process", None)
    return process.poll() if process is not None else None


def _kill_now(km: StageKernelManager) -> None:
    """Kill the kernel without the event loop (which a Ctrl-C may have left mid-task)."""
    provisioner = km.provisioner
    if isinstance(provisioner, ForkProvisioner) and provisioner.forked_pid is not None:
        pid = provisioner.forked_pid
        signal_forked(provisioner.server, pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while provisioner.forked_status(pid) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if provisioner.server is not None:
            provisioner.server.forget(pid)
        provisioner.forked_pid = None
    else:
        process = getattr(provisioner, "process", None)
        if process is not None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                process.kill()
            process.wait()
            provisioner.process = None  # type: ignore[union-attr]
    km.cleanup_connection_file()


def stage_kernel_manager(kernel_name: str, stage_dir: Path) -> StageKernelManager:
    """A kernel manager for one stage (an ordinary kernel), logging its stderr in ``stage_dir``."""
    return KernelPool(kernel_name).manager(stage_dir, fork=False)


__all__ = ["FORK_START_TIMEOUT", "KernelPool", "StageKernel", "stage_kernel_manager"]
