"""The MLflow bridge on a real MLflow store (SQLite, local artifacts), read back with MLflow."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlops_nb.errors import InteropError, ModelNotFoundError, RunNotFoundError
from mlops_nb.interop.mlflow_client import OUR_MODEL_TAG, OUR_RUN_TAG
from mlops_nb.interop.mlflow_export import ExportReport, export_mlflow
from mlops_nb.interop.mlflow_import import import_mlflow_runs
from mlops_nb.registry import Registry
from mlops_nb.tracking import TrackingStore
from tests.interop.conftest import LOSSES, RUN_A, RUN_B, RUN_LIVE, BridgeProject, mlflow_uri
from tests.test_cli import cli

mlflow = pytest.importorskip("mlflow")
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning:mlflow.*"),
    pytest.mark.filterwarnings("ignore::FutureWarning:mlflow.*"),
]


@dataclass(frozen=True)
class Exported:
    uri: str
    report: ExportReport
    client: Any


@pytest.fixture(scope="module")
def exported(
    bridge_project: BridgeProject, blank_mlflow: Path, tmp_path_factory: pytest.TempPathFactory
) -> Exported:
    folder = tmp_path_factory.mktemp("mlflow")
    shutil.copyfile(blank_mlflow, folder / "mlflow.db")
    uri = mlflow_uri(folder)
    report = export_mlflow(bridge_project.settings, uri)
    return Exported(uri, report, mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri))


def _runs(exported: Exported) -> dict[str, Any]:
    """The exported experiment's MLflow runs, by the tag naming what they came from."""
    found = exported.client.search_runs([exported.report.experiment_id], max_results=1000)
    return {run.data.tags.get(OUR_RUN_TAG) or run.data.tags[OUR_MODEL_TAG]: run for run in found}


def test_export_writes_runs_versions_and_aliases_and_counts_them(exported, bridge_project):
    assert exported.report.counts() == {
        "runs exported": 2,
        "runs skipped": 1,
        "models exported": 2,
        "aliases set": 2,
    }
    skipped = [entry for entry in exported.report.runs if entry["action"] == "skipped"]
    assert [entry["run_id"] for entry in skipped] == [RUN_LIVE]
    runs = _runs(exported)
    assert set(runs) == {RUN_A, RUN_B, "churn:1", "churn:2"}

    a, b = runs[RUN_A], runs[RUN_B]
    assert (a.info.status, b.info.status) == ("FINISHED", "FAILED")
    assert a.info.run_name == RUN_A
    record = bridge_project.records[RUN_A]
    assert a.data.params == {"value": "3", "source": "sample:churn", "columns": '["a", "b"]'}
    assert a.data.metrics["consume.loss"] == pytest.approx(LOSSES[-1])
    assert a.data.metrics["consume.accuracy"] == pytest.approx(0.875)
    assert a.data.metrics["produce.rows"] == 120
    tags = a.data.tags
    assert tags[OUR_RUN_TAG] == RUN_A and tags["mlops_nb.pipeline"] == "demo"
    assert tags["mlops_nb.status"] == "succeeded"
    assert tags["mlflow.source.git.commit"] == record["git"]["commit"]
    assert tags["mlops_nb.data_version.raw"] == "5f1c0ffee"
    assert tags["note.produce.rows"] == "120" and tags["metric.produce.complete"] == "true"
    started = datetime.fromisoformat(record["started_at"]).timestamp()
    assert (a.info.start_time, a.info.end_time) == (started * 1000, (started + 9.5) * 1000)

    history = exported.client.get_metric_history(a.info.run_id, "consume.loss")
    assert [(m.step, m.value) for m in history] == list(enumerate(LOSSES))

    top = {item.path for item in exported.client.list_artifacts(a.info.run_id)}
    assert top == {"01_produce", "02_consume", "index.html", "run.json"}
    stage = {item.path for item in exported.client.list_artifacts(a.info.run_id, "02_consume")}
    assert stage == {f"02_consume/{n}" for n in ("executed.ipynb", "report.html", "stage.json")}


