"""The default executor: every stage in a fresh kernel on this machine, ``jobs`` at once.

Kernels come from a :class:`~mlops_nb.pipeline.kernels.pool.KernelPool`, opened
when a run first has to execute a stage: it forks them from a warm server where
it can (see :mod:`mlops_nb.pipeline.kernels`). With one slot a stage executes in
the caller's thread, so Ctrl-C reaches papermill where it runs; with more, each
stage executes in a thread of its own, and :meth:`LocalExecutor.interrupt` stops
the fork server, which kills the kernels, so the running stages end at once.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_nb.pipeline.executors import StageResult, StageTask
from mlops_nb.pipeline.kernels.logs import FORK_SERVER_LOG
from mlops_nb.pipeline.stage_report import warm_up

if TYPE_CHECKING:
    from mlops_nb.pipeline.kernels.pool import KernelPool


class LocalExecutor:
    """Executes stages with papermill in kernels of this machine (see the module's documentation).

    Args:
        jobs: how many stages may run at once.
        fork: fork kernels from a fork server (None: ``MLOPS_NB_FORK``, on by default).
        preload: what the fork server imports (None: ``MLOPS_NB_PRELOAD`` or the
            templates' imports; see :func:`~mlops_nb.pipeline.kernels.preload.preload_modules`).
    """

    def __init__(
        self, jobs: int = 1, *, fork: bool | None = None, preload: Sequence[str] | None = None
    ) -> None:
        self.jobs = jobs
        self.fork = fork
        self.preload = preload
        self._pool: KernelPool | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._interrupted = False
        self._lock = threading.Lock()

    @property
    def slots(self) -> int:
        return self.jobs

    def prepare(self, tasks: Sequence[StageTask]) -> None:
        """Open the run's kernel pool (its fork server preloads the templates' imports)."""
        if tasks:
            self._open(tasks)

    def _open(self, tasks: Sequence[StageTask]) -> KernelPool:
        # jupyter_client and papermill are imported only now: a run whose stages are
        # all cached never pays for them
        from mlops_nb.pipeline.executors.execution import import_papermill, skip_iri_grammars
        from mlops_nb.pipeline.kernels.pool import KernelPool

        with self._lock:
            self._interrupted = False
            if self._pool is not None:
                return self._pool
            first = tasks[0]
            skip_iri_grammars()
            warm_up()  # nbconvert's import overlaps the first stage
            pool = self._pool = KernelPool.open(
                [Path(task.notebook) for task in tasks],
                cwd=Path(first.cwd),
                kernel_name=first.kernel_name,
                start_timeout=first.start_timeout,
                fork=self.fork,
                preload=self.preload,
                log_path=Path(first.run_dir) / FORK_SERVER_LOG,
            )
        import_papermill()  # while the fork server preloads
        return pool

    def submit(self, task: StageTask) -> Future[StageResult]:
        """Execute ``task``: at once in this thread with one slot, else in a thread of its own."""
        if self.jobs > 1:
            with self._lock:
                if self._threads is None:
                    self._threads = ThreadPoolExecutor(self.jobs, thread_name_prefix="stage")
                threads = self._threads
            return threads.submit(self._execute, task)
        future: Future[StageResult] = Future()
        try:
            future.set_result(self._execute(task))
        except BaseException as exc:  # the runner records it (KeyboardInterrupt too), then raises
            future.set_exception(exc)
        return future

    def interrupt(self) -> None:
        """Stop the fork server, and with it every kernel it forked; start no other stage."""
        with self._lock:
            self._interrupted = True
        self._close_pool()

    def close(self) -> None:
        """Stop the fork server and the threads; a later :meth:`prepare` opens new ones."""
        self._close_pool()
        with self._lock:
            threads, self._threads = self._threads, None
        if threads is not None:
            threads.shutdown(wait=True)

    def _execute(self, task: StageTask) -> StageResult:
        from mlops_nb.pipeline.executors.execution import execute_task

        with self._lock:
            pool, interrupted = self._pool, self._interrupted
        if interrupted:
            return StageResult(task.stage, interrupted=True, worker=socket.gethostname())
        return execute_task(task, pool if pool is not None else self._open([task]))

    def _close_pool(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()  # the fork server and any kernel left


__all__ = ["LocalExecutor"]
