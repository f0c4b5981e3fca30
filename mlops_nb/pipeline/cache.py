"""The content-addressed stage cache: an unchanged stage reuses an earlier result.

A stage's **fingerprint** is the SHA-256 of everything that can change what it
produces:

* the code cells of its template (not outputs, not metadata: re-saving a
  notebook after running it does not invalidate anything);
* its resolved parameter values;
* the content of the files its ``path``/``source`` parameters name (a CSV that
  changed under the same name is a miss);
* the SHA-256 of every artifact, and the data versions, of the stages it
  ``needs`` (so a change anywhere upstream propagates downstream by content,
  not by timestamps);
* the versions of Python and the key packages, and a hash of the installed
  ``mlops_nb`` source (so a library change reruns the stages that use it).

The index, a table of the project's store (:mod:`mlops_nb.store`, component
``cache``), points each fingerprint at the stage folder of the run that
produced the result. A hit **links** (hard links, falling back to
copies) that folder's files into the new run's stage folder, so every run
folder is complete on its own and deleting an old run loses nothing.

A stage is never cached when it declares ``cache: never`` in pipeline.yaml
(e.g. monitoring, which must look at the world each time), when a ``source``
parameter reads a database (its content cannot be hashed without reading it),
or when a ``path`` parameter names a folder.

Stages with effects beyond their folder declare them: with ``cache: auto``
the effect belongs to the result, so a cached ``register`` stage does not
register the same model again (the version it registered is in its copied
stage.json), and ``--force register`` runs it again on purpose.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from mlops_nb.artifacts import link_or_copy, sha256
from mlops_nb.config import Settings
from mlops_nb.environment import package_versions
from mlops_nb.errors import MlopsNbError
from mlops_nb.faults import crash_point
from mlops_nb.jsonvalues import jsonable
from mlops_nb.pipeline.params import ParamSpec
from mlops_nb.pipeline.spec import StageSpec
from mlops_nb.store import Connection, artifact_location, open_backend
from mlops_nb.store.runs import RunIndex

__all__ = ["CACHE_STEPS", "CacheIndex", "Fingerprint", "fingerprint", "link_tree", "source_digest"]

FINGERPRINT_VERSION = 1


@dataclass(frozen=True)
class Fingerprint:
    """A stage's fingerprint, or why it has none.

    Attributes:
        digest: The SHA-256 hex digest, or None when the stage cannot be cached.
        reason: Why it cannot be cached (empty when it can).
        parts: What went into the digest (kept in run.json to explain misses).
    """

    digest: str | None
    reason: str = ""
    parts: dict[str, Any] | None = None


def fingerprint(
    stage: StageSpec,
    params: dict[str, Any],
    param_specs: dict[str, ParamSpec],
    upstream: dict[str, dict[str, Any]],
    root: Path,
) -> Fingerprint:
    """Compute the fingerprint of ``stage`` run with ``params`` after ``upstream``.

    Args:
        stage: The stage.
        params: Its resolved parameter values (without ``stage_dir``).
        param_specs: The pipeline's parameter declarations (for their types).
        upstream: The ``stage.json`` manifest of each stage it needs, by name.
        root: The project root (relative paths are resolved against it).
    """
    if stage.cache == "never":
        return Fingerprint(None, "declared cache: never")
    files: dict[str, str | None] = {}
    for name, value in params.items():
        spec = param_specs.get(name)
        if spec is None or value is None or spec.type not in {"path", "source"}:
            continue
        digest, reason = _file_digest(str(value), spec.type, root)
        if reason:
            return Fingerprint(None, f"parameter '{name}' {reason}")
        files[name] = digest
    inputs = {
        name: {
            "artifacts": {k: a.get("sha256") for k, a in manifest.get("artifacts", {}).items()},
            "data_versions": manifest.get("data_versions", {}),
        }
        for name, manifest in sorted(upstream.items())
    }
    parts = {
        "version": FINGERPRINT_VERSION,
        "code": stage.template.code_hash(),
        "params": jsonable(params),
        "files": files,
        "inputs": inputs,
        "python": sys.version.split()[0],
        "packages": package_versions(),
        "mlops_nb": source_digest(),
    }
    text = json.dumps(parts, sort_keys=True, default=str)
    return Fingerprint(hashlib.sha256(text.encode()).hexdigest(), "", parts)


def _file_digest(value: str, kind: str, root: Path) -> tuple[str | None, str]:
    """The content hash of a file parameter; ``(None, reason)`` if it cannot be hashed."""
    if kind == "source":
        from mlops_nb.data import parse_source

        spec = parse_source(value)
        if spec.kind == "sample":
            return None, ""  # generated from its options, which are in the parameters
        if spec.kind == "sql":
            return None, "reads a database, whose content is not hashed"
        value = spec.location
    path = Path(value).expanduser()
    path = path if path.is_absolute() else root / path
    if path.is_dir():
        return None, f"names a folder ({path})"
    if not path.is_file():
        return None, f"names a missing file ({path})"
    return sha256(path), ""


@cache
def source_digest() -> str:
    """SHA-256 over the installed ``mlops_nb`` package's Python source files."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


