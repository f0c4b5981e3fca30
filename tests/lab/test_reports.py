"""The report route of the server extension, in a real Jupyter server, and its pieces."""

from __future__ import annotations

import http.client
import json
import logging
import os
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from mlops_nb import lab
from mlops_nb.errors import RunNotFoundError
from mlops_nb.lab.links import DIR_ENV, URL_ENV, report_url
from mlops_nb.lab.reports import RunFileHandler, content_type, resolve_run_file

RUN = "20261123T120000.000000Z-aaaa"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
SECRET = "the project's secret"


def make_project(root: Path) -> Path:
    """A project with one archived run and files outside the runs folder."""
    (root / "pipeline.yaml").parent.mkdir(parents=True, exist_ok=True)
    (root / "pipeline.yaml").write_text("pipelines: {}\n")
    (root / "secret.txt").write_text(SECRET)
    runs = root / "outputs" / "runs"
    run, stage = runs / RUN, runs / RUN / "01_train"
    stage.mkdir(parents=True)
    (runs.parent / "beside.txt").write_text(SECRET)
    (run / "run.json").write_text(json.dumps({"id": RUN, "pipeline": "train"}))
    (run / "index.html").write_text('<a href="01_train/report.html">report</a>')
    (stage / "report.html").write_text("<h1>Stage train</h1>")
    (stage / "plot.png").write_bytes(PNG)
    (stage / "data.parquet").write_bytes(b"PAR1" + b"\0" * 8)
    (stage / "contract.yaml").write_text("columns: {}\n")
    (stage / "executed.ipynb").write_text("{}")
    (run / ".hidden").write_text(SECRET)
    (run / "escape.txt").symlink_to(root / "secret.txt")
    (run / "outside").symlink_to(root, target_is_directory=True)
    return runs


# --- the pieces, without a server -------------------------------------------------------------


def test_run_files_resolve_inside_the_run_folder_only(tmp_path):
    runs = make_project(tmp_path)
    run = runs / RUN
    assert resolve_run_file(runs, RUN, "") == run / "index.html"
    (run / "01_train" / "index.html").write_text("a stage's own index")
    assert resolve_run_file(runs, RUN, "01_train/") == run / "01_train" / "index.html"
    assert resolve_run_file(runs, RUN, "01_train") == run / "01_train" / "index.html"
    assert resolve_run_file(runs, RUN, "01_train/report.html") == run / "01_train" / "report.html"
    for path in (
        "../../secret.txt",
        "01_train/../../../secret.txt",
        "./index.html",
        ".hidden",
        "escape.txt",  # a link to a file outside
        "outside/secret.txt",  # through a linked folder
        "01_train//report.html",
        "01_train\\..\\..\\secret.txt",
        "missing.html",
    ):
        with pytest.raises(RunNotFoundError, match=f"run {RUN} has no file"):
            resolve_run_file(runs, RUN, path)
    for run_id in ("..", ".", "../outputs", ".hidden", "x/y", ""):
        with pytest.raises(RunNotFoundError, match="is not a run id"):
            resolve_run_file(runs, run_id, "index.html")
    with pytest.raises(RunNotFoundError, match=r"no run 20990101 in .*runs list"):
        resolve_run_file(runs, "20990101", "index.html")


def test_content_types_show_reports_images_and_text_inline():
    assert content_type(Path("index.html")) == "text/html; charset=utf-8"
    assert content_type(Path("plot.png")) == "image/png"
    assert content_type(Path("decision.json")) == "application/json; charset=utf-8"
    assert content_type(Path("executed.ipynb")) == "application/json; charset=utf-8"
    assert content_type(Path("contract.yaml")) == "text/plain; charset=utf-8"
    assert content_type(Path("data.parquet")) == "application/octet-stream"
    assert content_type(Path("model.skops")) == "application/octet-stream"
    assert content_type(Path("bundle.tar.gz")) == "application/octet-stream"


def test_report_urls_exist_only_for_the_runs_folder_served(tmp_path):
    runs = make_project(tmp_path)
    served = {URL_ENV: "/user/ana/mlops-nb/runs/", DIR_ENV: str(runs)}
    index = runs / RUN / "index.html"
    assert report_url(index, served) == f"/user/ana/mlops-nb/runs/{RUN}/index.html"
    assert report_url(runs / "a b" / "x.html", served) == "/user/ana/mlops-nb/runs/a%20b/x.html"
    assert report_url(index, {}) is None
    assert report_url(tmp_path / "secret.txt", served) is None
    assert report_url(runs / "top.html", served) is None  # not inside a run
    assert report_url(index, {**served, DIR_ENV: str(tmp_path / "elsewhere")}) is None


def test_loading_the_extension_adds_the_route_and_tells_the_kernels(tmp_path, monkeypatch):
    runs = make_project(tmp_path / "project")
    (tmp_path / "project" / "notebooks").mkdir()
    monkeypatch.delenv("MLOPS_NB_PROJECT", raising=False)
    monkeypatch.delenv("MLOPS_NB_OUTPUTS", raising=False)
    monkeypatch.setenv(URL_ENV, "/stale/")  # recorded, so whatever the extension sets is undone
    monkeypatch.setenv(DIR_ENV, "/stale")
    added = []
    app = SimpleNamespace(
        root_dir=str(tmp_path / "project" / "notebooks"),  # a folder inside the project
        web_app=SimpleNamespace(
            settings={"base_url": "/user/ana/"},
            add_handlers=lambda host, handlers: added.extend(handlers),
        ),
        log=logging.getLogger("test"),
    )
    assert lab._jupyter_server_extension_points() == [{"module": "mlops_nb.lab"}]
    lab._load_jupyter_server_extension(app)
    ((pattern, handler, options),) = added
    assert handler is RunFileHandler
    assert pattern == "/user/ana/mlops-nb/runs/([^/]+)(/.*)?$"
    assert options["runs_dir"] == runs.resolve() and options["problem"] == ""
    assert options["settings"].runs_dir == runs.resolve()
    assert os.environ[URL_ENV] == "/user/ana/mlops-nb/runs/"
    assert os.environ[DIR_ENV] == str(runs.resolve())

    added.clear()
    app.root_dir = str(tmp_path / "nowhere")
    lab._load_jupyter_server_extension(app)
    ((_, _, options),) = added
    assert options["runs_dir"] is None and "serves no mlops-nb project" in options["problem"]
    assert URL_ENV not in os.environ and DIR_ENV not in os.environ


