"""The files of one registered version, ``<registry>/<name>/<version>/``.

=================  ===========================================================
file               content
=================  ===========================================================
model.skops        the estimator, in skops format (never pickle or joblib)
signature.yaml     the pandera input contract the model expects
metadata.json      task, target, metrics, params, slices, inputs, lineage,
                   environment, SHA-256 of model.skops
model_card.md      the model card, Markdown
model_card.html    the same card as a standalone HTML page
=================  ===========================================================

Loading checks the SHA-256 of ``model.skops`` first, then lets skops build only
trusted types (scikit-learn, NumPy, SciPy, mlops_nb), the policy of
:func:`mlops_nb.artifacts.read_model`.
"""

from __future__ import annotations

import json
import math
import numbers
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa

from mlops_nb.artifacts import read_model, sha256, write_json
from mlops_nb.errors import ArtifactError, ContractError, RegistryError
from mlops_nb.registry.card import render_card
from mlops_nb.validation import contract_summary, load_contract, save_contract

__all__ = [
    "CARD_HTML",
    "CARD_MD",
    "METADATA_FILE",
    "MODEL_FILE",
    "SIGNATURE_FILE",
    "check_attachment",
    "finish_package",
    "metric_values",
    "read_metadata",
    "read_package",
    "slice_records",
    "write_attachments",
    "write_model",
    "write_signature",
]

MODEL_FILE = "model.skops"
SIGNATURE_FILE = "signature.yaml"
METADATA_FILE = "metadata.json"
CARD_MD = "model_card.md"
CARD_HTML = "model_card.html"


def metric_values(metrics: object) -> dict[str, float | None]:
    """Check ``metrics`` is a mapping of names to numbers; NaN becomes None."""
    if not isinstance(metrics, dict):
        raise RegistryError(
            f"metrics must be a dict of name → number, got {type(metrics).__name__}."
        )
    values: dict[str, float | None] = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise RegistryError(
                f"metric {key!r} is {value!r}, not a number; pass numeric metrics only "
                f"(put other facts in params or the description)."
            )
        number = float(value)
        values[str(key)] = None if math.isnan(number) else number
    return values