def test_registered_versions_and_aliases_match_the_registry(exported, bridge_project):
    client = exported.client
    versions = sorted(client.search_model_versions("name = 'churn'"), key=lambda v: v.version)
    assert [v.tags[OUR_MODEL_TAG] for v in versions] == ["churn:1", "churn:2"]
    with Registry.from_settings(bridge_project.settings) as registry:
        ours = {v: registry.get("churn", v) for v in (1, 2)}
    for version in versions:
        mine = ours[int(version.tags[OUR_MODEL_TAG].split(":")[1])]
        assert version.tags["metric.roc_auc"] == repr(mine.metrics["roc_auc"])
        assert version.tags["mlops_nb.pipeline_run"] == RUN_A
        assert "A churn model for the bridge tests." in version.description
        aliases = client.get_model_version("churn", version.version).aliases
        assert set(aliases) == set(mine.aliases)
    registered = client.get_registered_model("churn")
    by_tag = {v.version: v.tags[OUR_MODEL_TAG] for v in versions}
    assert {a: by_tag[v] for a, v in registered.aliases.items()} == {
        "production": "churn:1",
        "staging": "churn:2",
    }
    run = _runs(exported)["churn:1"]
    assert run.data.metrics == {"roc_auc": pytest.approx(0.8)}
    assert {"model", "model_card.md", "model_card.html"} <= {
        item.path for item in client.list_artifacts(run.info.run_id)
    }


def test_the_exported_pyfunc_predicts_what_our_model_predicts(exported, bridge_project):
    mlflow.set_tracking_uri(exported.uri)
    mlflow.set_registry_uri(exported.uri)
    try:
        pyfunc = mlflow.pyfunc.load_model("models:/churn@production")
        folder = Path(mlflow.artifacts.download_artifacts("models:/churn@production"))
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
    frame = bridge_project.frame
    with Registry.from_settings(bridge_project.settings) as registry:
        ours = registry.load("churn@production").model.predict(frame)
    theirs = pyfunc.predict(frame.astype(object).where(frame.notna(), None))
    np.testing.assert_array_equal(np.asarray(theirs), ours)
    assert len(set(ours)) == 2  # both classes: the rows are not a trivial case

    schema = pyfunc.metadata.get_input_schema()
    assert schema.input_names() == list(frame.columns)
    assert dict(zip(schema.input_names(), schema.input_types(), strict=True))["age"].name == "long"
    assert "mlops-nb" in (folder / "requirements.txt").read_text()
    described = (folder / "MLmodel").read_text()
    assert "loader_module: mlflow.pyfunc.loaders.code_model" in described  # nothing pickled
    assert (folder / "mlops_nb_model.py").is_file() and not list(folder.rglob("*.pkl"))
    assert (folder / "artifacts" / "package" / "model.skops").is_file()


def test_a_second_export_finds_what_it_wrote_and_duplicates_nothing(exported, bridge_project):
    before = len(_runs(exported))
    again = export_mlflow(bridge_project.settings, exported.uri)
    assert again.counts() == {
        "runs already exported": 2,
        "runs skipped": 1,
        "models already exported": 2,
        "aliases unchanged": 2,
    }
    assert len(_runs(exported)) == before
    assert len(exported.client.search_model_versions("name = 'churn'")) == 2


def test_a_moved_alias_moves_in_mlflow_on_the_next_export(bridge_project, fresh_mlflow):
    uri = fresh_mlflow
    export_mlflow(bridge_project.settings, uri, models=["churn"])
    with Registry.from_settings(bridge_project.settings) as registry:
        registry.set_alias("churn", "production", 2, reason="staging won")
        try:
            report = export_mlflow(bridge_project.settings, uri, models=["churn"])
        finally:
            registry.set_alias("churn", "production", 1, reason="back for the other tests")
    assert {(a["alias"], a["action"]) for a in report.aliases} == {
        ("production", "set"),
        ("staging", "unchanged"),
    }
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias("churn", "production")
    assert version.tags[OUR_MODEL_TAG] == "churn:2"
    assert report.runs == []  # --model alone exports no runs


