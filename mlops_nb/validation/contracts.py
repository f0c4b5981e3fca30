"""Read and write data contracts: pandera ``DataFrameSchema`` objects as YAML.

The YAML is pandera's own serialization (``pandera.io.pandas_io``, the code
behind ``DataFrameSchema.to_yaml`` / ``from_yaml``). We do the file and YAML
handling ourselves so that every failure becomes a :class:`ContractError`,
numpy scalars in check values can be written, the pandas 3 string dtype is
written as ``str``, and a check pandera cannot serialize is refused instead of
being dropped with a warning.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandera.pandas as pa
import yaml
from pandera.io import pandas_io

from mlops_nb.errors import ContractError
from mlops_nb.jsonvalues import plain
from mlops_nb.validation._dtypes import dtype_label
from mlops_nb.validation._layout import check_layout, check_schema
from mlops_nb.yamlio import load_yaml

NEW_CONTRACT_HINT = (
    "create one from a sample of the data with "
    "save_contract(infer_contract(df), PATH), or fix the path given with "
    "-p contract=PATH or in the contracts: section of pipeline.yaml"
)


def _read_yaml(path: Path) -> Any:
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "not found"
        raise ContractError(f"contract file {path} {what}; {NEW_CONTRACT_HINT}.", path=path)
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ContractError(
            f"contract file {path} is not valid YAML: {exc}\nFix the syntax at the "
            f"line shown (indentation, a ':' after each key).",
            path=path,
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"cannot read contract file {path}: {exc}.", path=path) from exc


def load_contract(path: str | os.PathLike[str]) -> pa.DataFrameSchema:
    """Load a contract (a pandera ``DataFrameSchema`` in YAML) from ``path``.

    Raises:
        ContractError: the file is missing or unreadable, is not valid YAML, or
            does not describe a pandera dataframe schema.
    """
    path = Path(path).expanduser()
    data = _read_yaml(path)
    check_layout(data, path)
    personal = _take_pii(data, path)
    try:
        schema: pa.DataFrameSchema = pandas_io.deserialize_schema(data)
    except Exception as exc:  # pandera raises many types here: translate them all
        raise ContractError(
            f"contract file {path} is not a valid pandera schema: "
            f"{type(exc).__name__}: {exc}\nCheck the dtype names (int64, float64, "
            f"str, bool, datetime64[ns]) and the check names and arguments "
            f"(isin: [..], in_range: {{min_value: .., max_value: ..}}).",
            path=path,
        ) from exc
    check_schema(schema, str(path))
    return mark_pii(schema, personal)


def pii_columns(schema: pa.DataFrameSchema) -> list[str]:
    """The columns a contract marks ``pii: true`` (personal data), in its order."""
    return [name for name, column in schema.columns.items() if (column.metadata or {}).get("pii")]


def mark_pii(schema: pa.DataFrameSchema, columns: Iterable[str]) -> pa.DataFrameSchema:
    """``schema`` with ``columns`` marked ``pii: true`` (those it does not have are ignored)."""
    for name in columns:
        if name in schema.columns:
            known = schema.columns[name].metadata or {}
            schema = schema.update_column(name, metadata={**known, "pii": True})
    return schema


def _take_pii(data: dict[str, Any], path: Path) -> list[str]:
    """Remove the ``pii:`` keys pandera does not know; the columns marked true."""
    columns = data.get("columns") or {}
    if isinstance(columns, dict):
        entries = list(columns.items())
    else:
        entries = [(entry.get("name"), entry) for entry in columns]
    marked = []
    for name, entry in entries:
        if "pii" not in entry:
            continue
        flag = entry.pop("pii")
        if not isinstance(flag, bool):
            raise ContractError(
                f"{path}: column '{name}' has pii: {flag!r}; write pii: true or pii: false.",
                path=path,
                column=name,
            )
        if flag:
            marked.append(str(name))
    return marked


def _label_dtypes(schema: pa.DataFrameSchema, data: dict[str, Any]) -> None:
    """Name each column's dtype as :func:`dtype_label` does: ``str``, not ``string[pyarrow]``."""
    columns = data.get("columns") or {}
    entries = columns.values() if isinstance(columns, dict) else columns
    for column, entry in zip(schema.columns.values(), entries, strict=True):
        if isinstance(entry, dict) and entry.get("dtype"):
            entry["dtype"] = dtype_label(column.dtype)


