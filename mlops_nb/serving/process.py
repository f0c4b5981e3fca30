"""Score in a model worker process, so HTTP handling and scoring use separate CPU cores.

Python runs one thread at a time, and a scikit-learn pipeline spends most of a
small call in Python code: in the server's own process, scoring and HTTP
handling would take turns on one core. :class:`ModelProcess` starts
``python -m mlops_nb.serving.worker`` (see ``worker``), which loads the model
itself through the verified loading of the registry or of a bundle (no pickle,
not even to start it), and talks to it over its stdin/stdout. Each message is
4 bytes of length (big-endian), then JSON::

    -> {"values": {column: [value or null, ...]}, "rows": n}
    <- {"predictions": [...], "probabilities": [[...], ...] | null}  or  {"error": "..."}

The worker's first message is ``{"ready": true}`` or ``{"ready": false, "error": ...}``.
A worker that dies is started again on the next request.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import threading
from typing import IO, Any

import numpy as np

from mlops_nb.errors import ServingError
from mlops_nb.serving.checks import Checked
from mlops_nb.serving.scoring import Scores

__all__ = ["ModelProcess", "read_message", "write_message"]

HEADER = struct.Struct(">I")
START_TIMEOUT = 120.0


def write_message(stream: IO[bytes], message: dict[str, Any]) -> None:
    """Write one length-prefixed JSON message and flush."""
    body = json.dumps(message, separators=(",", ":")).encode("ascii")
    stream.write(HEADER.pack(len(body)) + body)
    stream.flush()


def read_message(stream: IO[bytes]) -> dict[str, Any] | None:
    """Read one message, or None at the end of the stream."""
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    size = HEADER.unpack(head)[0]
    body = stream.read(size)
    if len(body) < size:
        return None
    return json.loads(body)


class ModelProcess:
    """A worker process scoring for one model; call :meth:`score` from one thread at a time.

    Args:
        source: The worker's arguments saying where the model is:
            ``["--root", R, "--outputs", O, "--model", "NAME:VERSION"]`` or
            ``["--bundle", PATH]``.
        label: How messages name the model.
    """

    def __init__(self, source: list[str], label: str) -> None:
        self.source, self.label = source, label
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the worker and wait until it has loaded the model.

        Raises:
            ServingError: The worker could not load the model or did not answer.
        """
        command = [sys.executable, "-m", "mlops_nb.serving.worker", *self.source]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        ready = self._first_message(process)
        if not ready or not ready.get("ready"):
            process.kill()
            process.wait()
            reason = (ready or {}).get("error", "it exited; see its output above")
            raise ServingError(f"the model worker for {self.label} did not start: {reason}")
        self._process = process

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
            ServingError: The worker failed or exited while scoring.
        """
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self.close()
                self.start()
            answer = self._ask({"values": checked.values, "rows": checked.rows})
        if "error" in answer:
            raise ServingError(f"the model worker failed: {answer['error']}")
        probs = answer["probabilities"]
        return Scores(
            np.asarray(answer["predictions"]),
            None if probs is None else np.asarray(probs, dtype=float),
        )

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
            self.close()
            raise ServingError(f"the model worker for {self.label} exited while scoring.")
        return answer

    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker: end of its input, then kill it if it has not exited in ``timeout`` s."""
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
