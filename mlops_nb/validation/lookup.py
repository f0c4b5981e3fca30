"""Choose the contract that applies to a data source."""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from pathlib import Path

from mlops_nb.errors import ContractError


def source_key(data_source: str) -> str:
    """Drop the query string: ``sample:churn?rows=5`` -> ``sample:churn``."""
    return data_source.strip().split("?", 1)[0]


def _resolve(root: Path, name: str) -> Path:
    path = Path(name).expanduser()
    return path if path.is_absolute() else root / path


def _explicit(explicit: str, root: Path) -> Path:
    path = _resolve(root, explicit)
    if not path.is_file():
        raise ContractError(
            f"contract {explicit} given with -p contract={explicit} not found at {path}; "
            f"paths are relative to the project root {root}. Fix the path, or leave "
            f"out -p contract to use the contracts: section of pipeline.yaml.",
            path=path,
        )
    return path


def _mapped_pattern(key: str, contracts: Mapping[str, str]) -> str | None:
    """Return the ``contracts`` key that names ``key``: an exact key first, then a glob."""
    if key in contracts:
        return key
    return next((pattern for pattern in contracts if fnmatchcase(key, pattern)), None)


def find_contract(
    data_source: str,
    contracts: Mapping[str, str] | None,
    explicit: str | None,
    root: Path,
) -> Path | None:
    """Return the contract file for ``data_source``, or ``None`` when none applies.

    First match wins:

    1. ``explicit`` (the ``-p contract=PATH`` parameter), relative to ``root``;
    2. the ``contracts:`` mapping of pipeline.yaml, whose keys are data sources
       without query string (``sample:churn`` matches ``sample:churn?rows=500``)
       or glob patterns (``data/customers-*.csv``), tried in order;
    3. ``None``: the caller infers a contract, so a new dataset is never checked
       against a contract written for another one.

    Raises:
        ContractError: the chosen contract file does not exist.
    """
    root = Path(root)
    if explicit:
        return _explicit(explicit, root)
    key = source_key(data_source)
    contracts = contracts or {}
    pattern = _mapped_pattern(key, contracts)
    if pattern is None:
        return None
    path = _resolve(root, str(contracts[pattern]))
    if not path.is_file():
        raise ContractError(
            f"pipeline.yaml maps data source '{key}' (entry '{pattern}') to contract "
            f"{contracts[pattern]}, but {path} does not exist; fix the contracts: entry, "
            f"or create the file with save_contract(infer_contract(df), PATH).",
            path=path,
        )
    return path
