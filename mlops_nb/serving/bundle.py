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
                       trained with, the serving stack and mlops-nb itself
Dockerfile             a non-root image serving the model on ``port`` with
                       ``mlops-nb serve --model-dir /app/model``
README.md              how to build, run and call it; the input contract
wheels/                wheels pip may install from (e.g. mlops-nb's own)
bundle.json            the manifest: model, version and SHA-256 of every file
=====================  ==========================================================

The bundle is written to a temporary folder and renamed into place, so it is
complete or absent. :func:`load_bundle` loads the model back, checking the
manifest's hashes and loading only trusted types.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa

from mlops_nb.artifacts import sha256, write_json
from mlops_nb.errors import ServingError
from mlops_nb.registry import LoadedModel, ModelVersion, Registry
from mlops_nb.registry.package import (
    CARD_HTML,
    CARD_MD,
    METADATA_FILE,
    MODEL_FILE,
    SIGNATURE_FILE,
    read_metadata,
    read_package,
)
from mlops_nb.serving.app import TOKEN_ENV
from mlops_nb.validation import contract_summary, validate

__all__ = [
    "MANIFEST",
    "MODEL_DIR",
    "Bundle",
    "build_bundle",
    "dockerfile_text",
    "example_record",
    "load_bundle",
    "requirements_text",
]

MANIFEST = "bundle.json"
MODEL_DIR = "model"
WHEELS_DIR = "wheels"
REQUIRED_FILES = (MODEL_FILE, SIGNATURE_FILE, METADATA_FILE)
OPTIONAL_FILES = (CARD_MD, CARD_HTML)
MODEL_PACKAGES = ("scikit-learn", "numpy", "scipy", "pandas", "skops", "pandera", "pyarrow")
SERVING_PACKAGES = ("fastapi", "starlette", "pydantic", "uvicorn")
APP_UID = 10001
"""The user id the container runs as (not root)."""


@dataclass(frozen=True)
class Bundle:
    """A deployment bundle written by :func:`build_bundle`.

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


# -- requirements and Dockerfile --------------------------------------------------


def _installed(package: str) -> str | None:
    try:
        return importlib_metadata.version(package)
    except importlib_metadata.PackageNotFoundError:
        return None


def _mlops_nb_version() -> str:
    from mlops_nb import __version__

    return _installed("mlops-nb") or __version__


def _pin(package: str, version: str | None, note: str) -> list[str]:
    if version is None:
        return [
            f"# {package}: not installed where the bundle was built; pin it after testing",
            package,
        ]
    return ([f"# {note}"] if note else []) + [f"{package}=={version}"]


def requirements_text(metadata: dict[str, Any], ref: str) -> str:
    """``requirements.txt`` for a model whose registry metadata is ``metadata``.

    The model's libraries are pinned to the versions recorded when it was
    registered (``metadata["environment"]["packages"]``), so the model loads and
    predicts as it did in training. A library not recorded there (pyarrow in
    older packages) and the serving stack are pinned to the versions installed
    now; mlops-nb to the version building the bundle.
    """
    recorded = (metadata.get("environment") or {}).get("packages") or {}
    lines = [
        f"# Requirements of the deployment bundle of {ref}, written by mlops-nb.",
        "# Model libraries: the versions the model was trained and registered with.",
    ]
    for package in MODEL_PACKAGES:
        if recorded.get(package):
            lines.append(f"{package}=={recorded[package]}")
        else:
            lines += _pin(
                package,
                _installed(package),
                f"{package}: not recorded at training; "
                "the version installed when the bundle was built",
            )
    lines.append("# Serving stack: the versions installed when the bundle was built.")
    for package in SERVING_PACKAGES:
        lines += _pin(package, _installed(package), "")
    current, trained = _mlops_nb_version(), recorded.get("mlops-nb")
    lines.append("# mlops-nb itself: from wheels/ or a package index (see README.md).")
    if trained and trained != current:
        lines.append(f"# (the model was registered with mlops-nb {trained})")
    lines.append(f"mlops-nb=={current}")
    return "\n".join(lines) + "\n"


def _python_minor(metadata: dict[str, Any]) -> str:
    recorded = str((metadata.get("environment") or {}).get("python") or "")
    parts = recorded.split(".")
    if len(parts) >= 2 and all(part.isdigit() for part in parts[:2]):
        return ".".join(parts[:2])
    return ".".join(platform.python_version_tuple()[:2])


def dockerfile_text(metadata: dict[str, Any], ref: str, port: int) -> str:
    """A Dockerfile serving the bundle's model on ``port`` as a non-root user.

    The server binds 0.0.0.0 inside the container, which it refuses to do
    without a token: run the image with ``-e MLOPS_NB_TOKEN=<secret>``.
    """
    python = _python_minor(metadata)
    health = (
        "import sys, urllib.request; "
        f"sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:{port}/health', "
        "timeout=4).status == 200 else 1)"
    )
    return f"""\
# Serves model {ref} with mlops-nb (see README.md).
#   docker build -t {ref.replace(":", "-")} .
#   docker run --rm -p {port}:{port} -e {TOKEN_ENV}=<secret> {ref.replace(":", "-")}
# The server listens on 0.0.0.0 in the container and refuses to start without {TOKEN_ENV}.
FROM python:{python}-slim

ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    MLOPS_NB_OUTPUTS=/app/outputs

WORKDIR /app
COPY requirements.txt ./
COPY {WHEELS_DIR}/ ./{WHEELS_DIR}/
RUN pip install --no-cache-dir --find-links ./{WHEELS_DIR} -r requirements.txt

COPY {MANIFEST} ./
COPY {MODEL_DIR}/ ./{MODEL_DIR}/
RUN useradd --system --uid {APP_UID} --no-create-home --shell /usr/sbin/nologin mlops \\
    && mkdir -p /app/outputs \\
    && chown {APP_UID} /app/outputs
USER {APP_UID}
VOLUME ["/app/outputs"]

EXPOSE {port}
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \\
    CMD ["python", "-c", "{health}"]
CMD ["mlops-nb", "serve", "--model-dir", "/app/{MODEL_DIR}", \\
     "--host", "0.0.0.0", "--port", "{port}"]
"""


# -- README ---------------------------------------------------------------------------


def _first(values: Any) -> Any:
    items = sorted(values, key=str) if isinstance(values, (set, frozenset)) else list(values)
    return items[0] if items else None


def _from_check(check: pa.Check) -> Any:
    """A value that passes ``check``, or None when it is not one we can read."""
    stats, name = check.statistics or {}, check.name
    if name == "isin":
        return _first(stats.get("allowed_values", ()))
    if name == "in_range":
        return (stats["min_value"] + stats["max_value"]) / 2
    picks = {
        "greater_than_or_equal_to": lambda: stats["min_value"],
        "greater_than": lambda: stats["min_value"] + 1,
        "less_than_or_equal_to": lambda: stats["max_value"],
        "less_than": lambda: stats["max_value"] - 1,
        "equal_to": lambda: stats["value"],
    }
    return picks[name]() if name in picks else None


def _by_dtype(column: pa.Column) -> Any:
    kind = getattr(getattr(column.dtype, "type", None), "kind", "O")
    return {"i": 0, "u": 0, "f": 0.0, "b": False, "M": "2024-01-01T00:00:00"}.get(kind, "text")


def _example_value(column: pa.Column) -> Any:
    value = next((v for v in map(_from_check, column.checks) if v is not None), None)
    value = _by_dtype(column) if value is None else value
    value = value.item() if hasattr(value, "item") else value
    kind = getattr(getattr(column.dtype, "type", None), "kind", "O")
    if kind in "iu" and isinstance(value, float):
        return round(value)
    if kind == "f" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def example_record(signature: pa.DataFrameSchema) -> dict[str, Any] | None:
    """A record that satisfies ``signature`` (for the README's curl example), or None.

    Values come from each column's checks (the first allowed value, the middle
    of a range) or its dtype; the record is validated before it is returned.
    """
    record = {
        str(name): _example_value(column)
        for name, column in signature.columns.items()
        if not column.regex
    }
    try:
        result = validate(
            pd.DataFrame([record]), signature, on_invalid="quarantine", max_invalid_fraction=1.0
        )
    except Exception:  # any failure only means no example is shown
        return None
    return record if result.passed else None


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(_cell, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(map(_cell, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def _metrics_text(metrics: dict[str, Any]) -> str:
    shown = [
        f"{name} {value:.4g}" if isinstance(value, float) else f"{name} {value}"
        for name, value in metrics.items()
    ]
    return ", ".join(shown) or "none recorded"


def readme_text(loaded: LoadedModel, port: int, built_at: str) -> str:
    """The bundle's README: what it is, how to build, run and call it, its input contract."""
    version, meta = loaded.version, loaded.metadata
    image = version.ref.replace(":", "-")
    record = example_record(loaded.signature)
    body = json.dumps({"records": [record if record is not None else {"<column>": "<value>"}]})
    environment = meta.get("environment") or {}
    trained_with = (
        f"Python {environment.get('python', '?')}, scikit-learn "
        f"{(environment.get('packages') or {}).get('scikit-learn', '?')}"
    )
    registered = f"{version.created_at:%Y-%m-%d %H:%M %Z}".strip()
    lineage = version.lineage
    return f"""\
# {version.name} version {version.version}: deployment bundle

Model **{version.ref}** ({version.task}, predicts `{version.target}`), packaged by
mlops-nb {_mlops_nb_version()} on {built_at} to be served over HTTP from a container.

| | |
|---|---|
| Model | {version.name}, version {version.version}, registered {registered} |
| Aliases when bundled | {", ".join(version.aliases) or "none"} |
| Metrics | {_metrics_text(version.metrics)} |
| Data version | {lineage.get("data_version") or "not recorded"} |
| Pipeline run | {lineage.get("pipeline_run") or "not recorded"} |
| Trained with | {trained_with} |

The model card is in [`{MODEL_DIR}/{CARD_MD}`]({MODEL_DIR}/{CARD_MD}).

## Contents

- `{MODEL_DIR}/`: the registry package (model in skops format, signature, metadata, card).
- `requirements.txt`: the model's libraries pinned to the versions it was trained with,
  the serving stack, and mlops-nb.
- `Dockerfile`: a `python:{_python_minor(meta)}-slim` image that runs as a non-root user and
  serves the model on port {port}.
- `{WHEELS_DIR}/`: wheels pip installs from before looking at a package index.
- `{MANIFEST}`: the SHA-256 of every file; the model files are checked against it when the
  server loads the bundle, so a changed model is refused.

## Build

mlops-nb must be installable in the image. If `mlops-nb=={_mlops_nb_version()}` is not on
your package index, put its wheel in `{WHEELS_DIR}/` first:

```sh
pip wheel --no-deps -w {WHEELS_DIR} /path/to/mlops-nb   # the mlops-nb source folder
docker build -t {image} .
```

## Run

The server listens on 0.0.0.0 inside the container, and it refuses to listen on anything
but loopback without a token. Give it one in `{TOKEN_ENV}`:

```sh
export {TOKEN_ENV}=$(python -c "import secrets; print(secrets.token_urlsafe(32))")
docker run --rm -p {port}:{port} -e {TOKEN_ENV} {image}
```

Predictions are logged to `/app/outputs/inference/` in the container; mount a volume there
to keep them (`-v {version.name}-log:/app/outputs`). Without Docker, from this folder:

```sh
pip install -r requirements.txt
mlops-nb serve --model-dir {MODEL_DIR} --port {port}      # loopback only, no token needed
```

## Call

`GET /health` answers without a token (the container's health check uses it). Every other
path needs `Authorization: Bearer $MLOPS_NB_TOKEN`:

```sh
curl -s http://localhost:{port}/predict \\
  -H "Authorization: Bearer ${TOKEN_ENV}" -H "Content-Type: application/json" \\
  -d '{body}'
```

The answer holds `model`, `version`, `request_id`, `predictions` and, for a classifier,
`probabilities` (one mapping of class to probability per record). A record that breaks the
input contract is refused with 422 and the failing rows, columns and checks; `/docs` shows
the API.

## Input contract

Each record must have exactly these keys (the signature registered with the model):

{_markdown_table(contract_summary(loaded.signature))}
"""


# -- writing a bundle ------------------------------------------------------------------


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
    loaded: LoadedModel, staging: Path, port: int, wheel: Path | None, built_at: str
) -> None:
    ref, meta = loaded.version.ref, loaded.metadata
    _copy_package(loaded, staging / MODEL_DIR)
    wheels = staging / WHEELS_DIR
    wheels.mkdir()
    (wheels / "README.txt").write_text(
        "Wheels here are installed before the package index is searched.\n"
        "Put mlops-nb's wheel here if your index does not have it (see ../README.md).\n",
        encoding="utf-8",
    )
    if wheel is not None:
        shutil.copyfile(wheel, wheels / wheel.name)
    texts = {
        "requirements.txt": requirements_text(meta, ref),
        "Dockerfile": dockerfile_text(meta, ref, port),
        "README.md": readme_text(loaded, port, built_at),
    }
    for name, text in texts.items():
        (staging / name).write_text(text, encoding="utf-8")


