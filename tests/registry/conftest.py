"""Fixtures of the registry tests: a registry in tmp_path and small real models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops_nb.registry import ModelVersion, Registry
from mlops_nb.validation import infer_contract


def churn_frame(rows: int = 60, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A small, well-separated churn-like problem."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, rows)
    charges = rng.normal(70, 20, rows).round(2)
    plan = rng.choice(["basic", "premium"], rows)
    X = pd.DataFrame({"tenure": tenure, "charges": charges, "plan": plan})
    y = pd.Series((tenure < 24).astype(int), name="churned")
    return X, y


def fit_pipeline(seed: int = 0, c: float = 1.0) -> Pipeline:
    X, y = churn_frame(seed=seed)
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["tenure", "charges"]), ("cat", OneHotEncoder(), ["plan"])]
    )
    return Pipeline([("prep", prep), ("clf", LogisticRegression(C=c))]).fit(X, y)


def register_model(reg: Registry, name: str = "churn", model: Any = None, **extra: Any):
    """Register ``model`` (a fitted pipeline by default) with complete metadata."""
    X, _ = churn_frame()
    arguments: dict[str, Any] = {
        "signature": infer_contract(X, name="churn_inputs"),
        "task": "classification",
        "target": "churned",
        "metrics": {"roc_auc": 0.91, "accuracy": 0.87},
        "data_version": "0123456789abcdef",
        "pipeline_run": "20250101-120000-train",
        "training_run": "run-42",
    }
    arguments.update(extra)
    return reg.register(name, model if model is not None else fit_pipeline(), **arguments)


@pytest.fixture
def registry(store_url: str, tmp_path: Path) -> Iterator[Registry]:
    """A registry on each store backend (a SQLite file, a PostgreSQL schema)."""
    reg = Registry(store_url, tmp_path / "registry")
    yield reg
    reg.close()


@pytest.fixture
def register(registry: Registry) -> Callable[..., ModelVersion]:
    return lambda name="churn", model=None, **extra: register_model(registry, name, model, **extra)


@pytest.fixture
def signature() -> pa.DataFrameSchema:
    return infer_contract(churn_frame()[0], name="churn_inputs")
