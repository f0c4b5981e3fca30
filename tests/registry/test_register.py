"""Registering, packaging and loading versions."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import yaml
from sklearn.linear_model import LogisticRegression

from mlops_nb.config import Settings
from mlops_nb.errors import ModelNotFoundError, RegistryError, StoreError
from mlops_nb.registry import Registry, _db
from mlops_nb.validation import load_contract

from .conftest import churn_frame, fit_pipeline

PACKAGE_FILES = {
    "model.skops",
    "signature.yaml",
    "metadata.json",
    "model_card.md",
    "model_card.html",
}


class NotTrusted:
    """A class skops saves but the registry must never build."""

    def __init__(self) -> None:
        self.weights = [1, 2, 3]


def test_round_trip_predicts_the_same(registry: Registry, register) -> None:
    model = fit_pipeline()
    mv = register(model=model)
    loaded = registry.load("churn", 1)
    X, _ = churn_frame(rows=25, seed=7)
    np.testing.assert_array_equal(loaded.model.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.model.predict_proba(X), model.predict_proba(X))
    assert loaded.version == mv
    assert list(loaded.signature.columns) == ["tenure", "charges", "plan"]
    assert loaded.metadata["version"] == 1


def test_versions_are_numbered_per_name(registry: Registry, register) -> None:
    assert [register().version for _ in range(3)] == [1, 2, 3]
    assert register("other").version == 1
    assert registry.get("churn").version == 3
    assert registry.get("churn", "latest").version == 3
    assert registry.get("churn", "2").version == 2


def test_package_holds_every_file(registry: Registry, register, tmp_path: Path) -> None:
    mv = register(params={"C": 1.0, "solver": np.str_("lbfgs")}, training_rows=60)
    assert mv.path == tmp_path / "registry" / "churn" / "1"
    assert {p.name for p in mv.path.iterdir()} == PACKAGE_FILES
    assert [p.name for p in (tmp_path / "registry").iterdir()] == ["churn"]  # no staging left
    meta = json.loads((mv.path / "metadata.json").read_text())
    assert meta["name"] == "churn" and meta["version"] == 1
    assert meta["task"] == "classification" and meta["target"] == "churned"
    assert meta["metrics"] == {"roc_auc": 0.91, "accuracy": 0.87}
    assert meta["params"] == {"C": 1.0, "solver": "lbfgs"}
    assert meta["data"] == {"rows": 60}
    assert [c["column"] for c in meta["inputs"]] == ["tenure", "charges", "plan"]
    assert meta["lineage"] == {
        "data_version": "0123456789abcdef",
        "pipeline_run": "20250101-120000-train",
        "training_run": "run-42",
    }
    assert meta["model"]["class"] == "sklearn.pipeline.Pipeline"
    packages = meta["environment"]["packages"]
    assert {"scikit-learn", "numpy", "pandas", "scipy", "skops", "pandera"} <= set(packages)
    assert packages["scikit-learn"] and meta["environment"]["python"].startswith("3.")
    assert load_contract(mv.path / "signature.yaml").name == "churn_inputs"


def test_model_version_fields(register) -> None:
    mv = register(metrics={"roc_auc": np.float64(0.9), "log_loss": float("nan")})
    assert mv.status == "active" and mv.aliases == ()
    assert mv.metrics == {"roc_auc": 0.9, "log_loss": None}
    assert mv.lineage["data_version"] == "0123456789abcdef"
    assert mv.created_at.tzinfo is not None
    assert mv.ref == "churn:1"


def test_model_card_has_the_key_facts(register) -> None:
    slices = pd.DataFrame(
        {"slice": ["plan=basic", "plan=premium"], "rows": [30, 30], "accuracy": [0.9, np.nan]}
    )
    mv = register(
        slices=slices,
        training_rows=60,
        intended_use="Rank customers | for retention calls.",
        limitations="Not calibrated for <new> plans.",
        report_url="../runs/r1/index.html",
        description="Logistic regression on tenure, charges and plan.",
    )
    markdown = (mv.path / "model_card.md").read_text()
    html = (mv.path / "model_card.html").read_text()
    for section in [
        "Model details",
        "Intended use",
        "Training data",
        "Metrics",
        "Slices",
        "Limitations",
        "Lineage",
        "Environment",
    ]:
        assert f"## {section}" in markdown and f"<h2>{section}</h2>" in html
    for fact in [
        "0123456789abcdef",
        "20250101-120000-train",
        "run-42",
        "roc_auc",
        "0.91",
        "plan=premium",
        "scikit-learn",
        "churned",
        "60",
    ]:
        assert fact in markdown and fact in html
    assert "| plan=premium | 30 | n/a |" in markdown
    assert "[run report](<../runs/r1/index.html>)" in markdown
    assert '<a href="../runs/r1/index.html">run report</a>' in html
    assert "&lt;new&gt;" in html and "<new>" not in html
    assert "Rank customers | for retention calls." in markdown


def test_untrusted_model_is_refused_at_registration(registry: Registry, register) -> None:
    with pytest.raises(RegistryError, match=r"NotTrusted"):
        register(model=NotTrusted())
    assert registry.list_models().empty
    assert list(registry.root.iterdir()) == []


def _tamper(registry: Registry, path: Path, payload: bytes, *, update_records: bool) -> None:
    (path / "model.skops").write_bytes(payload)
    if not update_records:
        return
    from mlops_nb.artifacts import sha256

    digest = sha256(path / "model.skops")
    meta = json.loads((path / "metadata.json").read_text())
    meta["model"]["sha256"] = digest
    (path / "metadata.json").write_text(json.dumps(meta))
    conn = registry.backend.connect()  # what an attacker with database access could do
    with registry.backend.transaction(conn):
        conn.execute("UPDATE registry_versions SET sha256 = ?", (digest,))
    conn.close()


def test_untrusted_type_in_package_is_refused_at_load(registry: Registry, register) -> None:
    mv = register()
    _tamper(registry, mv.path, sio.dumps(NotTrusted()), update_records=True)
    with pytest.raises(
        RegistryError,
        match=r"not trusted: tests\.registry\.test_register"
        r"\.NotTrusted",
    ) as info:
        registry.load("churn", 1)
    assert info.value.path == mv.path / "model.skops"


def test_tampered_model_fails_the_checksum(registry: Registry, register) -> None:
    mv = register()
    other = LogisticRegression().fit(np.eye(4), [0, 1, 0, 1])
    _tamper(registry, mv.path, sio.dumps(other), update_records=False)
    with pytest.raises(RegistryError, match=r"checksum mismatch.*changed after registration"):
        registry.load("churn", 1)


def test_tampered_metadata_checksum_is_caught(registry: Registry, register) -> None:
    mv = register()
    meta = json.loads((mv.path / "metadata.json").read_text())
    meta["model"]["sha256"] = "0" * 64
    (mv.path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(RegistryError, match="registry database has"):
        registry.load("churn", 1)


def test_missing_package_folder(registry: Registry, register) -> None:
    import shutil

    shutil.rmtree(register().path)
    with pytest.raises(RegistryError, match=r"package folder .* is missing"):
        registry.load("churn", 1)


def test_unknown_model_lists_known_ones(registry: Registry, register) -> None:
    with pytest.raises(ModelNotFoundError, match="no model is registered yet"):
        registry.get("churn")
    register()
    register("fraud")
    with pytest.raises(ModelNotFoundError) as info:
        registry.get("chrun", 1)
    message = str(info.value)
    assert "no model named 'chrun'" in message
    assert "registered models: churn, fraud." in message
    assert "Did you mean 'churn'?" in message
    assert isinstance(info.value, LookupError)
    assert info.value.model == "chrun"


def test_unknown_version_lists_versions(registry: Registry, register) -> None:
    register()
    register()
    with pytest.raises(ModelNotFoundError, match="has no version 7; its versions are 1, 2"):
        registry.load("churn", 7)


def test_unknown_alias_lists_aliases(registry: Registry, register) -> None:
    register()
    with pytest.raises(ModelNotFoundError, match="no alias 'production'; it has no aliases"):
        registry.get("churn", "production")
    registry.set_alias("churn", "staging", 1, reason="first")
    with pytest.raises(ModelNotFoundError, match=r"its aliases are staging.*Did you mean"):
        registry.get("churn", "stagin")


@pytest.mark.parametrize("name", ["../x", "a/b", "", ".hidden", "x" * 100])
def test_bad_names_register_nothing(registry: Registry, register, name: str) -> None:
    with pytest.raises(RegistryError, match=r"not allowed|must be text"):
        register(name)
    assert list(registry.root.iterdir()) == []


def test_names_differing_only_in_case_are_refused(registry: Registry, register) -> None:
    register("churn")
    with pytest.raises(RegistryError, match="differs only in case"):
        register("Churn")
    assert [p.name for p in registry.root.iterdir()] == ["churn"]


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"metrics": {"auc": "high"}}, "not a number"),
        ({"metrics": [0.9]}, "metrics must be a dict"),
        ({"signature": {"tenure": int}}, "pandera DataFrameSchema"),
        ({"task": ""}, "task must be non-empty"),
        ({"slices": [1, 2]}, "slices must be a DataFrame"),
    ],
)
def test_bad_arguments_register_nothing(registry: Registry, register, extra, match) -> None:
    with pytest.raises(RegistryError, match=match):
        register(**extra)
    assert list(registry.root.iterdir()) == []
    assert registry.list_models().empty


def test_failed_insert_leaves_no_folder(registry: Registry, register, monkeypatch) -> None:
    from mlops_nb.registry import _write

    driver_error = sqlite3.OperationalError
    if registry.backend.dialect.name == "postgresql":
        import psycopg

        driver_error = psycopg.OperationalError

    def broken(*args, **kwargs):
        raise driver_error("disk I/O error")

    register()
    monkeypatch.setattr(_write, "insert_version", broken)
    with pytest.raises(StoreError, match="disk I/O error") as caught:
        register()
    assert isinstance(caught.value.__cause__, driver_error)  # translated, kept
    assert sorted(p.name for p in (registry.root / "churn").iterdir()) == ["1"]
    monkeypatch.undo()
    assert register().version == 2


def test_stray_folder_is_set_aside(registry: Registry, register) -> None:
    (registry.root / "churn" / "1").mkdir(parents=True)
    (registry.root / "churn" / "1" / "partial").write_text("left by a killed process")
    mv = register()
    assert {p.name for p in mv.path.iterdir()} == PACKAGE_FILES
    orphans = [p for p in (registry.root / "churn").iterdir() if p.name.startswith(".orphan-1-")]
    assert len(orphans) == 1 and (orphans[0] / "partial").is_file()


def test_listings(registry: Registry, register) -> None:
    register()
    register(metrics={"roc_auc": 0.93, "accuracy": 0.88})
    register("fraud")
    registry.set_alias("churn", "production", 1, reason="first")
    registry.set_alias("churn", "staging", 2, reason="candidate")
    models = registry.list_models()
    assert list(models.columns) == ["name", "versions", "latest", "aliases", "updated"]
    assert models["name"].tolist() == ["churn", "fraud"]
    assert models["versions"].tolist() == [2, 1]
    assert models["latest"].tolist() == [2, 1]
    assert models["aliases"].tolist() == ["production=1, staging=2", ""]
    assert str(models["updated"].dt.tz) == "UTC"
    versions = registry.versions("churn")
    assert versions["version"].tolist() == [1, 2]
    assert versions["aliases"].tolist() == ["production", "staging"]
    assert versions["roc_auc"].tolist() == [0.91, 0.93]
    assert versions["status"].tolist() == ["active", "active"]


def test_empty_listing_has_columns(registry: Registry) -> None:
    frame = registry.list_models()
    assert frame.empty and list(frame.columns) == [
        "name",
        "versions",
        "latest",
        "aliases",
        "updated",
    ]


def test_from_settings_uses_the_project_paths(tmp_path: Path) -> None:
    settings = Settings(root=tmp_path, outputs=tmp_path / "outputs")
    with Registry.from_settings(settings) as reg:
        assert reg.database == tmp_path / "outputs" / "mlops.db"
        assert reg.root == tmp_path / "outputs" / "registry"
    with sqlite3.connect(settings.database) as conn:
        row = conn.execute("SELECT version FROM schema_version WHERE component = 'registry'")
        assert row.fetchone()[0] == len(_db.STEPS)
    conn.close()


def test_signature_yaml_is_readable(register) -> None:
    mv = register()
    data = yaml.safe_load((mv.path / "signature.yaml").read_text())
    assert set(data["columns"]) == {"tenure", "charges", "plan"}


def test_whole_references(registry: Registry, register) -> None:
    register()
    register()
    registry.set_alias("churn", "production", 1, reason="first")
    assert registry.get("churn@production").version == 1
    assert registry.get("churn:2").version == 2
    assert registry.get("churn").version == 2
    assert registry.load("churn@production").version.version == 1
    with pytest.raises(RegistryError, match="write churn:2"):
        registry.get("churn@2")
