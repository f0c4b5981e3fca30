"""Serving under fire: a worker killed mid-request, a poison request in a batch, a slow client,
SIGTERM with requests in flight.

No assertion is on speed, and no step waits a guessed time: each waits for a
real event (a message written to the worker's pipe, a request counted by the
batcher, the listening socket closed), bounded by a generous timeout, and
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
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from mlops_nb.serving import ServerHandle, read_inference_log, start_server
from mlops_nb.serving.worker import process as worker_process

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


class WorkerPipe:
    """Spies on what the server writes to its model worker (``write_message`` in ``process``).

    Attributes:
        messages: Every message written, in order.
        written: Set once a message's bytes are in the worker's pipe.
        then: Called with each message before it is written (e.g. to kill the worker, which
            then never answers it, however fast it scores).
    """

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.written = threading.Event()
        self.then: Callable[[dict[str, Any]], None] | None = None
        self._write = worker_process.write_message

    def __call__(self, stream: Any, message: dict[str, Any]) -> None:
        if self.then is not None:
            self.then(message)
        self.messages.append(message)  # before the write, which fails if the worker is gone
        self._write(stream, message)
        self.written.set()


@pytest.fixture
def pipe(monkeypatch: pytest.MonkeyPatch) -> WorkerPipe:
    spy = WorkerPipe()
    monkeypatch.setattr(worker_process, "write_message", spy)
    return spy


def test_a_worker_killed_mid_request_answers_503_then_a_new_worker_scores(
    server, serving_project, pipe
):
    state = server.app.state.serving
    worker, body = state.worker, {"records": serving_project.records[:5]}
    first, killed = worker.pid, False
    os.kill(first, signal.SIGSTOP)  # the request reaches the worker, which cannot answer
    try:
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(httpx.post, f"{server.url}/predict", json=body, timeout=WAIT)
            assert pipe.written.wait(WAIT), "the request never reached the worker"
            os.kill(first, signal.SIGKILL)  # its bytes are in the pipe: killed mid-request
            killed = True
            response = pending.result(timeout=WAIT)
    finally:
        if not killed:  # never a pid the server may already have reaped (and reused)
            os.kill(first, signal.SIGKILL)
    assert pipe.messages[0]["rows"] == 5
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    detail = response.json()["detail"]
    assert "model worker for churn:1 exited while scoring" in detail and "Retry in" in detail
    again = httpx.post(f"{server.url}/predict", json=body, timeout=WAIT)
    assert again.status_code == 200 and len(again.json()["predictions"]) == 5
    assert worker.pid not in (None, first)


def test_a_poison_request_gets_503_and_the_rest_of_its_batch_200(server, serving_project, pipe):
    """A request that kills the worker fails alone: the others of its batch are scored again."""
    state = server.app.state.serving
    worker, poison = state.worker, f"POISON-{os.urandom(4).hex()}"
    bodies = [{"records": serving_project.records[i : i + 2]} for i in range(3)]
    bodies[1] = {"records": [{**serving_project.records[0], "customer_id": poison}]}

    def kill_on_poison(message: dict[str, Any]) -> None:
        if poison in message["values"]["customer_id"]:  # as if the model crashed on it
            os.kill(worker.pid, signal.SIGKILL)

    blocker, resumed = worker.pid, False
    os.kill(blocker, signal.SIGSTOP)  # a first request holds the worker while a batch gathers
    try:
        with ThreadPoolExecutor(4) as pool:
            held = pool.submit(_post, f"{server.url}/predict", bodies[0])
            assert pipe.written.wait(WAIT), "the first request never reached the worker"
            futures = [pool.submit(_post, f"{server.url}/predict", body) for body in bodies]
            wait_for(lambda: len(state.batcher._waiting) == 3, "the batch to gather")
            pipe.then = kill_on_poison
            os.kill(blocker, signal.SIGCONT)
            resumed = True
            assert held.result(timeout=WAIT).status_code == 200
            answers = [future.result(timeout=2 * WAIT) for future in futures]
    finally:
        if not resumed:
            os.kill(blocker, signal.SIGCONT)
    rows = [message["rows"] for message in pipe.messages]
    assert rows[:2] == [2, 5] and sorted(rows[2:]) == [1, 2, 2], (rows, _texts(answers))
    assert [answer.status_code for answer in answers] == [200, 503, 200], _texts(answers)
    assert "exited while scoring" in answers[1].json()["detail"]
    assert [len(answers[i].json()["predictions"]) for i in (0, 2)] == [2, 2]
    again = httpx.post(f"{server.url}/predict", json=bodies[0], timeout=WAIT)
    assert again.status_code == 200  # the worker runs again


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
from mlops_nb.serving.http.batching import MicroBatcher

root, outputs, arrivals = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
score = MicroBatcher.score

async def counted(self, checked):  # a line per request read, checked and handed to the batcher
    with arrivals.open("a") as out:
        out.write("1\\n")
    return await score(self, checked)

MicroBatcher.score = counted
serve("churn@production", Settings(root, outputs), port=0, log_level="warning")
"""


