"""Tests of split(): stratification, sizes, reproducibility and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_nb.errors import PreparationError
from mlops_nb.prep import split


def classified(n: int = 1000, share: float = 0.27, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    positives = int(n * share)
    labels = np.array([1] * positives + [0] * (n - positives))
    return pd.DataFrame({"x": rng.normal(size=n), "label": rng.permutation(labels)})


def test_binary_split_is_stratified() -> None:
    df = classified()
    parts = split(df, "label", "binary", test_size=0.2, seed=3)

    assert parts.stratified
    assert "stratified" in parts.note
    assert (len(parts.train), len(parts.test)) == (800, 200)
    assert set(parts.train.index).isdisjoint(parts.test.index)
    assert set(parts.train.index) | set(parts.test.index) == set(df.index)
    overall = df["label"].mean()
    assert abs(parts.train["label"].mean() - overall) < 0.01
    assert abs(parts.test["label"].mean() - overall) < 0.01
    summary = parts.target_summary()
    assert summary.loc[1, "train"] == pytest.approx(0.27, abs=0.01)


def test_multiclass_shares_and_seed() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"x": rng.normal(size=600), "kind": rng.choice(["a", "b", "c"], 600, p=[0.6, 0.3, 0.1])}
    )
    first = split(df, "kind", "multiclass", seed=7)
    again = split(df, "kind", "multiclass", seed=7)
    other = split(df, "kind", "multiclass", seed=8)

    shares = first.target_summary()
    assert (shares["train"] - shares["test"]).abs().max() < 0.01
    assert first.test.index.equals(again.test.index)
    assert not first.test.index.equals(other.test.index)


def test_rare_class_falls_back_to_plain_split() -> None:
    df = classified(n=50)
    df.loc[0, "label"] = 2  # a class with a single row
    parts = split(df, "label", "multiclass")

    assert not parts.stratified
    assert "class(es) 2 have fewer than 2 rows" in parts.note


def test_too_many_classes_for_the_test_side() -> None:
    df = pd.DataFrame({"x": range(20), "label": list("abcde") * 4})
    parts = split(df, "label", "multiclass", test_size=0.1)

    assert not parts.stratified
    assert "5 classes do not fit" in parts.note
    assert len(parts.test) == 2


def test_regression_split() -> None:
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"x": rng.normal(size=100), "price": rng.gamma(2.0, 10.0, 100)})
    parts = split(df, "price", "regression", test_size=0.25)

    assert not parts.stratified
    assert "regression" in parts.note
    assert (len(parts.train), len(parts.test)) == (75, 25)
    assert list(parts.target_summary().columns) == ["train", "test"]


@pytest.mark.parametrize("test_size", [0, 0.0, 1, 1.0, 1.5, -0.1, "0.2", True])
def test_test_size_outside_open_interval(test_size: object) -> None:
    with pytest.raises(PreparationError, match=r"test_size must be a fraction strictly between 0"):
        split(classified(), "label", "binary", test_size=test_size)  # type: ignore[arg-type]


def test_size_errors() -> None:
    with pytest.raises(PreparationError, match=r"Only 9 row.*at least 10"):
        split(classified(n=9), "label", "binary")
    with pytest.raises(PreparationError, match="leaves 0 training and 10 test row"):
        split(classified(n=10), "label", "binary", test_size=0.99)


def test_target_errors() -> None:
    df = classified(n=30)
    with pytest.raises(PreparationError, match="Unknown task 'classification'"):
        split(df, "label", "classification")
    with pytest.raises(PreparationError, match="Target column 'y' is not in the data"):
        split(df, "y", "binary")
    three = df.assign(label=[0, 1, 2] * 10)
    with pytest.raises(PreparationError, match=r"3 class.*exactly 2.*multiclass"):
        split(three, "label", "binary")
    text = df.assign(label=["yes", "no"] * 15)
    with pytest.raises(PreparationError, match="dtype str but task 'regression' needs numbers"):
        split(text, "label", "regression")
    gaps = df.astype({"label": float})
    gaps.loc[3, "label"] = np.nan
    with pytest.raises(PreparationError, match=r"missing in 1 row.*cleanse"):
        split(gaps, "label", "binary")
