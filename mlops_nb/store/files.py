"""The artifact location: where runs, model packages and snapshots are published.

Every machine of a team reads them there.
``MLOPS_NB_ARTIFACTS`` (or ``artifacts:`` in pipeline.yaml) names it:

* unset: the project's ``outputs/`` folder itself. Nothing is published, nothing
  is copied: this is the embedded default and it stays as fast as before;
* a folder (``/mnt/team/mlops``, a shared filesystem), or
* an fsspec URL, e.g. ``s3://bucket/prefix`` (the ``s3`` extra; S3-compatible
  endpoints through the standard AWS variables, ``AWS_ENDPOINT_URL`` included).

The local ``outputs/`` folder is then a working copy: stages run there, and
what they produced is published to the location. Files are stored by content,
``objects/<sha256[:2]>/<sha256[2:]>``: a file is written whole (to a temporary
name renamed into place on a filesystem, one PUT on object storage) and never
changed, the same bytes are stored once (a snapshot used by every run, a cached
stage, a model and its registered copy), and a reader fetches a file only
through :meth:`ArtifactLocation.fetch`, which checks the digest, so a changed or
half-written object is refused, never read. What makes files visible is a
*manifest* (relative path → SHA-256) committed to the store after every file it
names is published: the run's stage entries, a registry row.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mlops_nb.errors import StoreError

__all__ = ["INSTALL_HINTS", "ArtifactLocation", "file_digest", "redact_location"]

INSTALL_HINTS = {"s3": "pip install 'mlops-nb[s3]'", "gs": "pip install gcsfs"}
OBJECTS = "objects"
_CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """The SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def redact_location(url: str) -> str:
    """An artifact URL with any credentials in it hidden."""
    parts = urlsplit(url)
    if not parts.netloc or "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"***@{host}"))


