"""Moving a project's store to PostgreSQL and object storage, and saying what is in use."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_nb.config import Settings
from mlops_nb.errors import StoreError
from mlops_nb.maintenance.store import migrate_store, store_info
from mlops_nb.registry import Registry
from mlops_nb.store import ArtifactLocation
from mlops_nb.store.files import file_digest
from mlops_nb.tracking import TrackingStore
from tests.registry.conftest import churn_frame, register_model


@pytest.fixture
def project(tmp_path: Path) -> Settings:
    """A project on the embedded default holding runs, metrics and two registered versions."""
    settings = Settings(root=tmp_path, outputs=tmp_path / "outputs")
    with TrackingStore.from_settings(settings) as store:
        for depth in (3, 5):
            with store.start_run("rf", stage="train") as run:
                run.log_params({"depth": depth, "model": "rf"})
                for step in range(4):
                    run.log_metric("auc", 0.7 + step / 100, step=step)
                run.set_tag("owner", "ana")
    with Registry.from_settings(settings) as registry:
        register_model(registry, "churn")
        version = register_model(registry, "churn")
        registry.set_alias("churn", "production", version.version, reason="best so far")
    return settings


@pytest.fixture
def bucket(s3, monkeypatch) -> str:
    for key, value in s3.environment.items():
        monkeypatch.setenv(key, value)
    return f"s3://{s3.fresh_bucket()}/team"


def test_migration_copies_everything_verifies_it_and_can_run_again(
    project: Settings, postgres, bucket: str, tmp_path: Path
) -> None:
    target = postgres.fresh_schema()
    report = migrate_store(project, target, artifacts=bucket)
    assert report.ok, report.problems
    assert report.rows["tracking_runs"] == (2, 2)
    assert report.rows["tracking_metrics"] == (8, 8)
    assert report.rows["registry_versions"] == (2, 2)
    assert report.rows["registry_alias_history"] == (1, 1)
    packages = [p for p in (project.registry_dir / "churn").iterdir() if p.is_dir()]
    digests = {file_digest(f) for p in packages for f in p.iterdir()}
    assert report.files == len(digests) >= 6  # each content once: both share a signature

    again = migrate_store(project, target, artifacts=bucket)
    assert again.ok and all(copied == 0 for _, copied in again.rows.values())

    # a machine with an empty outputs folder and only the two URLs sees everything
    other = Settings(
        root=tmp_path, outputs=tmp_path / "b" / "outputs", store=target, artifacts=bucket
    )
    with TrackingStore.from_settings(other) as store:
        found = store.search_runs("params.depth = 5", order_by="metrics.auc desc")
        assert len(found) == 1 and found["metrics.auc"].iloc[0] == pytest.approx(0.73)
        assert len(store.metric_history(found["run_id"].iloc[0])) == 4
    with Registry.from_settings(other) as registry:
        loaded = registry.load("churn@production")
        assert loaded.version.version == 2
        assert loaded.version.path.is_relative_to(tmp_path / "b")
        assert len(loaded.model.predict(churn_frame()[0])) == 60
        assert registry.history("churn")["reason"].tolist() == ["best so far"]


def test_the_same_store_is_refused(project: Settings) -> None:
    with pytest.raises(StoreError, match="is the project's own store"):
        migrate_store(project, str(project.database))


def test_info_names_the_store_the_location_and_their_state(
    project: Settings, postgres, bucket: str
) -> None:
    embedded = store_info(project)
    assert embedded["store"]["kind"] == "sqlite" and embedded["store"]["reachable"]
    schema, latest = embedded["store"]["schema"], embedded["store"]["latest_schema"]
    assert schema["tracking"] == latest["tracking"] and schema["registry"] == latest["registry"]
    assert schema["runs"] == 0  # a component is created on its first use
    assert embedded["artifacts"]["publishes"] is False

    team = Settings(project.root, project.outputs, store=postgres.fresh_schema(), artifacts=bucket)
    info = store_info(team)
    assert info["store"]["kind"] == "postgresql" and info["store"]["reachable"]
    assert "***" in info["store"]["url"] and postgres.url() not in str(info)
    assert info["artifacts"] == {"url": bucket, "publishes": True, "reachable": True}

    down = Settings(project.root, project.outputs, store="postgresql://u:pw@127.0.0.1:1/db")
    unreachable = store_info(down)
    assert unreachable["store"]["reachable"] is False
    assert "cannot reach the PostgreSQL store" in unreachable["store"]["error"]
    assert "pw" not in str(unreachable)
    assert isinstance(ArtifactLocation(bucket, project.outputs).display_url, str)
