"""Deployment bundles: a registered model with all it needs to be served from a container.

>>> bundle = build_bundle(registry, "churn@production", "deploy/churn")
>>> sorted(bundle.files)
['Dockerfile', 'README.md', 'model/metadata.json', 'model/model.skops', ...]

A bundle folder holds:

=====================  ==========================================================
file                   content
=====================  ==========================================================
model/                 the registry package: model.skops, signature.yaml,
                       metadata.json, model_card.md/.html
requirements.txt       the model's libraries pinned to the versions it was
                       trained with, the serving stack and ``mlops-nb[serve]``
Dockerfile             a non-root image serving the model on ``port`` with
                       ``mlops-nb serve --model-dir /app/model``
README.md              how to build, run and call it; the input contract
wheels/                mlops-nb's own wheel (``wheels="all"``: every wheel)
bundle.json            the manifest: model, version and SHA-256 of every file
=====================  ==========================================================

The image installs ``mlops-nb[serve]``, not JupyterLab or the widgets, with
``pip install --find-links wheels/``: mlops-nb's own wheel is in ``wheels/`` (made
by :mod:`~mlops_nb.serving.bundle.wheels`, cached), the rest comes from the package
index. With ``wheels="all"`` every wheel is downloaded into ``wheels/`` and the
Dockerfile installs with ``--no-index``, so ``docker build`` needs no network.

The bundle is written to a temporary folder and renamed into place, so it is
complete or absent. The texts come from ``texts``;
:func:`~mlops_nb.serving.bundle.load.load_bundle` loads the model back.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops_nb.artifacts import sha256, write_json
from mlops_nb.errors import ServingError
from mlops_nb.registry import LoadedModel, Registry
from mlops_nb.registry.package import MODEL_FILE
from mlops_nb.serving.bundle.manifest import (
    MANIFEST,
    MODEL_DIR,
    OPTIONAL_FILES,
    REQUIRED_FILES,
    WHEELS_DIR,
    Bundle,
)
from mlops_nb.serving.bundle.texts import (
    dockerfile_text,
    mlops_nb_version,
    python_minor,
    readme_text,
    requirements_text,
    wheels_readme_text,
)
from mlops_nb.serving.bundle.wheels import download_wheels, mlops_nb_wheel

__all__ = ["WHEEL_MODES", "build_bundle"]

WHEEL_MODES = ("mlops-nb", "all", None)
"""``wheels=``: mlops-nb's own wheel (default), every wheel (offline builds), or none."""


def _check_port(port: object) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ServingError(f"port={port!r} must be a whole number from 1 to 65535, e.g. 8000.")
    return port


def _check_wheel(wheel: str | Path | None) -> Path | None:
    if wheel is None:
        return None
    path = Path(wheel).expanduser().resolve()
    if not path.is_file() or path.suffix != ".whl":
        raise ServingError(
            f"wheel {path} is not a .whl file; build one with "
            f"`pip wheel --no-deps -w dist /path/to/mlops-nb` and pass its path.",
            path=path,
        )
    return path


def _check_wheels(wheels: object) -> str | None:
    if wheels is None or (isinstance(wheels, str) and wheels in WHEEL_MODES):
        return wheels
    raise ServingError(
        f"wheels={wheels!r} is not one of 'mlops-nb' (mlops-nb's own wheel, the default), "
        f"'all' (every wheel, for a docker build without network) or None (no wheel: the "
        f"package index must serve mlops-nb)."
    )


def _copy_package(loaded: LoadedModel, folder: Path) -> None:
    """Copy the verified registry package into ``folder`` and check the model's hash again."""
    folder.mkdir()
    source = loaded.version.path
    for name in REQUIRED_FILES + OPTIONAL_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, folder / name)
        elif name in REQUIRED_FILES:
            raise ServingError(
                f"{source / name} is missing; restore the package of {loaded.version.ref} "
                f"before bundling it.",
                path=source / name,
            )
    expected = (loaded.metadata.get("model") or {}).get("sha256")
    if sha256(folder / MODEL_FILE) != expected:
        raise ServingError(
            f"{source / MODEL_FILE} changed while it was being bundled (its SHA-256 no longer "
            f"matches the registry); bundle {loaded.version.ref} again.",
            path=source / MODEL_FILE,
        )


def _hashes(folder: Path) -> dict[str, str]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)
    return {path.relative_to(folder).as_posix(): sha256(path) for path in files}


