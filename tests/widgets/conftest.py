"""Fixtures of the widget tests: a project with archived runs and registered models."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_nb.config import Settings
from mlops_nb.lab.links import DIR_ENV, URL_ENV
from mlops_nb.monitoring import DriftDetector
from mlops_nb.monitoring.loop import PROFILE_FILE, reference_frame
from mlops_nb.registry import Registry
from mlops_nb.tracking import TrackingStore
from tests.pipeline.test_compare import ID_1, ID_2, ID_3, make_record, write_run
from tests.registry.conftest import churn_frame, fit_pipeline, register_model

COLUMNS = ["tenure", "charges", "plan"]


@pytest.fixture(autouse=True)
def no_report_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Links as outside a Jupyter server with the extension (a test may set them)."""
    monkeypatch.delenv(URL_ENV, raising=False)
    monkeypatch.delenv(DIR_ENV, raising=False)


@pytest.fixture
def settings(make_project) -> Settings:
    return make_project()


@pytest.fixture
def runs(settings: Settings) -> list[str]:
    """Two train runs that differ in a param and a metric, and a monitor run."""
    write_run(
        settings.runs_dir,
        make_record(ID_1, metrics={"train": {"cv_roc_auc": 0.8, "best": "rf", "trials": 6}}),
    )
    write_run(
        settings.runs_dir,
        make_record(
            ID_2,
            params={"seed": 3},
            metrics={"train": {"cv_roc_auc": 0.84, "best": "logistic", "trials": 6}},
        ),
    )
    write_run(
        settings.runs_dir,
        make_record(ID_3, "monitor", metrics={"monitor": {"drift_share": 0.2}}, status="failed"),
    )
    with TrackingStore(settings.database) as store:
        for run_id, score in ((ID_1, 0.8), (ID_2, 0.84)):
            run = store.start_run("train", pipeline_run=run_id, stage="train")
            run.log_metrics({"cv_roc_auc": score})
            run.end()
    return [ID_1, ID_2, ID_3]


def _profile(folder: Path, seed: int) -> Path:
    model = fit_pipeline(seed=seed)
    X, _ = churn_frame(rows=300, seed=seed)
    reference = reference_frame(model, X, COLUMNS, "binary")
    path = folder / f"profile-{seed}" / PROFILE_FILE
    return DriftDetector().fit(reference).profile_.save(path), model


@pytest.fixture
def models(settings: Settings, tmp_path: Path) -> Settings:
    """``churn`` v1 (at production) and v2 (at staging), each with a reference profile."""
    with Registry.from_settings(settings) as registry:
        for seed in (0, 1):
            profile, model = _profile(tmp_path, seed)
            register_model(
                registry,
                "churn",
                model,
                task="binary",
                attachments={PROFILE_FILE: profile},
            )
        registry.set_alias("churn", "production", 1, reason="first model", actor="tester")
        registry.set_alias("churn", "staging", 2, reason="newly registered", actor="tester")
    return settings


@pytest.fixture
def current_csv(settings: Settings) -> str:
    """Current data where tenure moved far from the reference: drift."""
    X, _ = churn_frame(rows=400, seed=7)
    X["tenure"] = X["tenure"] + 40
    X.to_csv(settings.root / "current.csv", index=False)
    same, _ = churn_frame(rows=400, seed=8)
    same.to_csv(settings.root / "same.csv", index=False)
    return "current.csv"
