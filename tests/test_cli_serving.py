"""`mlops-nb serve` and `mlops-nb predict` as a user runs them, against a real registry."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pandas as pd
import pytest

from tests.test_cli import cli
from tests.test_cli_models import project  # noqa: F401 - fixture


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_predict_scores_a_file_and_reports_invalid_rows(project, tmp_path):  # noqa: F811
    pd.DataFrame({"x": [0.5, 2.5, None]}).to_csv(tmp_path / "in.csv", index=False)
    done = cli(
        "predict",
        "toy@production",
        str(tmp_path / "in.csv"),
        str(tmp_path / "out.csv"),
        cwd=project.root,
    )
    assert done.returncode == 0, done.stderr
    scored = pd.read_csv(tmp_path / "out.csv")
    assert list(scored["prediction"]) == [0, 1]
    assert "1 invalid rows" in done.stdout


def test_serve_answers_valid_and_refuses_invalid_requests(project):  # noqa: F811
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlops_nb", "serve", "toy@production", "--port", str(port)],
        cwd=project.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail(f"server never answered: {server.stderr.read() if server.poll() else ''}")
        good = httpx.post(f"{url}/predict", json={"records": [{"x": 2.5}]}, timeout=10)
        assert good.status_code == 200 and good.json()["predictions"] == [1]
        assert good.json()["version"] == 1
        bad = httpx.post(f"{url}/predict", json={"records": [{"x": 1.0, "y": 3}]}, timeout=10)
        assert bad.status_code == 422
        assert any(e["column"] == "y" and e["row"] == 0 for e in bad.json()["errors"])
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [([], None, 100), (["--max-text-chars", "5000"], None, 5000), ([], "7000", 7000)],
)
def test_serve_takes_max_text_chars_from_the_option_or_the_environment(
    args, env, expected, monkeypatch, tmp_path
):
    """How a free-text model's server (a bundle's container too) raises the text cap."""
    from typer.testing import CliRunner

    import mlops_nb.serving
    from mlops_nb.cli import app
    from mlops_nb.serving import MAX_TEXT_CHARS
    from mlops_nb.serving.options import MAX_TEXT_CHARS_ENV

    seen: dict[str, object] = {}
    monkeypatch.setattr(mlops_nb.serving, "serve", lambda *a, **kw: seen.update(kw))
    monkeypatch.delenv(MAX_TEXT_CHARS_ENV, raising=False)
    variables = {} if env is None else {MAX_TEXT_CHARS_ENV: env}
    done = CliRunner().invoke(app, ["serve", "--model-dir", str(tmp_path), *args], env=variables)
    assert done.exit_code == 0, done.output
    assert seen["max_text_chars"] == expected and MAX_TEXT_CHARS == 100
