"""Personal data: the detectors, the checks behind them, and pseudonymisation."""

from __future__ import annotations

import stat

import pandas as pd
import pytest

from mlops_nb.data import generate_churn
from mlops_nb.privacy import KEY_ENV, detect_pii, luhn_valid, pii_key, pseudonymize, token


def test_luhn_accepts_valid_card_numbers_only():
    assert luhn_valid("4111 1111 1111 1111") and luhn_valid("5500-0000-0000-0004")
    assert not luhn_valid("4111 1111 1111 1112") and not luhn_valid("1234")


def test_each_kind_is_found_and_look_alikes_are_not():
    frame = pd.DataFrame(
        {
            "contact": ["a.b@example.com", "c@example.org"] * 5,
            "tel": ["+44 20 7946 0958", "(555) 123-4567"] * 5,
            "card": ["4111 1111 1111 1111", "5500-0000-0000-0004"] * 5,
            "iban": ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000"] * 5,
            "ssn": ["123-45-6789", "AB123456C"] * 5,
            "full_name": ["Ada Lovelace", "Grace Hopper"] * 5,
            "bad_card": ["4111 1111 1111 1112", "5500 0000 0000 0005"] * 5,  # fail Luhn
            "bad_iban": ["GB82 WEST 1234 5698 7654 33", "DE89370400440532013001"] * 5,
            "plan": ["Basic Plus", "Pro"] * 5,  # capitalised words, not a name column
            "order_id": ["20240101", "20240102"] * 5,  # digits without separators: not a phone
        }
    )
    found = dict(zip(*detect_pii(frame)[["column", "kind"]].T.values, strict=True))
    assert found == {
        "contact": "email",
        "tel": "phone",
        "card": "payment_card",
        "iban": "iban",
        "ssn": "national_id",
        "full_name": "person_name",
    }


def test_the_churn_sample_holds_no_personal_data():
    assert detect_pii(generate_churn(rows=2000, seed=0)).empty


def test_pseudonyms_keep_equal_values_equal_and_missing_values_missing():
    frame = pd.DataFrame({"email": ["a@x.org", None, "a@x.org", "b@y.org"], "n": [1, 2, 3, 4]})
    out = pseudonymize(frame, ["email"], b"k" * 32)
    tokens = out["email"]
    assert tokens[0] == tokens[2] == token("a@x.org", b"k" * 32) and tokens[0] != tokens[3]
    assert tokens.isna().tolist() == [False, True, False, False]
    assert tokens.dropna().str.fullmatch(r"pii:[0-9a-f]{16}").all()
    assert out["n"].tolist() == [1, 2, 3, 4] and frame["email"][0] == "a@x.org", "a copy"
    assert pseudonymize(frame, ["email"], b"other-key")["email"][0] != tokens[0]


def test_the_key_is_created_once_owner_only_or_taken_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    key = pii_key(tmp_path)
    assert len(key) == 32 and pii_key(tmp_path) == key
    assert stat.S_IMODE((tmp_path / ".pii_key").stat().st_mode) == 0o600
    monkeypatch.setenv(KEY_ENV, "a team passphrase of any length " * 4)
    shared = pii_key(tmp_path)
    assert len(shared) == 32 and shared != key
    assert token("x", shared)


@pytest.mark.parametrize("rows", [0, 1])
def test_columns_with_no_values_are_left_alone(rows):
    frame = pd.DataFrame({"email": [None] * rows}, dtype=object)
    assert pseudonymize(frame, ["email", "absent"], b"k").equals(frame)