def test_a_failed_run_export_deletes_its_mlflow_run_and_says_so(
    bridge_project, fresh_mlflow, monkeypatch
):
    uri = fresh_mlflow
    from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

    def refuse(self: Any, local_dir: str, artifact_path: str | None = None) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(LocalArtifactRepository, "log_artifacts", refuse)
    with pytest.raises(InteropError, match="disk full") as caught:
        export_mlflow(bridge_project.settings, uri, runs=[RUN_A])
    assert "was deleted" in caught.value.message
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("mlops-nb")
    assert client.search_runs([experiment.experiment_id]) == []
    monkeypatch.undo()
    report = export_mlflow(bridge_project.settings, uri, runs=[RUN_A])
    assert report.counts() == {"runs exported": 1}


def test_bad_requests_fail_before_mlflow_is_written(bridge_project, tmp_path, isolated):
    uri = mlflow_uri(tmp_path / "mlflow")
    (tmp_path / "mlflow").mkdir()
    with pytest.raises(RunNotFoundError, match="no-such-run"):
        export_mlflow(bridge_project.settings, uri, runs=["no-such-run"])
    with pytest.raises(ModelNotFoundError, match="nope"):
        export_mlflow(bridge_project.settings, uri, models=["nope"])
    assert not (tmp_path / "mlflow" / "mlflow.db").exists()
    with pytest.raises(InteropError, match=r"folder .* does not exist"):
        export_mlflow(bridge_project.settings, mlflow_uri(tmp_path / "missing"))
    with pytest.raises(InteropError, match="does not answer"):
        export_mlflow(bridge_project.settings, "http://127.0.0.1:9")
    with pytest.raises(InteropError, match="not a tracking URI"):
        export_mlflow(bridge_project.settings, "mlflow.db")
    from mlops_nb.config import Settings

    empty = Settings(root=isolated, outputs=isolated / "outputs")
    with pytest.raises(InteropError, match=r"nothing to export.*mlops-nb run"):
        export_mlflow(empty, uri)
    with pytest.raises(InteropError, match="does not exist"):
        import_mlflow_runs(empty, mlflow_uri(tmp_path / "mlflow"))


