"""Resolving ``name`` + reference to a version row, with errors that list what exists."""

from __future__ import annotations

from typing import Any

from mlops_nb.errors import ModelNotFoundError, listing
from mlops_nb.registry._db import aliases_of, model_names, version_numbers
from mlops_nb.registry.names import LATEST, Ref, close_match
from mlops_nb.store import Connection

__all__ = ["require_model", "resolve", "version_row"]

MAX_LISTED = 20


def require_model(conn: Connection, name: str, where: str) -> None:
    """Raise :class:`ModelNotFoundError` unless ``name`` has at least one version."""
    known = model_names(conn)
    if name in known:
        return
    registered = (
        f"registered models: {listing(known, MAX_LISTED)}."
        if known
        else "no model is registered yet."
    )
    raise ModelNotFoundError(
        f"no model named {name!r} in the registry at {where}; {registered}"
        f"{close_match(name, known)} Register one with Registry.register() "
        f"(the register stage) or check the name with `mlops-nb models list`.",
        model=name,
    )


def version_row(conn: Connection, name: str, version: int) -> Any:
    """The row of ``name`` version ``version``; the model must exist."""
    row = conn.execute(
        "SELECT * FROM registry_versions WHERE name = ? AND version = ?", (name, version)
    ).fetchone()
    if row is not None:
        return row
    existing = listing([str(number) for number in version_numbers(conn, name)], MAX_LISTED)
    raise ModelNotFoundError(
        f"model {name!r} has no version {version}; its versions are {existing}. "
        f"Use one of them, '{LATEST}', or an alias (NAME@ALIAS).",
        model=name,
        version=version,
    )


def _latest(conn: Connection, name: str) -> int:
    row = conn.execute(
        "SELECT MAX(version) FROM registry_versions WHERE name = ? AND status = 'active'", (name,)
    ).fetchone()
    if row[0] is None:
        raise ModelNotFoundError(
            f"every version of model {name!r} is retired, so it has no latest version; "
            f"load a retired version by number ({name}:VERSION) or register a new one.",
            model=name,
        )
    return int(row[0])


def _alias(conn: Connection, name: str, alias: str) -> int:
    aliases = aliases_of(conn, name)
    if alias in aliases:
        return aliases[alias]
    held = (
        f"its aliases are {listing(sorted(aliases), MAX_LISTED)}."
        if aliases
        else "it has no aliases yet."
    )
    raise ModelNotFoundError(
        f"model {name!r} has no alias {alias!r}; {held}{close_match(alias, aliases)} "
        f"Set one with `mlops-nb models promote {name} VERSION {alias} --reason TEXT`.",
        model=name,
        alias=alias,
    )


def resolve(conn: Connection, name: str, ref: Ref, where: str) -> Any:
    """The version row ``ref`` (a number, ``latest`` or an alias) points at."""
    require_model(conn, name, where)
    if isinstance(ref, int):
        number = ref
    elif ref == LATEST:
        number = _latest(conn, name)
    else:
        number = _alias(conn, name, ref)
    return version_row(conn, name, number)
