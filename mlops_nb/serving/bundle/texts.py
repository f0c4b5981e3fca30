"""The texts a bundle is written with: requirements.txt, Dockerfile, README.md.

Each is a jinja2 template in ``templates/`` (package data), rendered as plain
text: no HTML escaping, the template's trailing newline kept, and every name a
template uses must be given (``StrictUndefined``). This module works out what
goes in them: the pinned versions, the Python image, the example request and
the contract table.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2

from mlops_nb.config import OUTPUTS_ENV
from mlops_nb.environment import installed_version
from mlops_nb.registry import LoadedModel
from mlops_nb.registry.package import CARD_MD
from mlops_nb.serving.bundle.manifest import APP_UID, MANIFEST, MODEL_DIR, WHEELS_DIR
from mlops_nb.serving.options import TOKEN_ENV
from mlops_nb.validation import contract_summary
from mlops_nb.validation.fast import example_record

__all__ = [
    "MODEL_PACKAGES",
    "SERVING_PACKAGES",
    "Pin",
    "dockerfile_text",
    "mlops_nb_version",
    "python_minor",
    "readme_text",
    "requirements_text",
    "wheels_readme_text",
]

MODEL_PACKAGES = ("scikit-learn", "numpy", "scipy", "pandas", "skops", "pandera", "pyarrow")
SERVING_PACKAGES = ("fastapi", "starlette", "pydantic", "uvicorn", "httpx", "prometheus-client")
"""The ``[serve]`` extra's packages (``tests/test_dependencies.py`` checks they are the same)."""
NOT_RECORDED = "{}: not recorded at training; the version installed when the bundle was built"
NOT_INSTALLED = "{}: not installed where the bundle was built; pin it after testing"


@dataclass(frozen=True)
class Pin:
    """One requirement: ``numpy==1.26.4`` (or a bare name), after an optional comment line."""

    requirement: str
    comment: str = ""


def mlops_nb_version() -> str:
    """The mlops-nb version building the bundle (installed, else the package's own)."""
    # Imported here: the root package sits above serving (this is its version only).
    from mlops_nb import __version__

    return installed_version("mlops-nb") or __version__


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mlops_nb.serving.bundle", "templates"),
        autoescape=False,  # plain text: a Dockerfile and Markdown, never HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["cell"] = _cell
    return env


def _render(template: str, **values: Any) -> str:
    return _environment().get_template(template).render(**values)


def _pin(package: str, version: str | None, note: str) -> Pin:
    if version is None:
        return Pin(package, NOT_INSTALLED.format(package))
    return Pin(f"{package}=={version}", note)


def requirements_text(metadata: dict[str, Any], ref: str) -> str:
    """``requirements.txt`` for a model whose registry metadata is ``metadata``.

    The model's libraries are pinned to the versions recorded when it was
    registered (``metadata["environment"]["packages"]``), so the model loads and
    predicts as it did in training. A library not recorded there (pyarrow in
    older packages) and the serving stack are pinned to the versions installed
    now; mlops-nb to the version building the bundle.
    """
    recorded = (metadata.get("environment") or {}).get("packages") or {}
    model_pins = [
        Pin(f"{package}=={recorded[package]}")
        if recorded.get(package)
        else _pin(package, installed_version(package), NOT_RECORDED.format(package))
        for package in MODEL_PACKAGES
    ]
    return _render(
        "requirements.txt.j2",
        ref=ref,
        model_pins=model_pins,
        serving_pins=[_pin(p, installed_version(p), "") for p in SERVING_PACKAGES],
        wheels=WHEELS_DIR,
        trained=recorded.get("mlops-nb"),
        current=mlops_nb_version(),
    )


def python_minor(metadata: dict[str, Any]) -> str:
    """The Python of the image: ``X.Y`` the model was trained with, else the one running here."""
    recorded = str((metadata.get("environment") or {}).get("python") or "")
    parts = recorded.split(".")
    if len(parts) >= 2 and all(part.isdigit() for part in parts[:2]):
        return ".".join(parts[:2])
    return ".".join(platform.python_version_tuple()[:2])


def _image(ref: str) -> str:
    return ref.replace(":", "-")


def dockerfile_text(metadata: dict[str, Any], ref: str, port: int, offline: bool = False) -> str:
    """A Dockerfile serving the bundle's model on ``port`` as a non-root user.

    The server binds 0.0.0.0 inside the container, which it refuses to do
    without a token: run the image with ``-e MLOPS_NB_TOKEN=<secret>``. pip
    installs from ``wheels/`` first (mlops-nb's own wheel is there), then from the
    package index; ``offline`` (every wheel is in ``wheels/``) adds ``--no-index``.
    """
    return _render(
        "Dockerfile.j2",
        ref=ref,
        image=_image(ref),
        port=port,
        python=python_minor(metadata),
        token_env=TOKEN_ENV,
        outputs_env=OUTPUTS_ENV,
        wheels=WHEELS_DIR,
        manifest=MANIFEST,
        model_dir=MODEL_DIR,
        uid=APP_UID,
        offline=offline,
    )


def _metrics_text(metrics: dict[str, Any]) -> str:
    shown = [
        f"{name} {value:.4g}" if isinstance(value, float) else f"{name} {value}"
        for name, value in metrics.items()
    ]
    return ", ".join(shown) or "none recorded"


def readme_text(loaded: LoadedModel, port: int, built_at: str, offline: bool = False) -> str:
    """The bundle's README: what it is, how to build, run and call it, its input contract."""
    version, meta = loaded.version, loaded.metadata
    record = example_record(loaded.signature)
    environment = meta.get("environment") or {}
    sklearn = (environment.get("packages") or {}).get("scikit-learn", "?")
    contract = contract_summary(loaded.signature)
    return _render(
        "README.md.j2",
        version=version,
        mlops_nb=mlops_nb_version(),
        built_at=built_at,
        registered=f"{version.created_at:%Y-%m-%d %H:%M %Z}".strip(),
        metrics=_metrics_text(version.metrics),
        lineage=version.lineage,
        trained_with=f"Python {environment.get('python', '?')}, scikit-learn {sklearn}",
        model_dir=MODEL_DIR,
        card=CARD_MD,
        python=python_minor(meta),
        port=port,
        wheels=WHEELS_DIR,
        manifest=MANIFEST,
        image=_image(version.ref),
        token_env=TOKEN_ENV,
        body=json.dumps({"records": [record if record is not None else {"<column>": "<value>"}]}),
        contract_header=list(contract.columns),
        contract_rows=list(contract.itertuples(index=False)),
        offline=offline,
    )


def wheels_readme_text() -> str:
    """``wheels/README.txt``: what the folder is for."""
    return _render("wheels_README.txt.j2")