@pytest.fixture
def their_runs(fresh_mlflow: str, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """An MLflow store with runs made by the MLflow client: a parent and child, a running one."""
    uri = fresh_mlflow
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("team", artifact_location=(tmp_path / "art").as_uri())
    parent = client.create_run(experiment, run_name="sweep", start_time=1_700_000_000_000)
    child = client.create_run(
        experiment,
        run_name="trial-1",
        start_time=1_700_000_001_000,
        tags={"mlflow.parentRunId": parent.info.run_id, "team": "risk"},
    )
    for step, loss in enumerate((0.7, 0.4, 0.3)):
        client.log_metric(
            child.info.run_id, "loss", loss, step=step, timestamp=1_700_000_002_000 + step
        )
    client.log_param(child.info.run_id, "max_depth", "5")
    client.log_param(child.info.run_id, "optimizer", "adam")
    client.set_terminated(child.info.run_id, "FAILED", end_time=1_700_000_009_000)
    client.set_terminated(parent.info.run_id, "FINISHED", end_time=1_700_000_010_000)
    live = client.create_run(experiment, run_name="still-going")
    return uri, {"parent": parent.info.run_id, "child": child.info.run_id, "live": live.info.run_id}


def test_import_brings_mlflow_runs_with_history_times_and_origin(their_runs, isolated):
    from mlops_nb.config import Settings

    uri, ids = their_runs
    settings = Settings(root=isolated, outputs=isolated / "outputs")
    report = import_mlflow_runs(settings, uri, experiments=["team"])
    assert report.counts() == {"runs imported": 2, "runs skipped": 1}
    ours = {entry["mlflow_run_id"]: entry.get("run_id") for entry in report.runs}
    with TrackingStore.from_settings(settings) as store:
        child = store.get_run(ours[ids["child"]])
        assert child["name"] == "trial-1" and child["status"] == "failed"
        assert child["params"] == {"max_depth": 5, "optimizer": "adam"}
        assert child["tags"]["team"] == "risk" and child["tags"]["origin"] == "mlflow"
        assert child["tags"]["origin.mlflow_run_id"] == ids["child"]
        assert child["tags"]["origin.mlflow_tracking_uri"] == uri
        assert child["parent"] == ours[ids["parent"]]
        assert child["start_time"].timestamp() == 1_700_000_001
        assert child["end_time"].timestamp() == 1_700_000_009
        history = store.metric_history(child["run_id"], "loss")
        assert list(zip(history["step"], history["value"], strict=True)) == [
            (0, 0.7),
            (1, 0.4),
            (2, 0.3),
        ]
        assert store.search_runs("params.max_depth <= 5")["run_id"].tolist() == [child["run_id"]]

        again = import_mlflow_runs(settings, uri)
        assert again.counts() == {"runs already imported": 2, "runs skipped": 1}
        assert len(store.search_runs("tags.origin = 'mlflow'")) == 2
    with pytest.raises(InteropError, match="did you mean 'team'"):
        import_mlflow_runs(settings, uri, experiments=["tema"])
    with pytest.raises(InteropError, match="no MLflow run 'f00'"):
        import_mlflow_runs(settings, uri, runs=["f00"])


def test_runs_we_exported_are_not_imported_back(exported, isolated):
    from mlops_nb.config import Settings

    settings = Settings(root=isolated, outputs=isolated / "outputs")
    report = import_mlflow_runs(settings, exported.uri, runs=[_runs(exported)[RUN_A].info.run_id])
    assert [entry["action"] for entry in report.runs] == ["skipped"]
    assert RUN_A in report.runs[0]["reason"]


def test_without_mlflow_the_error_names_the_extra(bridge_project, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if it were not installed
    with pytest.raises(InteropError, match=r"pip install 'mlops-nb\[mlflow\]'"):
        export_mlflow(bridge_project.settings, mlflow_uri(tmp_path))
    existing = tmp_path / "theirs.db"
    existing.touch()
    with pytest.raises(InteropError, match=r"pip install 'mlops-nb\[mlflow\]'"):
        import_mlflow_runs(bridge_project.settings, f"sqlite:///{existing}")


@pytest.mark.slow
def test_the_command_line_exports_imports_and_refuses_in_one_line(
    bridge_project, fresh_mlflow, monkeypatch
):
    uri = fresh_mlflow
    root = bridge_project.settings.root
    # the subprocesses find the bridge project from their cwd, not from `make test`'s variables
    monkeypatch.setenv("MLOPS_NB_OUTPUTS", str(bridge_project.settings.outputs))
    for name in ("MLOPS_NB_PROJECT", "MLOPS_NB_STORE", "MLOPS_NB_ARTIFACTS"):
        monkeypatch.delenv(name, raising=False)
    done = cli("export", "mlflow", "--tracking-uri", uri, "--run", RUN_A, "--json", cwd=root)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["counts"] == {"runs exported": 1}
    again = cli("export", "mlflow", "--tracking-uri", uri, "--run", RUN_A, cwd=root)
    assert again.returncode == 0, again.stderr
    assert "already exported" in again.stdout and "1 runs already exported" in again.stdout
    refused = cli("export", "mlflow", "--tracking-uri", uri, "--run", "zzz", cwd=root)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: run id 'zzz' matches no run")
    assert "Traceback" not in refused.stderr
    imported = cli("import", "mlflow", "--tracking-uri", uri, "--json", cwd=root)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["counts"] == {"runs skipped": 1}  # it came from here
    unreachable = cli("import", "mlflow", "--tracking-uri", "http://127.0.0.1:9", cwd=root)
    assert unreachable.returncode == 2
    assert unreachable.stderr.startswith("error: the MLflow server http://127.0.0.1:9 does not")
