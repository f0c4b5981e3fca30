"""Store backends: the SQL database under tracking, registry, cache index, inference log.

:func:`open_backend` gives the project's backend: the embedded SQLite file
``outputs/mlops.db`` by default. The components talk to it only through the
:class:`~mlops_nb.store.base.Backend` protocol, so another SQL database is one
new module here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlops_nb.errors import StoreError
from mlops_nb.store.base import Backend, Connection, Dialect, Migration, render
from mlops_nb.store.files import ArtifactLocation
from mlops_nb.store.sqlite import SQLiteBackend

if TYPE_CHECKING:
    from mlops_nb.config import Settings

__all__ = [
    "ArtifactLocation",
    "Backend",
    "Connection",
    "Dialect",
    "Migration",
    "SQLiteBackend",
    "artifact_location",
    "as_backend",
    "backend_at",
    "open_backend",
    "redact",
    "render",
]


SCHEMES = ("sqlite", "postgresql", "postgres")


def as_backend(location: str | Path | Backend) -> Backend:
    """``location`` itself when it is a store backend, else :func:`backend_at` of it."""
    if isinstance(location, str | Path) or not hasattr(location, "dialect"):
        return backend_at(location)
    return location


def backend_at(location: object) -> Backend:
    """The backend of a store URL (``sqlite:///PATH``, ``postgresql://...``) or a file path.

    Raises:
        StoreError: ``location`` is neither text nor a path, or an URL of another scheme.
    """
    if not isinstance(location, str | Path) or not str(location).strip():
        raise StoreError(
            f"a store location must be a file path or a URL, got {location!r}; pass the "
            f"store's backend, its SQLite file, or a postgresql:// URL.",
        )
    text = str(location).strip()
    scheme, sep, rest = text.partition("://")
    if not sep or len(scheme) < 2:  # a plain path (a Windows drive letter is no scheme)
        return SQLiteBackend(Path(text).expanduser())
    scheme = scheme.lower()
    if scheme == "sqlite":
        return SQLiteBackend(Path(rest[1:] if rest.startswith("/") else rest).expanduser())
    if scheme.split("+")[0] in ("postgresql", "postgres"):
        from mlops_nb.store.postgresql import PostgresBackend

        return PostgresBackend("postgresql://" + rest)
    raise StoreError(
        f"the store URL {redact(text)} has the scheme {scheme!r}; use sqlite:///PATH or "
        f"postgresql://user:password@host:port/database (MLOPS_NB_STORE or store: in "
        f"pipeline.yaml).",
        store=redact(text),
    )


def open_backend(settings: Settings) -> Backend:
    """The project's store: ``settings.store``, else the SQLite file ``outputs/mlops.db``."""
    if settings.store:
        return backend_at(settings.store)
    return SQLiteBackend(settings.database)


def artifact_location(settings: Settings) -> ArtifactLocation:
    """The project's artifact location: ``settings.artifacts``, else its outputs folder."""
    return ArtifactLocation(settings.artifacts or settings.outputs, settings.outputs)


def redact(url: str) -> str:
    """A store URL with its password hidden."""
    from mlops_nb.store.postgresql import redact_url

    return redact_url(url)
