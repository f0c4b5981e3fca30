"""The model worker: started with ``python -m``, without the web stack."""

from __future__ import annotations

import io
import subprocess
import sys
import time

import pytest

from mlops_nb.errors import ModelWorkerError
from mlops_nb.serving.worker import process as worker_process
from mlops_nb.serving.worker.process import IMMEDIATE_RESTARTS, ModelProcess
from mlops_nb.serving.worker.protocol import WORKER_MODULE, read_message
from mlops_nb.validation.fast import Checked

WEB_STACK = ("fastapi", "starlette", "uvicorn", "httpx", "jinja2")


def test_the_worker_program_does_not_import_the_web_stack():
    code = (
        "import sys, mlops_nb.serving.worker.main\n"
        f"print([m for m in {WEB_STACK!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_python_m_starts_the_worker_which_reports_a_model_it_cannot_load(tmp_path):
    assert WORKER_MODULE == "mlops_nb.serving.worker"
    done = subprocess.run(
        [sys.executable, "-m", WORKER_MODULE, "--bundle", str(tmp_path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 1
    message = read_message(io.BytesIO(done.stdout))
    assert message is not None and message["ready"] is False
    assert message["error"].startswith("ServingError: ") and "neither a bundle" in message["error"]


def test_a_worker_that_cannot_start_is_retried_with_a_back_off(monkeypatch):
    """After the immediate restarts, requests fail at once instead of each trying a start."""
    starts: list[float] = []

    def cannot_start(self: ModelProcess) -> None:
        starts.append(time.monotonic())
        raise ModelWorkerError("the model worker for m:1 did not start: broken")

    monkeypatch.setattr(ModelProcess, "start", cannot_start)
    monkeypatch.setattr(worker_process, "RESTART_BACKOFF", 0.2)
    worker, checked = ModelProcess([], "m:1"), Checked({"x": [1.0]}, 1, [])
    for _ in range(IMMEDIATE_RESTARTS + 1):
        with pytest.raises(ModelWorkerError, match="did not start"):
            worker.score(checked)
    assert len(starts) == IMMEDIATE_RESTARTS + 1  # each of these tried a start
    for _ in range(5):  # the back-off runs: no start, a 503 at once
        with pytest.raises(ModelWorkerError, match=r"keeps failing \(3 times in a row\)"):
            worker.score(checked)
    assert len(starts) == IMMEDIATE_RESTARTS + 1
    time.sleep(0.25)  # the first delay is over: one more start, then twice the wait
    with pytest.raises(ModelWorkerError, match="did not start"):
        worker.score(checked)
    assert 0.4 - 1e-6 <= worker._not_before - starts[-1] < 5  # set after that start failed
    worker.close()
