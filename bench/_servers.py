"""Throwaway servers for the benchmarks: a PostgreSQL cluster and moto's S3 server.

Both listen on 127.0.0.1 only, on a free port, live in a temporary folder and
are stopped (and the folder removed) by :meth:`stop` or on leaving a ``with``
block. Unlike ``tests/servers.py`` nothing here depends on pytest.

PostgreSQL runs with its default durability (``fsync`` and
``synchronous_commit`` on), the settings of a team server, unless
``durable=False`` (the test suite's settings) is asked for. As root, the
server runs as the ``postgres`` user, since PostgreSQL refuses to run as root.
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
from types import TracebackType
from typing import Self
from urllib.parse import quote

__all__ = ["PostgresCluster", "S3Endpoint", "ServerUnavailable", "loopback_port"]


class ServerUnavailable(RuntimeError):
    """A server the benchmark needs cannot be started here (with the reason and a fix)."""


def loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pg_binaries() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise ServerUnavailable(
        "PostgreSQL's server programs (initdb, pg_ctl) are not installed; "
        "on Debian: apt-get install postgresql"
    )


class _Managed:
    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class PostgresCluster(_Managed):
    """A PostgreSQL cluster of its own: ``initdb`` into a temporary folder, ``pg_ctl start``.

    Args:
        durable: Keep PostgreSQL's default ``fsync``/``synchronous_commit``
            (True), or turn both off as the test suite does (False).
    """

    user = "bench"

    def __init__(self, *, durable: bool = True) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise ServerUnavailable(
                "psycopg is not installed: pip install -e '.[postgres]'"
            ) from exc
        self.bin = _pg_binaries()
        self.durable = durable
        self.password = secrets.token_urlsafe(12)
        self.port = loopback_port()
        self.folder = Path(tempfile.mkdtemp(prefix="mlops-nb-bench-pg-"))
        self._sudo = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._sudo:
            shutil.chown(self.folder, "postgres", "postgres")
        self.data = self.folder / "data"
        secret = self.folder / "pwfile"
        secret.write_text(self.password)
        if self._sudo:
            shutil.chown(secret, "postgres", "postgres")
        secret.chmod(0o600)
        self.version = ""
        try:
            self._tool(
                "initdb",
                f"--pgdata={self.data}",
                f"--username={self.user}",
                f"--pwfile={secret}",
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                "--encoding=UTF8",
                "--no-sync",
            )
            secret.unlink()
            settings = [
                "listen_addresses=127.0.0.1",
                f"port={self.port}",
                f"unix_socket_directories={self.folder}",
                "max_connections=50",
            ]
            if not durable:
                settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
            options = " ".join(f"-c {setting}" for setting in settings)
            self._tool(
                "pg_ctl",
                "start",
                "--wait",
                f"--pgdata={self.data}",
                f"--log={self.folder / 'server.log'}",
                f"--options={options}",
            )
            self.version = self.scalar("SHOW server_version")
        except BaseException:
            self.stop()
            raise

    def _tool(self, name: str, *args: str) -> None:
        done = subprocess.run(
            [*self._sudo, str(self.bin / name), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise ServerUnavailable(f"{name} failed: {(done.stderr or done.stdout).strip()}")

    def url(
        self, database: str = "postgres", *, schema: str | None = None, driver: str = ""
    ) -> str:
        """The URL of ``database`` (``postgresql+DRIVER://`` if a driver is named)."""
        scheme = "postgresql" + (f"+{driver}" if driver else "")
        text = (
            f"{scheme}://{self.user}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/"
            f"{database}"
        )
        return text + (f"?options=-csearch_path%3D{schema}" if schema else "")

    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement outside a transaction (``CREATE DATABASE`` needs that)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(sql)

    def scalar(self, sql: str, database: str = "postgres") -> str:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            row = conn.execute(sql).fetchone()
        return "" if row is None else str(row[0])

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its name."""
        self.execute(f'CREATE DATABASE "{name}"')
        return name

    def create_schema(self, database: str, name: str) -> str:
        """A new, empty schema of ``database``; returns the URL that uses it."""
        self.execute(f'CREATE SCHEMA "{name}"', database)
        return self.url(database, schema=name)

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._tool("pg_ctl", "stop", "--wait", "--mode=fast", f"--pgdata={self.data}")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


class S3Endpoint(_Managed):
    """moto's S3-compatible server on 127.0.0.1, as a child process."""

    key_id = "bench-key"

    def __init__(self) -> None:
        try:
            import moto.server  # noqa: F401
        except ImportError as exc:
            raise ServerUnavailable(
                "moto's server mode is not installed: pip install 'moto[server]'"
            ) from exc
        self.secret = secrets.token_urlsafe(12)
        self.port = loopback_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        give_up = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > give_up:
                    self.stop()
                    raise ServerUnavailable("moto's S3 server did not answer in 30 s") from None
                time.sleep(0.1)

    @property
    def environment(self) -> dict[str, str]:
        """The standard AWS variables that send S3 clients (boto3, s3fs) to this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def create_bucket(self, name: str) -> str:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.process = None