def _manifest(loaded: LoadedModel, files: dict[str, str], port: int, built_at: str) -> dict:
    version = loaded.version
    return {
        "format": 1,
        "model": version.name,
        "version": version.version,
        "ref": version.ref,
        "aliases": list(version.aliases),
        "built_at": built_at,
        "built_with": {"mlops-nb": _mlops_nb_version(), "python": platform.python_version()},
        "port": port,
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
    overwrite: bool = False,
) -> Bundle:
    """Write a deployment bundle of a registered model to ``target_dir``.

    Args:
        registry: The model registry.
        model_ref: ``NAME``, ``NAME@ALIAS`` or ``NAME:VERSION``.
        target_dir: The bundle folder; it must not exist, or be empty.
        port: The port the container serves on.
        wheel: An mlops-nb wheel to put in ``wheels/`` for the image to install.
        overwrite: Replace a bundle already at ``target_dir`` (only a folder
            holding a ``bundle.json`` is ever replaced).

    Returns:
        The bundle: its folder, files with their SHA-256, model and version.

    Raises:
        ModelNotFoundError: Unknown model, version or alias.
        RegistryError: The package fails its integrity or trust checks.
        ServingError: A bad port or wheel, or ``target_dir`` is taken.
    """
    port, wheel_path = _check_port(port), _check_wheel(wheel)
    target = Path(target_dir).expanduser().resolve()
    loaded = registry.load(model_ref)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    built_at = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        _write_files(loaded, staging, port, wheel_path, built_at)
        files = _hashes(staging)
        write_json(staging / MANIFEST, _manifest(loaded, files, port, built_at))
        _make_readable(staging)
        _place(staging, target, overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Bundle(target, files, loaded.version.name, loaded.version.version)


# -- loading a bundle --------------------------------------------------------------------


def _read_manifest(path: Path) -> dict[str, Any]:
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
    files = _read_manifest(manifest_path)["files"]
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
    return listed[MODEL_FILE]


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
        aliases = list(_read_manifest(manifest_path).get("aliases") or [])
    model, signature, meta = read_package(model_dir, str(expected))
    return LoadedModel(model, _version(meta, model_dir, aliases), signature, meta)
