"""Score in a model worker process, so HTTP handling and scoring use separate CPU cores.

Python runs one thread at a time, and a scikit-learn pipeline spends most of a
small call in Python code: in the server's own process, scoring and HTTP
handling would take turns on one core. :class:`ModelProcess` starts
``python -m mlops_nb.serving.worker`` (see ``main``), which loads the model
itself through the verified loading of the registry or of a bundle (no pickle,
not even to start it), and talks to it over its stdin/stdout in the messages
of ``protocol``.

A worker that dies while scoring (killed, out of memory) fails what it was
scoring with :class:`ModelWorkerError` (the batcher then scores the requests
of a batch again one at a time, so only one that kills the worker itself
fails), which the server answers with 503 and ``Retry-After``; a new worker
is started at once on a thread of its own, and requests that arrive
meanwhile wait for it (at most :data:`START_TIMEOUT` seconds) instead of
failing.

Workers that keep dying (or cannot start) are restarted with a back-off: the
first :data:`IMMEDIATE_RESTARTS` restarts in a row are immediate, then each
further failure doubles the wait, from :data:`RESTART_BACKOFF` up to
:data:`MAX_RESTART_BACKOFF` seconds, and requests that arrive during the wait
fail at once with :class:`ModelWorkerError` (503) instead of each trying a
start under the lock. One answer from a worker ends the series.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np

from mlops_nb.errors import ModelWorkerError, ServingError
from mlops_nb.serving.scoring import Scores
from mlops_nb.serving.worker.protocol import WORKER_MODULE, read_message, write_message
from mlops_nb.validation.fast import Checked

__all__ = [
    "IMMEDIATE_RESTARTS",
    "MAX_RESTART_BACKOFF",
    "RESTART_BACKOFF",
    "START_TIMEOUT",
    "ModelProcess",
]

logger = logging.getLogger("mlops_nb.serving.worker")

START_TIMEOUT = 120.0
"""Seconds the worker may take to load its model and say it is ready."""
IMMEDIATE_RESTARTS = 2
"""Failures in a row after which the worker is restarted at once.

Two, because a poison request (one that kills the worker) costs two deaths in
a row: its batch, then itself scored alone (see ``http.batching``); the
requests of its batch scored after it must still find a worker starting."""
RESTART_BACKOFF = 0.25
"""Seconds before the first delayed restart of a failing worker (doubled each time after)."""
MAX_RESTART_BACKOFF = 5.0
"""The longest wait before restarting a worker that keeps failing."""


class ModelProcess:
    """A worker process scoring for one model; call :meth:`score` from one thread at a time.

    Args:
        source: The worker's arguments saying where the model is:
            ``["--root", R, "--outputs", O, "--model", "NAME:VERSION"]`` or
            ``["--bundle", PATH]``.
        label: How messages name the model.
        environment: Variables set for the worker on top of this process's
            (the store and artifact URLs travel here, never on the command
            line, where other users of the machine could read a password).
    """

    def __init__(
        self, source: list[str], label: str, environment: dict[str, str] | None = None
    ) -> None:
        self.source, self.label = source, label
        self.environment = dict(environment or {})
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._failures = 0  # deaths and failed starts since the last answer
        self._not_before = 0.0  # time.monotonic() before which no start is tried
        self.starts = 0  # workers started (and ready); restarts are the starts after the first

    @property
    def pid(self) -> int | None:
        """The worker's process id (None while none runs)."""
        process = self._process
        return None if process is None else process.pid

    def start(self) -> None:
        """Start the worker and wait until it has loaded the model.

        Raises:
            ModelWorkerError: The worker could not load the model or did not answer.
        """
        command = [sys.executable, "-m", WORKER_MODULE, *self.source]
        env = {**os.environ, **self.environment}
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        ready = self._first_message(process)
        if not ready or not ready.get("ready"):
            process.kill()
            process.wait()
            reason = (ready or {}).get("error", "it exited; see its output above")
            raise ModelWorkerError(f"the model worker for {self.label} did not start: {reason}")
        self._process = process
        self.starts += 1

    @property
    def restarts(self) -> int:
        """How many workers were started again after the first (one died, or was stopped)."""
        return max(self.starts - 1, 0)

    @staticmethod
    def _first_message(process: subprocess.Popen[bytes]) -> dict[str, Any] | None:
        box: list[dict[str, Any] | None] = [None]

        def read() -> None:
            box[0] = read_message(process.stdout) if process.stdout else None

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(START_TIMEOUT)
        return box[0]

    def score(self, checked: Checked) -> Scores:
        """Score ``checked`` in the worker (started again first if it has died).

        Raises:
            ModelWorkerError: The worker exited while scoring, or cannot start.
            ServingError: The model failed on these inputs.
        """
        with self._lock:
            if self._closed:
                raise ModelWorkerError(f"the model worker for {self.label} has been stopped.")
            if self._process is None or self._process.poll() is not None:
                self._discard()
                self._start_unless_backing_off()
            answer = self._ask({"values": checked.values, "rows": checked.rows})
            self._failures = 0
        if "error" in answer:
            raise ServingError(f"the model worker failed: {answer['error']}")
        probs = answer["probabilities"]
        return Scores(
            np.asarray(answer["predictions"]),
            None if probs is None else np.asarray(probs, dtype=float),
        )

    def _start_unless_backing_off(self) -> None:
        """Start the worker (under the lock), unless the back-off after failures still runs."""
        wait = self._not_before - time.monotonic()
        if wait > 0:
            raise ModelWorkerError(
                f"the model worker for {self.label} keeps failing ({self._failures} times in a "
                f"row); the next start is in {wait:.1f} s."
            )
        try:
            self.start()
        except ModelWorkerError:
            self._failed()
            raise

    def _failed(self) -> None:
        """Count one more failure in a row, and when the next start may be tried."""
        self._failures += 1
        steps = self._failures - 1 - IMMEDIATE_RESTARTS
        delay = 0.0 if steps < 0 else min(MAX_RESTART_BACKOFF, RESTART_BACKOFF * 2**steps)
        self._not_before = time.monotonic() + delay

    def _ask(self, message: dict[str, Any]) -> dict[str, Any]:
        process = self._process
        answer = None
        if process is not None and process.stdin and process.stdout:
            try:
                write_message(process.stdin, message)
                answer = read_message(process.stdout)
            except OSError:
                answer = None
        if answer is None:
            code = process.poll() if process is not None else None
            self._discard()
            self._failed()
            self._restart_soon()
            raise ModelWorkerError(
                f"the model worker for {self.label} exited while scoring"
                + (f" (exit status {code})" if code is not None else "")
                + "; a new one is starting."
            )
        return answer

    def _restart_soon(self) -> None:
        """Start a new worker on a thread, after the back-off (score() waits on the lock)."""

        def restart() -> None:
            while True:
                with self._lock:
                    if self._closed or self._process is not None:
                        return
                    wait = self._not_before - time.monotonic()
                    if wait <= 0:
                        try:
                            self._start_unless_backing_off()
                        except ServingError:
                            logger.exception(
                                "could not restart the model worker for %s", self.label
                            )
                        return
                time.sleep(wait)

        threading.Thread(target=restart, name="model-worker-restart", daemon=True).start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker for good: end of its input, then kill it after ``timeout`` s."""
        self._closed = True
        with self._lock:
            self._discard(timeout)

    def _discard(self, timeout: float = 10.0) -> None:
        """Stop the current worker process, if any (it may be started again)."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            if process.stdin:
                process.stdin.close()
            process.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        finally:
            if process.stdout:
                process.stdout.close()