# --- in a real server ---------------------------------------------------------------------------


class Client:
    """Raw HTTP to a server: paths are sent as written (no normalisation of ``..``)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.address = urlsplit(url)
        self.headers = headers or {}

    def get(self, path: str, method: str = "GET", **headers: str) -> tuple[int, dict, bytes]:
        connection = http.client.HTTPConnection(self.address.hostname, self.address.port, 10)
        try:
            connection.request(method, path, headers={**self.headers, **headers})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()


@pytest.fixture(scope="module")
def served(jupyter, tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    make_project(root)
    return jupyter("server", root)


@pytest.fixture(scope="module")
def browser_like(served):
    """A client logged in with the login cookie, as a browser is: no token, no Referer."""
    address = urlsplit(served.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, 10)
    try:
        connection.request("GET", f"/?token={served.token}")  # sets the login cookie
        response = connection.getresponse()
        assert response.status == 200
        headers = response.getheaders()  # every Set-Cookie (a dict would keep one)
    finally:
        connection.close()
    cookies = [v.split(";")[0] for k, v in headers if k.lower() == "set-cookie"]
    assert any(c.startswith("username-") for c in cookies), cookies
    return Client(served.url, {"Cookie": "; ".join(cookies)})


def test_the_route_serves_a_run_to_a_logged_in_browser_without_referer(served, browser_like):
    status, headers, body = browser_like.get(f"/mlops-nb/runs/{RUN}/index.html")
    assert status == 200, served.log_tail()
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert b'href="01_train/report.html"' in body
    assert "sandbox allow-scripts" in headers["Content-Security-Policy"]

    status, headers, body = browser_like.get(f"/mlops-nb/runs/{RUN}/01_train/report.html")
    assert (status, body) == (200, b"<h1>Stage train</h1>")
    status, headers, body = browser_like.get(f"/mlops-nb/runs/{RUN}/01_train/plot.png")
    assert (status, headers["Content-Type"], body) == (200, "image/png", PNG)
    status, headers, _ = browser_like.get(f"/mlops-nb/runs/{RUN}/01_train/contract.yaml")
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    status, headers, body = browser_like.get(f"/mlops-nb/runs/{RUN}/01_train/data.parquet", "HEAD")
    assert (status, headers["Content-Length"], body) == (200, "12", b"")

    assert browser_like.get(f"/mlops-nb/runs/{RUN}/")[2].startswith(b"<a href")
    status, headers, _ = browser_like.get(f"/mlops-nb/runs/{RUN}")
    assert status == 302 and headers["Location"] == f"/mlops-nb/runs/{RUN}/"


def test_files_refuses_the_same_browser_request_which_is_why_the_route_exists(served, browser_like):
    status, _, body = browser_like.get(f"/files/outputs/runs/{RUN}/index.html")
    assert status == 403 and b"Blocking request from unknown origin" in body


def test_missing_runs_and_files_get_a_plain_404_that_says_what(browser_like):
    status, headers, body = browser_like.get("/mlops-nb/runs/20990101T000000.000000Z-none/")
    assert status == 404 and headers["Content-Type"] == "text/plain; charset=utf-8"
    assert body.startswith(b"404 Not Found: no run 20990101T000000.000000Z-none in ")
    assert b"mlops-nb runs list" in body
    status, _, body = browser_like.get(f"/mlops-nb/runs/{RUN}/02_evaluate/report.html")
    assert status == 404 and b"has no file '02_evaluate/report.html'" in body


@pytest.mark.parametrize(
    "path",
    [
        f"/mlops-nb/runs/{RUN}/../../../secret.txt",
        f"/mlops-nb/runs/{RUN}/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        f"/mlops-nb/runs/{RUN}/..%2F..%2F..%2Fsecret.txt",
        "/mlops-nb/runs/..%2F..%2Fsecret.txt/",
        "/mlops-nb/runs/%2e%2e/beside.txt",
        f"/mlops-nb/runs/{RUN}/escape.txt",
        f"/mlops-nb/runs/{RUN}/outside/secret.txt",
        f"/mlops-nb/runs/{RUN}/.hidden",
        f"/mlops-nb/runs/{RUN}/01_train%5C..%5C..%5C..%5Csecret.txt",
    ],
)
def test_nothing_outside_the_run_folder_is_served(browser_like, path):
    status, _, body = browser_like.get(path)
    assert status in (400, 403, 404), (status, body)
    assert SECRET.encode() not in body


def test_a_visitor_who_is_not_logged_in_is_sent_to_the_login_page(served):
    status, headers, body = Client(served.url).get(f"/mlops-nb/runs/{RUN}/index.html")
    assert status == 302 and "/login?next=" in headers["Location"]
    assert b"<a href" not in body
