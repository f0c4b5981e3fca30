"""Row identities and the hash split: stable per row, whatever else changes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_nb.errors import PreparationError
from mlops_nb.prep import split
from mlops_nb.prep.keys import KEY_COLUMN, SplitRule, hash_sides, row_keys


def customers(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:06d}" for i in range(n)],
            "age": rng.integers(18, 90, n),
            "charges": rng.normal(70, 20, n).round(2),
            "plan": rng.choice(["basic", "premium", "family"], n),
            "churned": rng.integers(0, 2, n),
        }
    )


def test_identity_ignores_row_and_column_order_and_number_storage() -> None:
    a = pd.DataFrame({"n": [1, 2, 3], "s": ["x", None, "z"], "b": [True, False, True]})
    b = pd.DataFrame(
        {
            "b": [1.0, 0.0, 1.0],
            "s": pd.Series(["x", np.nan, "z"], dtype="category"),
            "n": [1.0, 2.0, 3.0],
        }
    )
    keys = row_keys(a)

    assert keys.dtype == "uint64" and keys.name == KEY_COLUMN
    assert keys.tolist() == row_keys(b).tolist()
    assert row_keys(a.iloc[::-1]).tolist() == keys.tolist()[::-1]
    assert keys.attrs["columns"] == ["b", "n", "s"]


def test_one_missing_value_and_one_zero() -> None:
    a = pd.DataFrame({"x": [0.0, np.nan], "s": [None, "t"]})
    b = pd.DataFrame({"x": [-0.0, float("nan")], "s": [pd.NA, "t"]})
    assert row_keys(a).tolist() == row_keys(b).tolist()


def test_distinct_rows_get_distinct_keys() -> None:
    frame = customers(50_000)
    keys = row_keys(frame)
    assert keys.nunique() == len(frame)
    changed = frame.copy()
    changed.loc[7, "charges"] += 0.01
    assert (row_keys(changed) != keys).sum() == 1


def test_large_integers_keep_their_exact_value() -> None:
    frame = pd.DataFrame({"id": np.array([2**60, 2**60 + 1], dtype="int64")})
    assert row_keys(frame).nunique() == 2


def test_missing_column_is_named() -> None:
    with pytest.raises(PreparationError, match="column\\(s\\) nope are not in the data"):
        row_keys(customers(10), ["nope"])


def test_hash_sides_hold_out_the_share_and_depend_on_the_row_alone() -> None:
    keys = row_keys(customers(20_000))
    sides = hash_sides(keys, 0.2)
    assert sides.mean() == pytest.approx(0.2, abs=0.015)
    subset = keys.iloc[::7]
    assert hash_sides(subset, 0.2).equals(sides.iloc[::7])


def test_hash_split_holds_out_the_same_rows_for_any_seed_and_more_data() -> None:
    frame = customers()
    first = split(frame, "churned", "binary", seed=0, method="hash")
    other_seed = split(frame, "churned", "binary", seed=1, method="hash")
    assert first.test.index.equals(other_seed.test.index)

    more = pd.concat(
        [frame, customers(1000, seed=9).assign(customer_id=lambda d: "N" + d.customer_id)]
    )
    more = more.reset_index(drop=True)
    grown = split(more, "churned", "binary", method="hash")
    old_rows = set(frame.index)
    assert set(first.test.index) == set(grown.test.index) & old_rows
    assert set(first.train.index) == set(grown.train.index) & old_rows
    assert "hash split" in first.note and not first.stratified


def test_random_split_depends_on_the_seed_as_before() -> None:
    frame = customers()
    a = split(frame, "churned", "binary", seed=0, method="random")
    b = split(frame, "churned", "binary", seed=1, method="random")
    assert not a.test.index.equals(b.test.index)
    assert a.rule is not None and a.rule.method == "random" and a.rule.seed == 0


def test_split_keys_are_the_identities_of_each_side() -> None:
    frame = customers(500)
    parts = split(frame, "churned", "binary", method="hash")
    identity = row_keys(frame)
    assert parts.train_keys.tolist() == identity.loc[parts.train.index].tolist()
    assert parts.test_keys.tolist() == identity.loc[parts.test.index].tolist()
    assert set(parts.train_keys).isdisjoint(parts.test_keys)
    assert parts.rule.columns == tuple(sorted(frame.columns))


def test_identity_computed_before_cleansing_is_used() -> None:
    frame = customers(300)
    identity = row_keys(frame)
    cleansed = frame.drop(index=[3, 4, 5])
    parts = split(cleansed, "churned", "binary", method="hash", identity=identity)
    assert len(parts.train_keys) + len(parts.test_keys) == 297
    assert parts.test_keys.tolist() == identity.loc[parts.test.index].tolist()


def test_key_column_keeps_rows_that_share_it_together() -> None:
    frame = customers(3000)
    frame["household"] = frame.index // 3
    parts = split(frame, "churned", "binary", method="hash", key="household")
    assert set(parts.train["household"]).isdisjoint(parts.test["household"])
    assert parts.rule.key == "household"
    assert "column 'household'" in parts.rule.describe()


def test_unknown_method_and_key_are_refused() -> None:
    frame = customers(100)
    with pytest.raises(PreparationError, match="unknown split method 'stratified'"):
        split(frame, "churned", "binary", method="stratified")
    with pytest.raises(PreparationError, match="Split key column 'nope' is not in the data"):
        split(frame, "churned", "binary", method="hash", key="nope")


def test_a_class_left_without_training_rows_is_refused() -> None:
    frame = customers(400)
    frame["kind"] = "a"
    frame.loc[frame.index[:200], "kind"] = "b"
    sides = hash_sides(row_keys(frame, ["customer_id"]), 0.2)
    frame.loc[sides & (frame.index >= 200), "kind"] = "rare"  # only on the test side
    with pytest.raises(PreparationError, match=r"every row of class\(es\) rare on the test side"):
        split(frame, "kind", "multiclass", method="hash", key="customer_id")


def test_rule_round_trips_and_compares_identities() -> None:
    rule = SplitRule("hash", 0.2, key=None, columns=("a", "b"))
    again = SplitRule.from_dict(rule.to_dict())
    assert again == rule
    assert rule.same_identity(SplitRule("random", 0.3, columns=("a", "b"), seed=4))
    assert not rule.same_identity(SplitRule("hash", 0.2, columns=("a",)))