class ArtifactLocation:
    """Files under one root: the outputs folder, a shared folder, or an fsspec URL.

    Args:
        url: The location (a path or ``scheme://...``).
        outputs: The project's local outputs folder; a location equal to it is
            *embedded*: :attr:`publishes` is False and every method is a no-op
            on files already in place.
    """

    def __init__(self, url: str | Path, outputs: Path) -> None:
        self.url = str(url)
        self.outputs = Path(outputs)
        scheme = urlsplit(self.url).scheme
        self.remote = len(scheme) > 1 and scheme != "file"
        self._fs: Any = None
        self._root = self.url.rstrip("/") if self.remote else str(Path(self.url).expanduser())

    @classmethod
    def embedded(cls, outputs: Path) -> ArtifactLocation:
        return cls(outputs, outputs)

    def __repr__(self) -> str:
        return f"ArtifactLocation({self.display_url!r})"

    @property
    def display_url(self) -> str:
        return redact_location(self.url)

    @property
    def publishes(self) -> bool:
        """Whether files must be published (the location is not the outputs folder)."""
        if self.remote:
            return True
        return Path(self._root).resolve() != self.outputs.resolve()

    # -- the filesystem ----------------------------------------------------------

    @property
    def fs(self) -> Any:
        if self._fs is None:
            self._fs = self._filesystem()
        return self._fs

    def _filesystem(self) -> Any:
        scheme = urlsplit(self.url).scheme if self.remote else "file"
        try:
            import fsspec
        except ImportError as exc:
            raise StoreError(
                f"the artifact location {self.display_url} needs fsspec: "
                f"{INSTALL_HINTS.get(scheme, 'pip install fsspec')}",
                location=self.display_url,
            ) from exc
        try:
            return fsspec.filesystem(scheme)
        except (ImportError, ValueError) as exc:
            hint = INSTALL_HINTS.get(scheme, f"install the fsspec implementation of {scheme}://")
            raise StoreError(
                f"the artifact location {self.display_url} needs the {scheme} filesystem: "
                f"{hint} ({exc})",
                location=self.display_url,
            ) from exc

    def key_url(self, key: str) -> str:
        """The full address of ``key`` under the location."""
        _check_key(key)
        return f"{self._root}/{key}"

    # -- writing -----------------------------------------------------------------

    @staticmethod
    def object_key(sha256: str) -> str:
        """Where a file of this content lives: ``objects/ab/cdef…`` (content-addressed)."""
        return f"{OBJECTS}/{sha256[:2]}/{sha256[2:]}"

    def put(self, local: Path) -> str:
        """Publish one local file, whole, under its content's key; returns its SHA-256.

        A file whose content is already published is not sent again, so a
        snapshot used by many runs, or a cached stage, is stored once.
        """
        digest = file_digest(local)
        if not self.publishes:
            return digest
        key = self.object_key(digest)
        with self._translated("publish a file to"):
            if self.fs.exists(self.key_url(key)):
                return digest
            if self.remote:
                self.fs.put_file(str(local), self.key_url(key))
            else:
                target = Path(self.key_url(key))
                target.parent.mkdir(parents=True, exist_ok=True)
                temporary = target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}")
                shutil.copyfile(local, temporary)
                os.replace(temporary, target)
        return digest

    def put_folder(self, local: Path, *, skip: Iterable[str] = ()) -> dict[str, str]:
        """Publish every file of a local folder: its manifest, relative path → SHA-256."""
        skipped = set(skip)
        manifest: dict[str, str] = {}
        for path in sorted(Path(local).rglob("*")):
            relative = path.relative_to(local).as_posix()
            if path.is_file() and relative not in skipped:
                manifest[relative] = self.put(path)
        return manifest

    # -- reading -----------------------------------------------------------------

    def has(self, sha256: str) -> bool:
        """Whether a file of this content is published."""
        if not self.publishes:
            return False
        with self._translated("look for a file in"):
            return bool(self.fs.exists(self.key_url(self.object_key(sha256))))

    def fetch(self, sha256: str, local: Path) -> Path:
        """Bring the published file of this content to ``local``, verified.

        A local file that already has the digest is kept. The download goes to
        a temporary name renamed into place, so a reader never sees a partial
        file.

        Raises:
            StoreError: the object is missing, or its bytes do not have the
                recorded digest (changed or incomplete).
        """
        local = Path(local)
        if local.is_file() and file_digest(local) == sha256:
            return local
        if not self.publishes:
            raise StoreError(
                f"{local} is missing or changed (its SHA-256 is not the recorded "
                f"{sha256[:12]}…); restore it from a backup, or run the stage again.",
                path=local,
            )
        key = self.object_key(sha256)
        local.parent.mkdir(parents=True, exist_ok=True)
        temporary = local.with_name(f".{local.name}.fetch-{secrets.token_hex(4)}")
        with self._translated(f"fetch {key} from"):
            self.fs.get_file(self.key_url(key), str(temporary))
        found = file_digest(temporary)
        if found != sha256:
            temporary.unlink(missing_ok=True)
            raise StoreError(
                f"{self.key_url(key)} does not match its recorded SHA-256 ({found[:12]}… instead "
                f"of {sha256[:12]}…): it was changed or is incomplete, and is not used. Publish "
                f"it again (run the stage again) or restore it.",
                key=key,
            )
        os.replace(temporary, local)
        return local

    def fetch_folder(self, manifest: Mapping[str, str], local: Path) -> Path:
        """Bring every file of a published folder (its manifest) to ``local``."""
        for relative, digest in manifest.items():
            _check_key(relative)
            self.fetch(digest, Path(local) / relative)
        return Path(local)

    def _translated(self, action: str) -> Any:
        return _Translated(action, self.display_url)


class _Translated:
    """Turn filesystem and network errors into StoreError naming the location."""

    def __init__(self, action: str, where: str) -> None:
        self.action, self.where = action, where

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: BaseException | None, trace: Any) -> None:
        if error is None or isinstance(error, StoreError) or not isinstance(error, Exception):
            return  # nothing to translate: any error propagates as it is
        if isinstance(error, FileNotFoundError):
            message = f"cannot {self.action} {self.where}: it is not there"
        else:
            message = f"cannot {self.action} {self.where}: {type(error).__name__}: {error}"
        raise StoreError(
            message + "; check MLOPS_NB_ARTIFACTS, the credentials (AWS_* variables) and "
            "that the location is reachable",
            location=self.where,
        ) from error


def _check_key(key: str) -> None:
    parts = key.split("/")
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise StoreError(f"artifact key {key!r} is not a relative path inside the location")
