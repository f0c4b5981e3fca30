"""What a bundle folder holds, where, and its manifest ``bundle.json``.

Shared by ``build`` (which writes a bundle) and ``load`` (which reads one back).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_nb.errors import ServingError
from mlops_nb.registry.package import CARD_HTML, CARD_MD, METADATA_FILE, MODEL_FILE, SIGNATURE_FILE

__all__ = [
    "APP_UID",
    "MANIFEST",
    "MODEL_DIR",
    "OPTIONAL_FILES",
    "REQUIRED_FILES",
    "WHEELS_DIR",
    "Bundle",
    "read_manifest",
]

MANIFEST = "bundle.json"
MODEL_DIR = "model"
WHEELS_DIR = "wheels"
REQUIRED_FILES = (MODEL_FILE, SIGNATURE_FILE, METADATA_FILE)
OPTIONAL_FILES = (CARD_MD, CARD_HTML)
APP_UID = 10001
"""The user id the container runs as (not root)."""


@dataclass(frozen=True)
class Bundle:
    """A deployment bundle written by :func:`~mlops_nb.serving.bundle.build_bundle`.

    Attributes:
        path: The bundle folder.
        files: Path inside the bundle (``model/model.skops``, ``Dockerfile``,
            ...) → SHA-256, as recorded in ``bundle.json`` (which is not listed).
        model: The model name.
        version: The model version.
    """

    path: Path
    files: dict[str, str]
    model: str
    version: int

    @property
    def ref(self) -> str:
        """``NAME:VERSION`` of the bundled model."""
        return f"{self.model}:{self.version}"


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest at ``path``.

    Raises:
        ServingError: It cannot be read, or is not a manifest (no ``files``).
    """
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ServingError(
            f"cannot read {path}: {exc}; build the bundle again with build_bundle "
            f"(`mlops-nb bundle`).",
            path=path,
        ) from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ServingError(f"{path} is not a bundle manifest (no 'files'); build it again.")
    return manifest
