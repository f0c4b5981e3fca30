"""Starting and stopping servers: model references, tokens, binding, limits, errors, the log."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mlops_nb.errors import ModelNotFoundError, ServingError
from mlops_nb.serving import ServerHandle, read_inference_log, start_server
from mlops_nb.serving.http.server import check_bind, is_loopback

from .conftest import ServingProject

TOKEN = "s3cret-token-for-tests"


def quick(project: ServingProject, ref: str = "churn@production", **options: Any) -> ServerHandle:
    """A server scoring on a thread (starts in a fraction of a second)."""
    options.setdefault("model_process", False)
    options.setdefault("log_predictions", False)
    return start_server(ref, project.settings, **options)


@pytest.mark.parametrize(
    ("ref", "version"), [("churn@production", 1), ("churn:1", 1), ("churn:2", 2), ("churn", 2)]
)
def test_model_references(serving_project, ref, version):
    with quick(serving_project, ref) as server:
        assert httpx.get(f"{server.url}/health").json()["version"] == version
        answer = httpx.post(f"{server.url}/predict", json={"records": serving_project.records[:2]})
        assert answer.json()["version"] == version
        assert server.url.startswith("http://127.0.0.1:") and server.port > 0
    assert not server.running


@pytest.mark.parametrize(
    ("ref", "words"),
    [("nosuch@production", "nosuch"), ("churn@staging", "staging"), ("churn:9", "9")],
)
def test_unknown_models_fail_at_startup_with_a_clear_error(serving_project, ref, words):
    with pytest.raises(ModelNotFoundError, match=words):
        quick(serving_project, ref)


@pytest.fixture(scope="module")
def guarded(serving_project: ServingProject) -> Iterator[ServerHandle]:
    with quick(serving_project, token=TOKEN) as server:
        yield server


@pytest.mark.parametrize("path", ["/metadata", "/openapi.json", "/docs"])
@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", "Bearer", TOKEN])
def test_token_missing_or_wrong_is_401(guarded, path, header):
    headers = {"Authorization": header} if header else {}
    response = httpx.get(f"{guarded.url}{path}", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "token" in response.json()["detail"]


def test_token_right_and_health_open(guarded, serving_project):
    assert httpx.get(f"{guarded.url}/health").status_code == 200
    records = {"records": serving_project.records[:1]}
    assert httpx.post(f"{guarded.url}/predict", json=records).status_code == 401
    good = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.post(f"{guarded.url}/predict", json=records, headers=good).status_code == 200
    assert httpx.get(f"{guarded.url}/metadata", headers=good).status_code == 200


def test_token_from_the_environment(serving_project, monkeypatch):
    monkeypatch.setenv("MLOPS_NB_TOKEN", TOKEN)
    with quick(serving_project) as server:
        assert httpx.get(f"{server.url}/metadata").status_code == 401
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.get(f"{server.url}/metadata", headers=headers).status_code == 200


@pytest.mark.parametrize("host", ["127.0.0.1", "127.5.5.5", "localhost", "::1", "[::1]"])
def test_loopback_hosts(host):
    assert is_loopback(host)
    check_bind(host, None, False)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_other_hosts_need_a_token_or_force(host):
    assert not is_loopback(host)
    with pytest.raises(ServingError, match="MLOPS_NB_TOKEN"):
        check_bind(host, None, False)
    check_bind(host, TOKEN, False)
    check_bind(host, None, True)


def test_start_server_refuses_an_open_non_loopback_host(serving_project, monkeypatch):
    monkeypatch.delenv("MLOPS_NB_TOKEN", raising=False)
    with pytest.raises(ServingError, match=r"refusing to serve on '0\.0\.0\.0'"):
        quick(serving_project, host="0.0.0.0")


def test_port_in_use(serving_project):
    with (
        socket.create_server(("127.0.0.1", 0)) as taken,
        pytest.raises(ServingError, match="cannot listen"),
    ):
        quick(serving_project, port=taken.getsockname()[1])


@pytest.mark.parametrize("option", [{"max_rows": 0}, {"max_body_bytes": -1}, {"max_rows": 1.5}])
def test_bad_limits(serving_project, option):
    with pytest.raises(ServingError, match="at least 1"):
        quick(serving_project, **option)


@pytest.fixture(scope="module")
def small(serving_project: ServingProject) -> Iterator[ServerHandle]:
    with quick(serving_project, max_body_bytes=4096, max_rows=3) as server:
        yield server


def test_body_over_the_limit_by_content_length(small, serving_project):
    body = {"records": serving_project.records[:30]}
    response = httpx.post(f"{small.url}/predict", json=body)
    assert response.status_code == 413 and "4,096 bytes" in response.json()["detail"]


def test_body_over_the_limit_without_content_length(small):
    def chunks() -> Iterator[bytes]:
        yield b'{"records": ['
        for _ in range(20):
            yield b'{"age": 30, "padding": "' + b"x" * 500 + b'"},'
        yield b"{}]}"

    response = httpx.post(f"{small.url}/predict", content=chunks())
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


def test_content_length_that_lies_does_not_get_past_the_limit(small, serving_project):
    body = b'{"records": [' + b'{"x": 1},' * 2000 + b"{}]}"
    head = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    with socket.create_connection(("127.0.0.1", small.port), timeout=10) as raw:
        raw.sendall(head + body)
        answer = raw.recv(65536).split(b"\r\n", 1)[0]
    assert answer.startswith(b"HTTP/1.1 400")
    assert httpx.get(f"{small.url}/health").status_code == 200


def test_too_many_records(small, serving_project):
    # 4,096 bytes hold two records of the largest size the schema admits: maxItems is 2
    assert (
        small.app.openapi()["components"]["schemas"]["PredictRequest"]["properties"]["records"][
            "maxItems"
        ]
        == 2
    )
    response = httpx.post(f"{small.url}/predict", json={"records": serving_project.records[:3]})
    assert response.status_code == 422 and "limit of 2" in response.json()["detail"]


def test_internal_errors_are_generic(serving_project, caplog):
    with quick(serving_project) as server:
        scorer = server.app.state.serving.scorer

        def broken(frame: Any) -> Any:
            raise RuntimeError("secret detail of the failure")

        scorer.compiled = None  # scored by scikit-learn, through predict
        scorer.predict = broken
        response = httpx.post(
            f"{server.url}/predict", json={"records": serving_project.records[:1]}
        )
    assert response.status_code == 500
    assert response.json()["detail"].startswith("internal server error (reference ")
    assert "secret" not in response.text and "Traceback" not in response.text
    assert "secret detail of the failure" in caplog.text


def test_stop_flushes_the_inference_log(serving_project):
    before = time.time()
    server = quick(serving_project, "churn:2", log_predictions=True)
    ids = [
        httpx.post(f"{server.url}/predict", json={"records": serving_project.records[:2]}).json()[
            "request_id"
        ]
        for _ in range(30)
    ]
    server.stop()
    log = read_inference_log(serving_project.settings, "churn", since=before)
    assert set(ids) <= set(log["request_id"])
    assert (log[log["request_id"].isin(ids)]["version"] == 2).all()
    server.stop()  # a second stop changes nothing


def test_reading_a_log_that_does_not_exist(tmp_path):
    with pytest.raises(ServingError, match="no inference log"):
        read_inference_log(tmp_path, "churn")


def test_serving_a_deployment_bundle(serving_project, tmp_path, monkeypatch):
    from mlops_nb.registry import Registry
    from mlops_nb.serving.bundle import build_bundle

    with Registry.from_settings(serving_project.settings) as registry:
        bundle = build_bundle(registry, "churn@production", tmp_path / "bundle")
    monkeypatch.setenv("MLOPS_NB_OUTPUTS", str(tmp_path / "outputs"))
    model_dir = str(bundle.path / "model")
    with start_server(model_dir, None, bundle=True, model_process=False) as server:
        assert httpx.get(f"{server.url}/health").json()["version"] == 1
        body = {"records": serving_project.records[:2]}
        assert httpx.post(f"{server.url}/predict", json=body).status_code == 200
    log = read_inference_log(tmp_path / "outputs" / "inference", "churn")
    assert log["version"].tolist() == [1, 1]