def slice_records(slices: pd.DataFrame | None) -> list[dict[str, Any]]:
    """The per-slice metrics table as JSON-ready records (missing values as None)."""
    if slices is None:
        return []
    if not isinstance(slices, pd.DataFrame):
        raise RegistryError(f"slices must be a DataFrame, got {type(slices).__name__}.")
    frame = slices.reset_index(drop=True).astype(object)
    frame = frame.where(frame.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def write_model(model: Any, folder: Path) -> dict[str, str]:
    """Write ``model`` to ``folder/model.skops`` and check it loads under the trust policy.

    Returns:
        ``file``, ``sha256`` and ``class`` (the estimator's qualified class name).
    """
    import skops.io as sio

    path = folder / MODEL_FILE
    try:
        path.write_bytes(sio.dumps(model))
    except Exception as exc:  # skops raises many types for objects it cannot save
        raise RegistryError(
            f"cannot save {type(model).__name__} with skops: {type(exc).__name__}: {exc}; "
            f"register a scikit-learn estimator or pipeline.",
        ) from exc
    _read_trusted(path, f"a {type(model).__name__} that could not be loaded again")
    kind = type(model)
    return {
        "file": MODEL_FILE,
        "sha256": sha256(path),
        "class": f"{kind.__module__}.{kind.__qualname__}",
    }


def write_signature(signature: pa.DataFrameSchema, folder: Path) -> list[dict[str, Any]]:
    """Save the input contract to ``signature.yaml``; return its columns as records."""
    if not isinstance(signature, pa.DataFrameSchema):
        raise RegistryError(
            f"signature must be a pandera DataFrameSchema (the input contract), got "
            f"{type(signature).__name__}; infer one with infer_contract(X_train)."
        )
    save_contract(signature, folder / SIGNATURE_FILE)
    records: list[dict[str, Any]] = contract_summary(signature).to_dict("records")
    return records


def write_attachments(files: dict[str, Path], folder: Path) -> dict[str, str]:
    """Copy extra files into the package; return file name → SHA-256."""
    reserved = {MODEL_FILE, SIGNATURE_FILE, METADATA_FILE, CARD_MD, CARD_HTML}
    recorded: dict[str, str] = {}
    for filename, given in files.items():
        if filename in reserved or Path(filename).name != filename or filename.startswith("."):
            raise RegistryError(
                f"attachment name {filename!r} is not allowed: use a plain file name other "
                f"than {', '.join(sorted(reserved))}."
            )
        source = Path(given)
        if not source.is_file():
            raise RegistryError(f"attachment {filename!r}: {source} is not a file.", path=source)
        shutil.copyfile(source, folder / filename)
        recorded[filename] = sha256(folder / filename)
    return recorded


def check_attachment(folder: Path, ref: str, filename: str, recorded: dict[str, str]) -> Path:
    """The path of attachment ``filename`` of the package in ``folder``, checksum verified."""
    if filename not in recorded:
        have = ", ".join(sorted(recorded)) or "none"
        raise RegistryError(
            f"{ref} has no attachment {filename!r} (it has: {have}); versions registered "
            f"before monitoring existed have no reference profile — register a new version.",
            path=folder,
        )
    path = folder / filename
    if not path.is_file():
        raise RegistryError(f"{ref}: attachment {path} is missing; restore it.", path=path)
    _check_sha(path, recorded[filename])
    return path


def finish_package(folder: Path, metadata: dict[str, Any]) -> None:
    """Write ``metadata.json`` and the model card (Markdown and HTML) into ``folder``."""
    write_json(folder / METADATA_FILE, metadata)
    markdown, html = render_card(json.loads((folder / METADATA_FILE).read_text()))
    (folder / CARD_MD).write_text(markdown, encoding="utf-8")
    (folder / CARD_HTML).write_text(html, encoding="utf-8")


def read_metadata(folder: Path) -> dict[str, Any]:
    """The ``metadata.json`` of a package, or a :class:`RegistryError` saying what is wrong."""
    path = folder / METADATA_FILE
    if not folder.is_dir():
        raise RegistryError(
            f"the package folder {folder} is missing; the registry database lists it but "
            f"the files are gone: restore the folder or retire the version.",
            path=folder,
        )
    try:
        metadata: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RegistryError(
            f"cannot read {path}: {exc}; restore the package folder or retire the version.",
            path=path,
        ) from exc
    return metadata


def _read_trusted(path: Path, what: str) -> Any:
    try:
        return read_model(path)
    except ArtifactError as exc:
        raise RegistryError(
            f"refused {what}: {exc.message}. Register models built from scikit-learn "
            f"(and NumPy/SciPy) types only.",
            path=path,
        ) from exc


def _check_sha(path: Path, expected: str) -> None:
    if not path.is_file():
        raise RegistryError(
            f"{path} is missing; restore the package or retire the version.", path=path
        )
    actual = sha256(path)
    if actual != expected:
        raise RegistryError(
            f"checksum mismatch for {path}: expected sha256 {expected}, found {actual}; "
            f"the file was changed after registration. Do not load it: restore the "
            f"original or register the model again.",
            path=path,
        )


def read_package(folder: Path, expected_sha: str) -> tuple[Any, pa.DataFrameSchema, dict[str, Any]]:
    """Verify and load a package: the model, its signature and its metadata.

    Raises:
        RegistryError: The folder or a file is missing, ``model.skops`` does not
            match ``expected_sha`` (from the database) or ``metadata.json``, or it
            holds types that are not trusted.
    """
    metadata = read_metadata(folder)
    recorded = (metadata.get("model") or {}).get("sha256")
    if recorded != expected_sha:
        raise RegistryError(
            f"{folder / METADATA_FILE} records sha256 {recorded} but the registry "
            f"database has {expected_sha}; the package was changed after registration.",
            path=folder,
        )
    _check_sha(folder / MODEL_FILE, expected_sha)
    model = _read_trusted(folder / MODEL_FILE, f"to load {folder / MODEL_FILE}")
    try:
        signature = load_contract(folder / SIGNATURE_FILE)
    except ContractError as exc:
        raise RegistryError(
            f"cannot read the signature of {folder}: {exc.message}", path=folder
        ) from exc
    return model, signature, metadata