def _write_files(
    loaded: LoadedModel,
    staging: Path,
    port: int,
    wheel: Path | None,
    mode: str | None,
    built_at: str,
) -> None:
    ref, meta = loaded.version.ref, loaded.metadata
    _copy_package(loaded, staging / MODEL_DIR)
    wheels = staging / WHEELS_DIR
    wheels.mkdir()
    (wheels / "README.txt").write_text(wheels_readme_text(), encoding="utf-8")
    if wheel is None and mode is not None:
        wheel = mlops_nb_wheel(mlops_nb_version())
    if wheel is not None:
        shutil.copyfile(wheel, wheels / wheel.name)
    offline = mode == "all"
    texts = {
        "requirements.txt": requirements_text(meta, ref),
        "Dockerfile": dockerfile_text(meta, ref, port, offline=offline),
        "README.md": readme_text(loaded, port, built_at, offline=offline),
    }
    for name, text in texts.items():
        (staging / name).write_text(text, encoding="utf-8")
    if offline:
        download_wheels(staging / "requirements.txt", wheels, python_minor(meta))


def _manifest(
    loaded: LoadedModel, files: dict[str, str], port: int, mode: str | None, built_at: str
) -> dict[str, Any]:
    version = loaded.version
    return {
        "format": 1,
        "model": version.name,
        "version": version.version,
        "ref": version.ref,
        "aliases": list(version.aliases),
        "built_at": built_at,
        "built_with": {"mlops-nb": mlops_nb_version(), "python": platform.python_version()},
        "port": port,
        "wheels": mode or "none",
        "files": files,
    }


def _make_readable(folder: Path) -> None:
    """Folders 755 and files 644, as the image's non-root user needs to read them."""
    os.chmod(folder, 0o755)
    for path in folder.rglob("*"):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def _place(staging: Path, target: Path, overwrite: bool) -> None:
    """Rename ``staging`` to ``target``; replace an existing bundle only if ``overwrite``."""
    if target.exists() and not target.is_dir():
        raise ServingError(f"{target} is a file; choose a folder for the bundle.", path=target)
    if target.is_dir() and any(target.iterdir()):
        if not overwrite:
            raise ServingError(
                f"{target} already exists and is not empty; choose a new folder, or pass "
                f"overwrite=True to replace a bundle written there before.",
                path=target,
            )
        if not (target / MANIFEST).is_file():
            raise ServingError(
                f"{target} is not a bundle (it has no {MANIFEST}); refusing to replace it. "
                f"Choose a new or empty folder.",
                path=target,
            )
        aside = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(target, aside)
        os.replace(staging, target)
        shutil.rmtree(aside, ignore_errors=True)
        return
    if target.is_dir():
        target.rmdir()
    os.replace(staging, target)


def build_bundle(
    registry: Registry,
    model_ref: str,
    target_dir: str | Path,
    *,
    port: int = 8000,
    wheel: str | Path | None = None,
    wheels: str | None = "mlops-nb",
    overwrite: bool = False,
) -> Bundle:
    """Write a deployment bundle of a registered model to ``target_dir``.

    Args:
        registry: The model registry.
        model_ref: ``NAME``, ``NAME@ALIAS`` or ``NAME:VERSION``.
        target_dir: The bundle folder; it must not exist, or be empty.
        port: The port the container serves on.
        wheel: An mlops-nb wheel to put in ``wheels/`` instead of the one made
            from this mlops-nb.
        wheels: What ``wheels/`` holds: ``"mlops-nb"`` (default) mlops-nb's own
            wheel, built from its source tree or re-packed from the installed
            distribution, and cached; ``"all"`` every wheel ``requirements.txt``
            needs, for the image's Python on Linux on this machine's architecture,
            downloaded with ``pip download`` (it needs the index now, and the
            Dockerfile installs with ``--no-index``); None no wheel at all (the
            index must serve mlops-nb).
        overwrite: Replace a bundle already at ``target_dir`` (only a folder
            holding a ``bundle.json`` is ever replaced).

    Returns:
        The bundle: its folder, files with their SHA-256, model and version.

    Raises:
        ModelNotFoundError: Unknown model, version or alias.
        RegistryError: The package fails its integrity or trust checks.
        ServingError: A bad port, wheel or wheels, ``target_dir`` is taken, or
            mlops-nb's wheel cannot be built or the wheels downloaded (the message
            holds pip's output).
    """
    port, wheel_path, mode = _check_port(port), _check_wheel(wheel), _check_wheels(wheels)
    target = Path(target_dir).expanduser().resolve()
    loaded = registry.load(model_ref)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    built_at = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        _write_files(loaded, staging, port, wheel_path, mode, built_at)
        files = _hashes(staging)
        write_json(staging / MANIFEST, _manifest(loaded, files, port, mode, built_at))
        _make_readable(staging)
        _place(staging, target, overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Bundle(target, files, loaded.version.name, loaded.version.version)
