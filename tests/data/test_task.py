"""Inference and validation of the learning task."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_nb.data.task import infer_task
from mlops_nb.errors import DataSourceError

RNG = np.random.default_rng(0)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (pd.Series([0, 1, 1, 0, 1]), "binary"),
        (pd.Series([True, False, True]), "binary"),
        (pd.Series(["yes", "no", "no", None]), "binary"),
        (pd.Series(["a", "b", "c", "a"]), "multiclass"),
        (pd.Series(["lo", "hi", "lo"], dtype="category"), "binary"),
        (pd.Series([1.0, 0.0, np.nan, 1.0]), "binary"),
        (pd.Series(RNG.integers(0, 5, 200)), "multiclass"),
        (pd.Series(RNG.integers(0, 5, 200).astype(float)), "multiclass"),
        (pd.Series(RNG.normal(size=200)), "regression"),
        (pd.Series(RNG.integers(0, 1000, 200)), "regression"),
        (pd.Series(range(10)), "regression"),
        (pd.Series(RNG.integers(0, 30, 5000)), "regression"),
        (pd.Series([0.5, 1.5, 0.5, 1.5] * 10), "regression"),
        (pd.Series([1, 2, 3, None] * 20, dtype="Int64"), "multiclass"),
    ],
)
def test_auto_inference(values: pd.Series, expected: str) -> None:
    assert infer_task(values.rename("y")) == expected


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (pd.Series([0, 1, 0]), "binary"),
        (pd.Series(["a", "b", "c"]), "multiclass"),
        (pd.Series([1, 2, 3, 1, 2, 3]), "regression"),
        (pd.Series([0, 1, 2] * 10), "MultiClass "),
    ],
)
def test_explicit_task_that_fits(values: pd.Series, task: str) -> None:
    assert infer_task(values, task) == task.strip().lower()


@pytest.mark.parametrize(
    ("values", "task", "message"),
    [
        (pd.Series([0, 1, 2, 3, 4]), "binary", r"has 5 classes \(0, 1, 2, 3, 4\).*exactly 2"),
        (pd.Series(["a", "b", "a"]), "multiclass", "only 2 classes.*use -p task=binary"),
        (pd.Series(["a", "b", "c"]), "regression", "not numbers.*needs a numeric target"),
        (pd.Series([True, False]), "regression", "needs a numeric target"),
        (pd.Series([0, 1]), "clustering", "unknown task 'clustering'.*auto, binary"),
        (pd.Series(["no", "no", None]), "auto", r"single distinct value \('no'\)"),
        (pd.Series([1, 1, 1]), "regression", "single distinct value"),
        (pd.Series([None, None], dtype="float64"), "auto", "has no values"),
    ],
)
def test_rejections(values: pd.Series, task: str, message: str) -> None:
    with pytest.raises(DataSourceError, match=message) as caught:
        infer_task(values.rename("churned"), task)
    assert caught.value.column == "churned"
    assert "churned" in str(caught.value)


def test_many_classes_are_shortened_in_messages() -> None:
    with pytest.raises(DataSourceError, match=r"\.\.\. \(40 more\)"):
        infer_task(pd.Series([f"c{i}" for i in range(50)], name="y"), "binary")
