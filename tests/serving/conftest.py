"""Fixtures of the serving tests: a project with a real registered churn model.

Shared by every serving test module; add fixtures below, do not change these.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from mlops_nb.config import Settings
from mlops_nb.data import generate_churn
from mlops_nb.features import build_feature_pipeline, infer_feature_types
from mlops_nb.prep import cleanse, standardize
from mlops_nb.registry import Registry
from mlops_nb.validation import input_contract, load_contract, validate

CONTRACT = Path(__file__).parents[2] / "contracts" / "churn.yaml"


@dataclass(frozen=True)
class ServingProject:
    """A project whose registry holds churn:1 (alias ``production``) and churn:2 (latest).

    Attributes:
        settings: The project's settings (outputs in a temporary folder).
        model: The fitted pipeline registered as both versions.
        frame: Valid input rows (no target), in the signature's dtypes.
        records: The same rows as JSON records, as a client would send them.
    """

    settings: Settings
    model: Any
    frame: pd.DataFrame
    records: list[dict[str, Any]]


def fit_churn_model(rows: int = 500, seed: int = 1) -> Pipeline:
    """A small churn pipeline: the project's feature steps and a logistic regression."""
    data = cleanse(standardize(generate_churn(rows, seed=seed), "churned")[0], "churned").data
    steps = build_feature_pipeline(infer_feature_types(data, "churned"), "binary").steps
    model = Pipeline([*steps, ("model", LogisticRegression(max_iter=500))])
    return model.fit(data.drop(columns="churned"), data["churned"])


def valid_inputs(rows: int = 200, seed: int = 7) -> pd.DataFrame:
    """Rows of the churn sample (no target) that pass the contract, index 0..n-1."""
    contract = load_contract(CONTRACT)
    raw = generate_churn(rows, seed=seed)
    valid = validate(raw, contract, on_invalid="quarantine", max_invalid_fraction=1.0).valid
    return valid.drop(columns="churned").reset_index(drop=True)


@pytest.fixture(scope="session")
def serving_project(tmp_path_factory: pytest.TempPathFactory) -> ServingProject:
    root = tmp_path_factory.mktemp("serving-project")
    settings = Settings(root=root, outputs=root / "outputs")
    model = fit_churn_model()
    signature = input_contract(load_contract(CONTRACT), "churned")
    with Registry.from_settings(settings) as registry:
        for roc_auc in (0.8, 0.81):
            registry.register(
                "churn",
                model,
                signature=signature,
                task="binary",
                target="churned",
                metrics={"roc_auc": roc_auc},
                data_version="x",
                pipeline_run=None,
                training_run=None,
            )
        registry.set_alias("churn", "production", 1, reason="test")
    frame = valid_inputs()
    records = json.loads(frame.to_json(orient="records"))
    return ServingProject(settings, model, frame, records)