def _serialize(schema: pa.DataFrameSchema, path: Path) -> dict[str, Any]:
    with warnings.catch_warnings():
        # pandera warns and drops unregistered checks; _check_round_trip refuses them.
        warnings.filterwarnings("ignore", message="Only registered checks")
        try:
            data: dict[str, Any] = pandas_io.serialize_schema(schema)
        except Exception as exc:  # translate whatever pandera raises
            raise ContractError(
                f"cannot write contract '{schema.name}' to {path}: pandera cannot "
                f"serialize it ({type(exc).__name__}: {exc}).",
                path=path,
            ) from exc
    data = plain(data)
    _label_dtypes(schema, data)
    columns = data.get("columns")
    if isinstance(columns, dict):
        for name in pii_columns(schema):
            if isinstance(columns.get(name), dict):
                columns[name]["pii"] = True
    return data


def _lost_checks(schema: pa.DataFrameSchema, again: pa.DataFrameSchema) -> list[str]:
    lost = []
    for name, column in schema.columns.items():
        kept = {check.name for check in again.columns[name].checks}
        lost += [f"column '{name}': {c.name}" for c in column.checks if c.name not in kept]
    kept_frame = {check.name for check in again.checks}
    lost += [f"dataframe: {c.name}" for c in schema.checks if c.name not in kept_frame]
    return lost


def _check_round_trip(schema: pa.DataFrameSchema, data: dict[str, Any], path: Path) -> None:
    """Refuse to write a contract that would not load back with the same checks."""
    try:
        again = pandas_io.deserialize_schema(yaml.safe_load(yaml.safe_dump(data)))
    except Exception as exc:  # translate whatever pandera or yaml raises
        raise ContractError(
            f"cannot write contract '{schema.name}' to {path}: it would not load back "
            f"({type(exc).__name__}: {exc}).",
            path=path,
        ) from exc
    lost = _lost_checks(schema, again)
    if lost:
        raise ContractError(
            f"cannot write contract '{schema.name}' to {path}: pandera can only save "
            f"built-in or registered checks, so these would be lost: {'; '.join(lost)}. "
            f"Use built-in checks (isin, in_range, greater_than_or_equal_to, ...) or "
            f"register yours with pandera.extensions.register_check_method.",
            path=path,
        )


def _header(schema: pa.DataFrameSchema) -> str:
    lines = [
        f"Data contract '{schema.name or 'unnamed'}' for mlops-nb, in pandera's YAML format.",
        "Load it with mlops_nb.validation.load_contract(path). Rows that break it fail the",
        "validate stage, or are set aside with -p on_invalid=quarantine.",
    ]
    return "".join(f"# {line}\n" for line in lines)


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file next to ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_contract(schema: pa.DataFrameSchema, path: str | os.PathLike[str]) -> Path:
    """Write ``schema`` to ``path`` as YAML, atomically; return the path.

    Raises:
        ContractError: ``schema`` is not a ``DataFrameSchema``, has a check that
            pandera cannot save, declares a column that cannot work, or the file
            cannot be written.
    """
    path = Path(path).expanduser()
    if not isinstance(schema, pa.DataFrameSchema):
        raise ContractError(
            f"save_contract needs a pandera DataFrameSchema, got {type(schema).__name__}.",
            path=path,
        )
    check_schema(schema, f"contract '{schema.name}'")
    data = _serialize(schema, path)
    _check_round_trip(schema, data, path)
    try:
        text = _header(schema) + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        _write_atomic(path, text)
    except (OSError, yaml.YAMLError) as exc:
        raise ContractError(
            f"cannot write contract '{schema.name}' to {path}: {exc}; check that the "
            f"folder is writable.",
            path=path,
        ) from exc
    return path


def input_contract(
    schema: pa.DataFrameSchema, target: str, columns: Iterable[str] | None = None
) -> pa.DataFrameSchema:
    """The contract of a model's input: ``schema`` without its target column.

    This is the signature a registered model is served under. With ``columns``
    (the columns the model reads, plus any declared keys), only those are kept,
    so serving clients are never asked for a column the model does not read,
    such as personal data left out of the features.

    Raises:
        ContractError: ``columns`` names a column the contract does not have.
    """
    if columns is not None:
        wanted = set(columns) - {target}
        unknown = sorted(wanted - set(schema.columns))
        if unknown:
            raise ContractError(
                f"the model reads column(s) {', '.join(unknown)} that contract "
                f"'{schema.name}' does not declare; add them to the contract."
            )
        dropped = [c for c in schema.columns if c not in wanted]
        return schema.remove_columns(dropped) if dropped else schema
    if target not in schema.columns:
        return schema
    return schema.remove_columns([target])
