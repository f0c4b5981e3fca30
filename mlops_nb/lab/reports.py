"""The Jupyter server route that serves run folders: ``{base_url}mlops-nb/runs/<run_id>/<path>``.

Why not ``/files/``: since jupyter_server 2, a browser's GET of ``/files/...``
must carry an ``_xsrf`` argument or a same-host ``Referer``, else it is refused
with "403 Blocking request from unknown origin". A link followed from a report
opened in JupyterLab's HTML viewer (a sandboxed ``blob:`` frame) carries no
Referer, nor does a URL typed in the address bar, so every stage link of a run's
``index.html`` failed there. This route needs a logged-in user (a login cookie
or a token) like the rest of the server, but no Referer.

What it serves is confined to one runs folder: a run id is one path component,
no part of the path may be empty, ``.``, ``..`` or hidden, and the resolved file
(symbolic links followed) must still be inside the run's folder. Pages are sent
with the same ``sandbox`` Content-Security-Policy as ``/files/``, so a script in
a report runs in an opaque origin and cannot call the Jupyter server's API.
"""

from __future__ import annotations

import asyncio
import mimetypes
import re
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from tornado import web

from mlops_nb.config import Settings
from mlops_nb.errors import MlopsNbError, RunNotFoundError
from mlops_nb.pipeline.index import run_folder
from mlops_nb.store import artifact_location

__all__ = ["RunFileHandler", "content_type", "resolve_run_file"]

INDEX = "index.html"
RUN_ID = re.compile(r"[A-Za-z0-9][\w.\-]*")
CHUNK = 1 << 20
TEXT_SUFFIXES = {".csv", ".yaml", ".yml", ".md", ".txt", ".log", ".py", ".toml", ".cfg"}
"""Shown in the browser as plain text instead of being downloaded."""
SANDBOX = "sandbox allow-scripts allow-popups allow-popups-to-escape-sandbox allow-downloads"


def resolve_run_file(runs_dir: Path, run_id: str, path: str) -> Path:
    """The file of run ``run_id`` at ``path`` (a folder gives its ``index.html``).

    Args:
        runs_dir: The runs folder served.
        run_id: The run folder's name.
        path: A ``/``-separated path inside the run folder (empty: the run's index).

    Raises:
        RunNotFoundError: No such run, no such file, or a path that leaves the run
            folder (reported as missing, without saying what is outside).
    """
    if not RUN_ID.fullmatch(run_id):
        raise RunNotFoundError(f"{run_id!r} is not a run id.", run_id=run_id)
    run_dir = runs_dir / run_id
    if not run_dir.is_dir():
        raise RunNotFoundError(
            f"no run {run_id} in {runs_dir}: `mlops-nb runs list` shows the runs there.",
            run_id=run_id,
            path=runs_dir,
        )
    parts = path.split("/") if path else []
    if parts and parts[-1] == "":  # a trailing slash: the folder's index
        parts[-1] = INDEX
    if any(not _safe_part(part) for part in parts):
        raise _no_file(run_id, path)
    target = run_dir.joinpath(*parts) if parts else run_dir / INDEX
    if target.is_dir():
        target = target / INDEX
    try:
        resolved = target.resolve(strict=True)
        inside = resolved.is_relative_to(run_dir.resolve(strict=True))
    except OSError as exc:
        raise _no_file(run_id, path) from exc
    if not inside or not resolved.is_file():
        raise _no_file(run_id, path)
    return resolved


def _fetch_report(settings: Settings, run_id: str) -> None:
    """Bring a published run's report files into the local runs folder, if it publishes."""
    if artifact_location(settings).publishes or not (settings.runs_dir / run_id).is_dir():
        run_folder(settings, run_id, report_only=True)


def _safe_part(part: str) -> bool:
    return (
        part not in ("", ".", "..") and not part.startswith(".") and not ({"\\", "\0"} & set(part))
    )


def _no_file(run_id: str, path: str) -> RunNotFoundError:
    return RunNotFoundError(f"run {run_id} has no file {path!r}.", run_id=run_id, path=path)


def content_type(path: Path) -> str:
    """The Content-Type of a run file: HTML, images, JSON and text shown inline."""
    suffix = path.suffix.lower()
    if suffix in (".json", ".ipynb"):
        return "application/json; charset=utf-8"
    if suffix in TEXT_SUFFIXES:
        return "text/plain; charset=utf-8"
    guessed, encoding = mimetypes.guess_type(path.name)
    if guessed is None or encoding is not None:
        return "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


class RunFileHandler(JupyterHandler):
    """GET/HEAD a file of a run folder; plain-text 404s say what is missing."""

    auth_resource = "contents"

    def initialize(
        self, runs_dir: Path | None, problem: str = "", settings: Settings | None = None
    ) -> None:
        self.runs_dir = runs_dir
        self.project = settings
        self.problem = problem

    @property
    def content_security_policy(self) -> str:
        return f"{super().content_security_policy}; {SANDBOX}"

    @web.authenticated
    @authorized
    async def get(self, run_id: str, path: str | None) -> None:
        await self._send(run_id, path, body=True)

    @web.authenticated
    @authorized
    async def head(self, run_id: str, path: str | None) -> None:
        await self._send(run_id, path, body=False)

    async def _send(self, run_id: str, path: str | None, *, body: bool) -> None:
        if path is None:  # /mlops-nb/runs/<id>: relative links need the trailing slash
            self.redirect(self.request.path + "/", permanent=False)
            return
        if self.runs_dir is None:
            self._not_found(self.problem)
            return
        try:
            if self.project is not None and RUN_ID.fullmatch(run_id):
                # a run of another machine: its report files are fetched (verified) first
                await asyncio.get_running_loop().run_in_executor(
                    None, _fetch_report, self.project, run_id
                )
            file = resolve_run_file(self.runs_dir, run_id, path.lstrip("/"))
        except MlopsNbError as exc:
            self._not_found(exc.message)
            return
        self.set_header("Content-Type", content_type(file))
        self.set_header("Content-Length", str(file.stat().st_size))
        self.set_header("Cache-Control", "no-cache")  # index.html changes while a run runs
        if not body:
            self.finish()
            return
        with file.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                self.write(chunk)
                await self.flush()
        self.finish()

    def _not_found(self, message: str) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"404 Not Found: {message}\n")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors of this route as one line of text (not Jupyter's HTML error page)."""
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code} {self._reason}\n")
