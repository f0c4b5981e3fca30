"""Real servers for the tests, started by the tests: PostgreSQL and an S3-compatible store.

* :class:`PostgresServer`: ``initdb`` + ``pg_ctl`` of the machine's PostgreSQL
  (``/usr/lib/postgresql/*/bin``, or ``pg_ctl`` on PATH) in a temporary folder,
  on a free loopback port, with password authentication over TCP so URLs carry
  a real secret. As root the server runs as the ``postgres`` user (PostgreSQL
  refuses root). Each test gets its own schema (``search_path`` in the URL), so
  no test sees another's tables.
* :class:`S3Server`: moto's server mode on a free loopback port; each test gets
  its own bucket.

Where a server cannot be had the fixtures skip, loudly, unless
``MLOPS_NB_REQUIRE_SERVERS=1`` (set by ``.ci/run``): then they fail, so CI
never passes by skipping.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

PASSWORD = "s3cr3t-" + secrets.token_hex(6)  # a real secret: greps for it must find nothing
S3_KEY_ID, S3_SECRET = "testing-key", "testing-secret-" + secrets.token_hex(6)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unavailable(reason: str) -> None:
    """Skip (or fail, when servers are required) because a server cannot be had."""
    message = f"{reason} (CI installs it: see .ci/run)"
    if os.environ.get("MLOPS_NB_REQUIRE_SERVERS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


class PostgresServer:
    """A throwaway PostgreSQL cluster (see the module docstring)."""

    def __init__(self) -> None:
        binaries = postgres_bin()
        if binaries is None:
            unavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        assert binaries is not None
        self.bin = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="mlops-pg-"))
        self.folder.chmod(0o777)
        self.data = self.folder / "data"
        self.port = free_port()
        self.user = "mlops"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        password_file = self.folder / "password"
        password_file.write_text(PASSWORD)
        password_file.chmod(0o644)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            f"--pwfile={password_file}",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "log"),
            "-o",
            options,
            "-w",
            "start",
        )
        self.database = "mlops"
        self._psql(f"CREATE DATABASE {self.database}")

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as, str(self.bin / tool), *args], capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stderr or done.stdout}")

    def _psql(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(database="postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def url(self, *, schema: str | None = None, database: str | None = None) -> str:
        """``postgresql://mlops:PASSWORD@127.0.0.1:PORT/DB``, in ``schema`` if given."""
        base = (
            f"postgresql://{self.user}:{quote(PASSWORD)}@127.0.0.1:{self.port}/"
            f"{database or self.database}"
        )
        return base + (f"?options=-csearch_path%3D{schema}" if schema else "")

    def fresh_schema(self) -> str:
        """The URL of a new, empty schema of the test database."""
        name = "t_" + secrets.token_hex(6)
        self._psql_in(f"CREATE SCHEMA {name}")
        return self.url(schema=name)

    def _psql_in(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


class S3Server:
    """moto's S3-compatible server on loopback (see the module docstring)."""

    def __init__(self) -> None:
        try:
            import moto.server  # noqa: F401
        except ImportError:
            unavailable("moto[server] is not installed")
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.1)

    @property
    def environment(self) -> dict[str, str]:
        """The standard AWS variables that point clients at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": S3_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def fresh_bucket(self) -> str:
        """The name of a new, empty bucket."""
        import boto3

        name = "mlops-" + secrets.token_hex(5)
        client = boto3.client("s3", endpoint_url=self.endpoint, **_credentials())
        client.create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_KEY_ID,
        "aws_secret_access_key": S3_SECRET,
        "region_name": "us-east-1",
    }


class DaskProcesses:
    """``dask scheduler`` and ``dask worker`` processes on loopback, each worker in its own folder.

    The scheduler retries a stage lost with its worker once (``allowed-failures``
    = 1), as ``mlops-nb cluster local`` does.
    """

    def __init__(self, folder: Path, workers: int, env: dict[str, str]) -> None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            unavailable("dask.distributed is not installed")
        self.folder = folder
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MLOPS_NB_")},
            **env,
            "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
        }
        dask = str(Path(sys.executable).with_name("dask"))
        self.scheduler = self._start(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"],
            folder / "scheduler",
        )
        self.workers = [self.start_worker(n) for n in range(workers)]
        self.wait(workers)

    def _start(self, command: list[str], cwd: Path) -> subprocess.Popen[bytes]:
        cwd.mkdir(parents=True, exist_ok=True)
        log = (cwd / "log").open("wb")
        return subprocess.Popen(command, cwd=cwd, env=self.env, stdout=log, stderr=log)

    def start_worker(self, number: int) -> subprocess.Popen[bytes]:
        """A worker process (no nanny: killing it loses the worker) in ``worker-N``."""
        dask = str(Path(sys.executable).with_name("dask"))
        here = self.folder / f"worker-{number}"
        return self._start(
            [
                dask,
                "worker",
                self.address,
                "--nthreads",
                "2",
                "--no-nanny",
                "--local-directory",
                str(here / "scratch"),
                "--name",
                f"worker-{number}",
                "--no-dashboard",
            ],
            here,
        )

    def wait(self, workers: int, timeout: float = 90) -> None:
        from distributed import Client

        deadline = time.monotonic() + timeout
        while True:
            try:
                with Client(self.address, timeout=5) as client:
                    client.wait_for_workers(workers, timeout=max(1, deadline - time.monotonic()))
                    return
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the Dask cluster at {self.address} did not start"
                    ) from None
                time.sleep(0.5)

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            process.terminate()
        for process in [*self.workers, self.scheduler]:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
