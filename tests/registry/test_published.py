"""Packages published to an artifact location: another machine loads them, verified."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_nb.errors import StoreError
from mlops_nb.registry import Registry
from mlops_nb.store import ArtifactLocation
from mlops_nb.store.files import file_digest
from tests.registry.conftest import churn_frame, register_model


@pytest.fixture(params=["s3", "folder"])
def location(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch) -> str:
    """An S3 bucket on the moto server, or a shared folder."""
    if request.param == "folder":
        return str(tmp_path / "shared")
    server = request.getfixturevalue("s3")
    for key, value in server.environment.items():
        monkeypatch.setenv(key, value)
    return f"s3://{server.fresh_bucket()}/team"


def machine(store_url: str, location: str, folder: Path) -> Registry:
    """The registry as a machine with its own empty outputs folder sees it."""
    outputs = folder / "outputs"
    return Registry(store_url, outputs / "registry", location=ArtifactLocation(location, outputs))


def test_a_second_machine_loads_what_the_first_registered(
    store_url: str, location: str, tmp_path: Path
) -> None:
    first = machine(store_url, location, tmp_path / "a")
    version = register_model(first, "churn", training_run="a")
    first.set_alias("churn", "production", version.version, reason="first")

    second = machine(store_url, location, tmp_path / "b")
    assert not (tmp_path / "b" / "outputs" / "registry").joinpath("churn").exists()
    loaded = second.load("churn@production")
    X, _ = churn_frame()
    assert (loaded.model.predict(X) == first.load("churn", 1).model.predict(X)).all()
    assert loaded.version.path.is_relative_to(tmp_path / "b")
    assert second.history("churn")["actor"].notna().all()
    assert (loaded.version.path / "model_card.html").is_file()


def test_a_changed_object_is_refused_not_loaded(
    store_url: str, location: str, tmp_path: Path
) -> None:
    first = machine(store_url, location, tmp_path / "a")
    version = register_model(first, "churn")
    relative = version.path.relative_to(first.root).as_posix()
    where = first.artifacts
    assert where is not None
    digest = file_digest(version.path / "model.skops")
    with where.fs.open(where.key_url(where.object_key(digest)), "wb") as handle:
        handle.write(b"not the model")  # someone with write access to the bucket

    second = machine(store_url, location, tmp_path / "b")
    with pytest.raises(StoreError, match="does not match its recorded SHA-256"):
        second.load("churn", version.version)
    assert not (second.root / relative / "model.skops").exists(), "nothing half-fetched"
