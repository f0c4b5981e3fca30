"""Model names, aliases and references."""

from __future__ import annotations

import pytest

from mlops_nb.errors import MlopsNbError, RegistryError
from mlops_nb.registry import parse_model_ref, validate_alias, validate_name
from mlops_nb.registry.names import parse_ref

BAD_NAMES = [
    "../x",
    "a/b",
    "a\\b",
    "",
    ".hidden",
    "a..b",
    "-x",
    "_x",
    "x" * 65,
    "x" * 100,
    "with space",
    "tab\t",
    "naïve",
    "a:b",
    "a@b",
    None,
    3,
]


@pytest.mark.parametrize("name", ["churn", "Churn-2", "a", "m.v1_final", "9lives", "x" * 64])
def test_good_names_pass(name: str) -> None:
    assert validate_name(name) == name
    assert validate_alias(name if not name.isdigit() else "a" + name) is not None


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names_are_refused(name: object) -> None:
    with pytest.raises(RegistryError) as info:
        validate_name(name)
    assert isinstance(info.value, MlopsNbError)
    assert "letters, digits" in str(info.value)


@pytest.mark.parametrize("alias", [*BAD_NAMES, "3", "007", "latest", "LATEST"])
def test_bad_aliases_are_refused(alias: object) -> None:
    with pytest.raises(RegistryError):
        validate_alias(alias)


def test_numeric_alias_message_says_why() -> None:
    with pytest.raises(RegistryError, match="clash with a version reference"):
        validate_alias("12")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("churn@production", ("churn", "production")),
        ("churn:3", ("churn", 3)),
        ("churn", ("churn", "latest")),
        ("churn:latest", ("churn", "latest")),
        ("m.v1@staging-b", ("m.v1", "staging-b")),
    ],
)
def test_parse_model_ref(text: str, expected: tuple[str, object]) -> None:
    assert parse_model_ref(text) == expected


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("churn@3", "write churn:3"),
        ("churn:prod", "version number"),
        ("churn:0", "versions start at 1"),
        ("../churn@production", "not allowed"),
        ("churn@../x", "not allowed"),
        ("churn@", "not allowed"),
        ("@production", "not allowed"),
    ],
)
def test_parse_model_ref_refuses(text: str, match: str) -> None:
    with pytest.raises(RegistryError, match=match):
        parse_model_ref(text)


def test_parse_ref_normalises() -> None:
    assert parse_ref("3") == 3
    assert parse_ref(4) == 4
    assert parse_ref("Latest") == "latest"
    assert parse_ref("production") == "production"
    with pytest.raises(RegistryError):
        parse_ref(True)
