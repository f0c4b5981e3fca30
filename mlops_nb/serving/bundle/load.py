"""Load the model of a deployment bundle back, verified.

This module imports neither the HTTP app nor the bundle's writer: the server's
state and the model worker load bundles through it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from mlops_nb.artifacts import sha256
from mlops_nb.errors import ServingError
from mlops_nb.registry import LoadedModel, ModelVersion
from mlops_nb.registry.package import METADATA_FILE, MODEL_FILE, read_metadata, read_package
from mlops_nb.serving.bundle.manifest import MANIFEST, MODEL_DIR, read_manifest

__all__ = ["load_bundle"]


def _locate(path: Path) -> tuple[Path, Path | None]:
    """The model folder and the manifest for ``path``: a bundle folder or its ``model/``."""
    if (path / MANIFEST).is_file():
        return path / MODEL_DIR, path / MANIFEST
    if (path / METADATA_FILE).is_file():
        manifest = path.parent / MANIFEST
        return path, manifest if manifest.is_file() else None
    raise ServingError(
        f"{path} is neither a bundle (no {MANIFEST}) nor a model folder (no {METADATA_FILE}); "
        f"point at a folder written by build_bundle or its {MODEL_DIR}/ folder.",
        path=path,
    )


def _verify(model_dir: Path, manifest_path: Path) -> str:
    """Check the model files against the manifest; return the model's SHA-256."""
    files = read_manifest(manifest_path)["files"]
    prefix = f"{model_dir.name}/"
    listed = {
        name[len(prefix) :]: digest for name, digest in files.items() if name.startswith(prefix)
    }
    if MODEL_FILE not in listed:
        raise ServingError(
            f"{manifest_path} lists no {prefix}{MODEL_FILE}; build the bundle again."
        )
    for name, digest in sorted(listed.items()):
        file = model_dir / name
        if not file.is_file() or sha256(file) != digest:
            what = "is missing" if not file.is_file() else "does not match its SHA-256"
            raise ServingError(
                f"{file} {what} in {manifest_path}: the bundle was changed after it was "
                f"built. Do not serve it; build the bundle again from the registry.",
                path=file,
            )
    return str(listed[MODEL_FILE])


def _version(meta: dict[str, Any], model_dir: Path, aliases: list[str]) -> ModelVersion:
    try:
        return ModelVersion(
            name=str(meta["name"]),
            version=int(meta["version"]),
            created_at=datetime.fromisoformat(str(meta["created_at"])),
            status="active",
            aliases=tuple(sorted(aliases)),
            metrics=dict(meta.get("metrics") or {}),
            task=str(meta["task"]),
            target=str(meta["target"]),
            lineage=dict(meta.get("lineage") or {}),
            path=model_dir,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ServingError(
            f"{model_dir / METADATA_FILE} lacks {exc} or has it in the wrong form; build the "
            f"bundle again from the registry.",
            path=model_dir,
        ) from exc


def load_bundle(path: str | Path) -> LoadedModel:
    """Load the model of a bundle, verified: hashes first, then trusted types only.

    ``path`` is a bundle folder or its ``model/`` folder (what the container's
    ``mlops-nb serve --model-dir /app/model`` passes). When ``bundle.json`` is
    found (in ``path`` or next to the model folder) every model file must match
    it; a bare model folder is checked against its own ``metadata.json``.

    Raises:
        ServingError: Not a bundle, or a file missing or changed since the build.
        RegistryError: The model fails its hash or holds untrusted types.
    """
    model_dir, manifest_path = _locate(Path(path).expanduser().resolve())
    meta = read_metadata(model_dir)
    expected = (meta.get("model") or {}).get("sha256")
    aliases: list[str] = []
    if manifest_path is not None:
        expected = _verify(model_dir, manifest_path)
        aliases = list(read_manifest(manifest_path).get("aliases") or [])
    model, signature, meta = read_package(model_dir, str(expected))
    return LoadedModel(model, _version(meta, model_dir, aliases), signature, meta)
