"""Model names, aliases and references (``churn``, ``churn:3``, ``churn@production``).

A name or alias becomes a folder name and part of a reference, so both are
kept to a safe alphabet: letters, digits, ``_``, ``.`` and ``-``, starting with
a letter or digit, at most 64 characters, never ``..``. An alias must also not
look like a version reference: not all digits, and not ``latest``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mlops_nb.errors import RegistryError, closest

__all__ = [
    "LATEST",
    "Ref",
    "close_match",
    "parse_model_ref",
    "parse_ref",
    "validate_alias",
    "validate_name",
]

LATEST = "latest"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
RULE = (
    "use 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit, "
    "without '..', '/' or '\\'"
)

Ref = int | str
"""A version number, ``"latest"`` or an alias name."""


def _check(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise RegistryError(f"{what} must be text, got {type(value).__name__}; {RULE}.")
    if not NAME_PATTERN.fullmatch(value) or ".." in value:
        raise RegistryError(f"{what} {value!r} is not allowed; {RULE}.", value=value)
    return value


def validate_name(name: object) -> str:
    """Return ``name`` if it is a valid model name, else raise :class:`RegistryError`."""
    return _check(name, "model name")


def validate_alias(alias: object) -> str:
    """Return ``alias`` if it is a valid alias name, else raise :class:`RegistryError`.

    Aliases follow the model-name rule and must also not be all digits or
    ``latest``, which would read as version references.
    """
    alias = _check(alias, "alias")
    if alias.isdigit() or alias.lower() == LATEST:
        raise RegistryError(
            f"alias {alias!r} would clash with a version reference (a number or "
            f"'{LATEST}'); choose a word such as 'production' or 'staging'.",
            value=alias,
        )
    return alias


def parse_ref(ref: object) -> Ref:
    """Normalise a version reference: ``3``/``"3"`` → ``3``; ``"latest"``; an alias name."""
    if isinstance(ref, bool) or not isinstance(ref, (int, str)):
        raise RegistryError(
            f"version reference {ref!r} must be a version number, '{LATEST}' or an alias."
        )
    if isinstance(ref, int) or ref.isdigit():
        number = int(ref)
        if number < 1:
            raise RegistryError(f"version {number} does not exist: versions start at 1.")
        return number
    if ref.lower() == LATEST:
        return LATEST
    return validate_alias(ref)


def parse_model_ref(text: str) -> tuple[str, Ref]:
    """Split a model reference into its name and version reference.

    ``"churn@production"`` → ``("churn", "production")``, ``"churn:3"`` →
    ``("churn", 3)``, ``"churn"`` → ``("churn", "latest")``.

    Raises:
        RegistryError: The name, version or alias is not valid.
    """
    if not isinstance(text, str):
        raise RegistryError(f"model reference must be text, got {type(text).__name__}.")
    name, sep, alias = text.partition("@")
    if sep:
        return validate_name(name), _alias_ref(text, alias)
    name, sep, version = text.partition(":")
    if not sep:
        return validate_name(name), LATEST
    if not (version.isdigit() or version.lower() == LATEST):
        raise RegistryError(
            f"model reference {text!r}: after ':' comes a version number or "
            f"'{LATEST}'; write NAME:3, NAME@ALIAS or NAME.",
            value=text,
        )
    return validate_name(name), parse_ref(version)


def _alias_ref(text: str, alias: str) -> str:
    if alias.isdigit():
        raise RegistryError(
            f"model reference {text!r}: '@' is followed by an alias, not a version; "
            f"write {text.replace('@', ':')} for version {alias}.",
            value=text,
        )
    return validate_alias(alias)


def close_match(value: str, known: Iterable[str]) -> str:
    """`` Did you mean 'x'?`` for the closest of ``known``, or an empty string."""
    matches = closest(value, known)
    return f" Did you mean {matches[0]!r}?" if matches else ""