def _listening(process: Any) -> list[int]:
    """The ports ``process`` (a ``psutil.Process``) listens on."""
    return [
        connection.laddr.port
        for connection in process.net_connections(kind="tcp")
        if connection.status == "LISTEN"
    ]


def _worker_of(process: Any) -> list[int]:
    """The pids of ``process``'s children that run the model worker."""
    found = []
    for child in process.children():
        try:
            if "mlops_nb.serving.worker" in child.cmdline():
                found.append(child.pid)
        except Exception:  # psutil.NoSuchProcess and the like: it is gone, not a worker
            continue
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="reads the server's sockets from /proc")
def test_sigterm_answers_every_request_in_flight_and_logs_exactly_them(serving_project, tmp_path):
    psutil = pytest.importorskip("psutil")
    settings, requests = serving_project.settings, 12
    script, arrivals = tmp_path / "server.py", tmp_path / "arrivals"
    script.write_text(textwrap.dedent(SERVER))
    arrivals.touch()
    before = time.time()  # the log's rows from now on are this test's alone
    process = subprocess.Popen(
        [sys.executable, str(script), str(settings.root), str(settings.outputs), str(arrivals)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = psutil.Process(process.pid)
    try:
        # port 0: the server binds a free port itself; read it back from its socket
        wait_for(lambda: _listening(server) or process.poll() is not None, "the server to bind")
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        (port,) = _listening(server)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _healthy(url) or process.poll() is not None, "the server to start")
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        wait_for(lambda: len(_worker_of(server)) == 1, "the model worker to run")
        (worker,) = _worker_of(server)
        os.kill(worker, signal.SIGSTOP)  # requests pile up in flight
        bodies = [{"records": serving_project.records[i : i + 2]} for i in range(requests)]
        with ThreadPoolExecutor(requests) as pool:
            futures = [pool.submit(_post, f"{url}/predict", body) for body in bodies]
            wait_for(
                lambda: len(arrivals.read_text().split()) >= requests,
                "every request to reach the batcher",
            )
            process.send_signal(signal.SIGTERM)
            wait_for(lambda: not _listening(server), "the server to stop listening")
            os.kill(worker, signal.SIGCONT)  # only now, while it drains, can they be answered
            answers = [future.result(timeout=WAIT) for future in futures]
        # uvicorn re-raises the signal once drained: the status says SIGTERM ended it
        assert process.wait(WAIT) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    # every request was provably in flight when SIGTERM came: every one is answered
    assert len(arrivals.read_text().split()) == requests
    assert [getattr(a, "status_code", a) for a in answers] == [200] * requests, _texts(answers)
    ids = {answer.json()["request_id"] for answer in answers}
    log = read_inference_log(settings, "churn", since=before)
    assert set(log["request_id"]) == ids and len(log) == 2 * requests  # 2 rows per request


def _texts(answers: list[Any]) -> list[Any]:
    """What each answer says, for an assertion's message."""
    return [getattr(a, "text", a) for a in answers]


def _post(url: str, body: dict[str, Any]) -> httpx.Response | httpx.HTTPError:
    try:
        return httpx.post(url, json=body, timeout=WAIT)
    except httpx.HTTPError as exc:
        return exc


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
