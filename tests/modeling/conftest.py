"""Small synthetic problems and tuned results shared by the modeling tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.pipeline import Pipeline

from mlops_nb.features import build_feature_pipeline, infer_feature_types
from mlops_nb.modeling import TuningResult, tune

TARGET = "y"
SEGMENTS = ["north", "south", "east", "west"]


@dataclass(frozen=True)
class Problem:
    """A split problem: raw training and test rows, target, task and features."""

    task: str
    X_train: pd.DataFrame
    y_train: pd.Series
    X_test: pd.DataFrame
    y_test: pd.Series
    features: Pipeline


def frame(x: np.ndarray, y: np.ndarray, seed: int) -> pd.DataFrame:
    """Numeric columns x0.., a categorical ``segment`` (a rare "island") and the target."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    segment = rng.choice([*SEGMENTS, "island"], len(df), p=[0.3, 0.3, 0.2, 0.17, 0.03])
    df["segment"] = pd.Series(segment, dtype="str")
    df[TARGET] = y
    return df


def problem(df: pd.DataFrame, task: str, n_test: int) -> Problem:
    train, test = df.iloc[:-n_test], df.iloc[-n_test:].reset_index(drop=True)
    features = build_feature_pipeline(infer_feature_types(train, TARGET), task)
    return Problem(
        task,
        train.drop(columns=TARGET),
        train[TARGET],
        test.drop(columns=TARGET),
        test[TARGET],
        features,
    )


def binary_frame(n: int = 500, seed: int = 0) -> pd.DataFrame:
    x, y = make_classification(
        n_samples=n, n_features=5, n_informative=3, n_redundant=0, random_state=seed
    )
    return frame(x, np.where(y == 1, "yes", "no"), seed)


def multiclass_frame(n: int = 450, seed: int = 0) -> pd.DataFrame:
    x, y = make_classification(
        n_samples=n,
        n_features=5,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=seed,
    )
    return frame(x, y, seed)


def regression_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    x, y = make_regression(n_samples=n, n_features=5, n_informative=3, noise=10, random_state=seed)
    return frame(x, y, seed)


@pytest.fixture(scope="session")
def binary() -> Problem:
    return problem(binary_frame(), "binary", n_test=200)


@pytest.fixture(scope="session")
def multiclass() -> Problem:
    return problem(multiclass_frame(), "multiclass", n_test=150)


@pytest.fixture(scope="session")
def regression() -> Problem:
    return problem(regression_frame(), "regression", n_test=150)


def tuned(p: Problem, budget: int) -> TuningResult:
    return tune(p.features, p.X_train, p.y_train, p.task, budget=budget, cv=2, seed=0)


@pytest.fixture(scope="session")
def binary_result(binary: Problem) -> TuningResult:
    return tuned(binary, budget=4)


@pytest.fixture(scope="session")
def multiclass_result(multiclass: Problem) -> TuningResult:
    return tuned(multiclass, budget=3)


@pytest.fixture(scope="session")
def regression_result(regression: Problem) -> TuningResult:
    return tuned(regression, budget=3)