CACHE_STEPS: tuple[str, ...] = (
    """
    CREATE TABLE cache_entries (
        fingerprint TEXT PRIMARY KEY,
        run         TEXT NOT NULL,
        dir         TEXT NOT NULL,
        stored_at   {real} NOT NULL
    ) {without_rowid}
    """,
)
"""The cache index's schema steps (component ``cache`` of the store)."""


class CacheIndex:
    """Fingerprint → the stage folder holding that result, in the project's store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.backend = open_backend(settings)
        self.location = artifact_location(settings)
        self.runs_dir = settings.runs_dir

    def lookup(self, digest: str) -> Path | None:
        """The stage folder of an earlier result with this fingerprint, if it still exists."""
        with self._connection() as conn:
            rows = conn.rows("SELECT run, dir FROM cache_entries WHERE fingerprint = ?", (digest,))
        if not rows:
            return None
        run, stage_dir = str(rows[0][0]), str(rows[0][1])
        folder = self.runs_dir / run / stage_dir
        if not (folder / "stage.json").is_file() and self.location.publishes:
            with RunIndex(self.settings) as index:  # a result published by another machine
                try:
                    index.materialize(run, stage_dir)
                except MlopsNbError:
                    return None
        return folder if (folder / "stage.json").is_file() else None

    def store(self, digest: str, run_id: str, stage_dir: str) -> None:
        """Remember that run ``run_id``'s folder ``stage_dir`` holds this result."""
        with self._connection() as conn, self.backend.transaction(conn):
            conn.execute(
                "INSERT INTO cache_entries (fingerprint, run, dir, stored_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (fingerprint) DO UPDATE SET run = excluded.run, dir = excluded.dir, "
                "stored_at = excluded.stored_at",
                (digest, run_id, stage_dir, time.time()),
            )
            crash_point("cache-store")

    def forget_run(self, run_id: str) -> int:
        """Drop the entries whose result is in run ``run_id`` (``runs gc``); how many."""
        with self._connection() as conn, self.backend.transaction(conn):
            count = len(conn.rows("SELECT fingerprint FROM cache_entries WHERE run = ?", (run_id,)))
            conn.execute("DELETE FROM cache_entries WHERE run = ?", (run_id,))
        return count

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        with self.backend.translated("use the stage cache index in"):
            conn = self.backend.connect()
            try:
                self.backend.migrate(conn, "cache", CACHE_STEPS)
                yield conn
            finally:
                conn.close()


def link_tree(source: Path, target: Path) -> None:
    """Fill ``target`` with the files of ``source``: hard links, or copies across devices.

    Files are written under a temporary folder that is renamed into place, so an
    interrupted restore leaves no half-filled stage folder.
    """
    staging = target.with_name(f".{target.name}.restoring")
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(
        source, staging, copy_function=lambda s, d: link_or_copy(Path(s), Path(d)), symlinks=True
    )
    crash_point("cache-restore")
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)
