"""Fixtures of the MLflow bridge tests: a project with archived runs, tracked stages, a registry.

No pipeline is executed: the two archived runs are written as the runner writes
them (run.json, index.html, one folder per stage with its executed notebook and
report), their stages tracked in the store with a metric history, and the
registry holds the serving tests' small churn model twice (``churn:1`` holds
``production``, ``churn:2`` holds ``staging``).
"""

from __future__ import annotations

import os
import shutil
import socket
import textwrap
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest

from mlops_nb.artifacts import write_json
from mlops_nb.config import Settings
from mlops_nb.processes import start_tick
from mlops_nb.registry import Registry
from mlops_nb.tracking import TrackingStore
from mlops_nb.validation import input_contract, load_contract
from tests.conftest import TWO_STAGES
from tests.serving.conftest import CONTRACT, fit_churn_model, valid_inputs

RUN_A = "20261201T100000.000000Z-aaaa"
RUN_B = "20261202T100000.000000Z-bbbb"
RUN_LIVE = "20261203T100000.000000Z-cccc"
LOSSES = (0.9, 0.5, 0.25)


@dataclass(frozen=True)
class BridgeProject:
    """A project to export from.

    Attributes:
        settings: Its settings (outputs in a temporary folder).
        model: The fitted churn pipeline registered as both versions.
        frame: Valid input rows (no target) in the signature's dtypes.
        records: The archived runs' records, by id.
    """

    settings: Settings
    model: Any
    frame: pd.DataFrame
    records: dict[str, dict[str, Any]]


def _stage(name: str, folder: str, status: str, metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "notebook": f"notebooks/{name}.ipynb",
        "dir": folder,
        "status": status,
        "seconds": 1.5,
        "cached": False,
        "started_at": "2026-12-01T10:00:01.000Z",
        "params": {"value": 3},
        "metrics": metrics,
        "notes": {"rows": 120} if name == "produce" else {},
        "artifacts": {},
        "executed": f"{folder}/executed.ipynb",
        "report": f"{folder}/report.html",
        "error": None,
    }


def write_run(root: Path, run_id: str, status: str, **extra: Any) -> dict[str, Any]:
    """An archived run as the runner leaves it: run.json, index.html and two stage folders."""
    run_dir = root / "outputs" / "runs" / run_id
    stages = [
        _stage("produce", "01_produce", "succeeded", {"rows": 120, "complete": True}),
        _stage("consume", "02_consume", status, {"loss": LOSSES[-1], "accuracy": 0.875}),
    ]
    for stage in stages:
        folder = run_dir / stage["dir"]
        folder.mkdir(parents=True)
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("value = 3")])
        nbformat.write(notebook, folder / "executed.ipynb")
        (folder / "report.html").write_text(f"<html><body>{stage['name']}</body></html>")
        write_json(folder / "stage.json", {"metrics": stage["metrics"]})
    (run_dir / "index.html").write_text("<html><body>run report</body></html>")
    record = {
        "schema": 1,
        "id": run_id,
        "pipeline": "demo",
        "status": status,
        "started_at": f"{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}T10:00:00.000Z",
        "finished_at": f"{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}T10:00:09.500Z",
        "seconds": 9.5,
        "until": None,
        "partial": False,
        "dev": False,
        "overrides": {"value": 3},
        "trigger": None,
        "resumed_from": None,
        "params": {"value": 3, "source": "sample:churn", "columns": ["a", "b"]},
        "stages": stages,
        "metrics": {
            f"{stage['name']}.{key}": value
            for stage in stages
            for key, value in stage["metrics"].items()
        },
        "data_versions": {"raw": "5f1c0ffee"},
        "git": {"commit": "c" * 40, "dirty": False},
        "environment": {"python": "3.11.7", "packages": {}},
        "run_dir": str(run_dir),
        "project": str(root),
        "error": None,
        "pid": 1,
        "pid_started": None,
        "host": "another-host",
        **extra,
    }
    write_json(run_dir / "run.json", record)
    return record


@pytest.fixture(scope="module")
def bridge_project(tmp_path_factory: pytest.TempPathFactory) -> BridgeProject:
    root = tmp_path_factory.mktemp("bridge-project")
    (root / "pipeline.yaml").write_text(textwrap.dedent(TWO_STAGES))
    settings = Settings(root=root, outputs=root / "outputs")
    records = {
        RUN_A: write_run(root, RUN_A, "succeeded"),
        RUN_B: write_run(root, RUN_B, "failed"),
        RUN_LIVE: write_run(
            root,
            RUN_LIVE,
            "running",
            pid=os.getpid(),
            pid_started=start_tick(os.getpid()),
            host=socket.gethostname(),
        ),
    }
    with TrackingStore.from_settings(settings) as store:
        for run_id in (RUN_A, RUN_B):
            run = store.start_run("consume", pipeline_run=run_id, stage="consume")
            for step, loss in enumerate(LOSSES):
                run.log_metric("loss", loss, step=step)
            run.end("finished")
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
                data_version="5f1c0ffee",
                pipeline_run=RUN_A,
                training_run=None,
                params={"C": 1.0},
                description="A churn model for the bridge tests.",
            )
        registry.set_alias("churn", "production", 1, reason="first")
        registry.set_alias("churn", "staging", 2, reason="challenger")
    return BridgeProject(settings, model, valid_inputs(50), records)


def mlflow_uri(folder: Path) -> str:
    """A SQLite MLflow tracking URI in ``folder`` (MLflow's preferred local store)."""
    return f"sqlite:///{folder / 'mlflow.db'}"


@pytest.fixture(scope="session")
def blank_mlflow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow database, its tables made once: MLflow's migrations take seconds."""
    mlflow = pytest.importorskip("mlflow")
    folder = tmp_path_factory.mktemp("blank-mlflow")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.MlflowClient(tracking_uri=mlflow_uri(folder)).search_experiments()
    return folder / "mlflow.db"


@pytest.fixture
def fresh_mlflow(blank_mlflow: Path, tmp_path: Path) -> str:
    """The tracking URI of a new, empty MLflow store in this test's folder."""
    folder = tmp_path / "mlflow"
    folder.mkdir()
    shutil.copyfile(blank_mlflow, folder / "mlflow.db")
    return mlflow_uri(folder)
