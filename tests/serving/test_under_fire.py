"""Serving under fire: a worker killed mid-request, a slow client, SIGTERM with requests in flight.

No assertion is on speed: every wait is bounded by a generous timeout and
asserts *what* happened (who got an answer, what the log holds).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlops_nb.serving import ServerHandle, read_inference_log, start_server

from .conftest import ServingProject

WAIT = 60.0


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture(scope="module")
def server(serving_project: ServingProject) -> Iterator[ServerHandle]:
    with start_server(
        "churn@production", serving_project.settings, log_predictions=False
    ) as handle:
        yield handle


def test_a_worker_killed_mid_request_answers_503_then_a_new_worker_scores(server, serving_project):
    state = server.app.state.serving
    worker, body = state.worker, {"records": serving_project.records[:5]}
    first = worker.pid
    os.kill(first, signal.SIGSTOP)  # the request reaches the worker, which cannot answer
    try:
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(httpx.post, f"{server.url}/predict", json=body, timeout=WAIT)
            wait_for(lambda: state.batcher.requests >= 1, "the request to reach the worker")
            os.kill(first, signal.SIGKILL)
            response = pending.result(timeout=WAIT)
    finally:
        os.kill(first, signal.SIGKILL) if _alive(first) else None
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    detail = response.json()["detail"]
    assert "model worker for churn:1 exited while scoring" in detail and "Retry in" in detail
    again = httpx.post(f"{server.url}/predict", json=body, timeout=WAIT)
    assert again.status_code == 200 and len(again.json()["predictions"]) == 5
    assert worker.pid not in (None, first)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_slow_client_does_not_hold_up_the_others(server, serving_project):
    body = json.dumps({"records": serving_project.records[:3]}).encode()
    head = (
        f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as slow:
        slow.sendall(head + body[:10])
        sent = 10
        answered = []
        with httpx.Client(base_url=server.url, timeout=WAIT) as client:
            for number in range(20):
                response = client.post("/predict", json={"records": serving_project.records[:2]})
                answered.append(response.status_code)
                if number % 5 == 0:  # the slow client trickles on, one byte at a time
                    slow.sendall(body[sent : sent + 1])
                    sent += 1
        assert answered == [200] * 20
        slow.setblocking(False)
        with pytest.raises(BlockingIOError):  # still open, still unanswered
            slow.recv(1)
        slow.setblocking(True)
        slow.sendall(body[sent:])
        reply = slow.recv(65536)
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]


SERVER = """
import sys
from pathlib import Path
from mlops_nb.config import Settings
from mlops_nb.serving import serve
root, outputs, port = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
serve("churn@production", Settings(root, outputs), port=port, log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="reads the worker's pid from /proc")
def test_sigterm_answers_every_request_in_flight_and_logs_exactly_them(serving_project, tmp_path):
    settings, port, requests = serving_project.settings, _free_port(), 12
    script = tmp_path / "server.py"
    script.write_text(textwrap.dedent(SERVER))
    before = time.time()  # the log's rows from now on are this test's alone
    process = subprocess.Popen(
        [sys.executable, str(script), str(settings.root), str(settings.outputs), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _healthy(url) or process.poll() is not None, "the server to start")
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        (worker,) = _children(process.pid)
        os.kill(worker, signal.SIGSTOP)  # requests pile up in flight
        bodies = [{"records": serving_project.records[i : i + 2]} for i in range(requests)]
        with ThreadPoolExecutor(requests) as pool:
            futures = [pool.submit(_post, f"{url}/predict", body) for body in bodies]
            wait_for(
                lambda: _established(process.pid, port) >= requests,
                "the server to accept every connection",
            )
            time.sleep(0.5)  # let it read the bodies (not an assertion on speed)
            process.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            os.kill(worker, signal.SIGCONT)
            answers = [future.result(timeout=WAIT) for future in futures]
        # uvicorn re-raises the signal once drained: the status says SIGTERM ended it
        assert process.wait(WAIT) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # a connection refused was never accepted; any other failure lost an accepted request
    lost = [a for a in answers if not isinstance(a, httpx.ConnectError) and a.status_code != 200]
    assert not lost, lost
    answered = [a for a in answers if isinstance(a, httpx.Response)]
    assert len(answered) >= requests // 2, answers  # most were in flight, not refused
    ids = {answer.json()["request_id"] for answer in answered}
    log = read_inference_log(settings, "churn", since=before)
    assert set(log["request_id"]) == ids and len(log) == 2 * len(ids)  # 2 rows per request


def _post(url: str, body: dict[str, Any]) -> httpx.Response | httpx.HTTPError:
    try:
        return httpx.post(url, json=body, timeout=WAIT)
    except httpx.HTTPError as exc:
        return exc


def _established(pid: int, port: int) -> int:
    """The server's established connections on ``port``."""
    psutil = pytest.importorskip("psutil")
    return sum(
        1
        for connection in psutil.Process(pid).net_connections(kind="tcp")
        if connection.laddr and connection.laddr.port == port and connection.status == "ESTABLISHED"
    )


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
