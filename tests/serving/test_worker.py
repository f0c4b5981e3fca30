"""The model worker: started with ``python -m``, without the web stack."""

from __future__ import annotations

import io
import subprocess
import sys

from mlops_nb.serving.worker.protocol import WORKER_MODULE, read_message

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
