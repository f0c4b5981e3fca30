"""Real Jupyter servers for the report route and browser tests, started and stopped here."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlops_nb.lab.links import DIR_ENV, URL_ENV

START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
EXTENSION_LOADED = "mlops_nb.lab | extension was successfully loaded"
HIDDEN = ("MLOPS_NB_OUTPUTS", "MLOPS_NB_PROJECT", URL_ENV, DIR_ENV)
"""Variables a server must not inherit: it serves the project it is started in."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_env(home: Path) -> dict[str, str]:
    """This environment without the project variables, Jupyter's user folders under ``home``."""
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
    for variable, folder in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_SETTINGS_DIR", "lab-settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "lab-workspaces"),
        ("IPYTHONDIR", "ipython"),
    ):
        env[variable] = str(home / folder)
    return env


@dataclass
class JupyterServer:
    """A Jupyter server subprocess on 127.0.0.1 (its own process group, kernels included)."""

    process: subprocess.Popen[bytes]
    url: str
    token: str
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.is_file() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM (the server shuts its kernels down), then SIGKILL the group if need be."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # kernels left behind, if any
        self.process.wait(STOP_TIMEOUT)


def start_server(app: str, root: Path, home: Path) -> JupyterServer:
    """Start ``jupyter <app>`` (``server`` or ``lab``) serving ``root``; wait until it answers."""
    port, token = free_port(), secrets.token_hex(16)
    home.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "jupyter",
        app,
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={root}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    notifications = home / "lab-settings" / "@jupyterlab" / "apputils-extension"
    notifications.mkdir(parents=True, exist_ok=True)  # no "fetch news?" toast over the page
    (notifications / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    log = home / f"{app}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=clean_env(home),
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = JupyterServer(process, f"http://127.0.0.1:{port}", token, log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"jupyter {app} exited with {process.returncode}:\n{server.log_tail()}"
            )
        try:
            request = urllib.request.Request(
                f"{server.url}/api/status", headers={"Authorization": f"token {token}"}
            )
            with urllib.request.urlopen(request, timeout=2):
                pass
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
            continue
        if EXTENSION_LOADED not in server.log.read_text(errors="replace"):
            server.stop()
            raise RuntimeError(
                "the mlops_nb.lab server extension is not enabled in this environment: "
                "`make install` puts mlops_nb/lab/jupyter_server_config.d/mlops_nb.json in "
                f"{sys.prefix}/etc/jupyter/jupyter_server_config.d/.\n{server.log_tail()}"
            )
        return server
    server.stop()
    raise RuntimeError(
        f"jupyter {app} did not answer in {START_TIMEOUT:.0f} s:\n{server.log_tail()}"
    )


@pytest.fixture(scope="module")
def server_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("jupyter-home")


@pytest.fixture(scope="module")
def jupyter(server_home: Path) -> Iterator[Callable[[str, Path], JupyterServer]]:
    """Start servers with ``jupyter(app, root)``; all are stopped at the end of the module."""
    started: list[JupyterServer] = []

    def start(app: str, root: Path) -> JupyterServer:
        server = start_server(app, root, server_home / f"{app}-{len(started)}")
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
