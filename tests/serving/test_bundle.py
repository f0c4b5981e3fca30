"""Deployment bundles: files, pinned requirements, manifest, Dockerfile, loading back."""

from __future__ import annotations

import json
import re
import zipfile
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlops_nb
from mlops_nb.artifacts import sha256
from mlops_nb.data import generate_churn
from mlops_nb.errors import ModelNotFoundError, ServingError
from mlops_nb.serving import Bundle, build_bundle, load_bundle
from mlops_nb.validation import validate
from mlops_nb.validation.fast import example_record
from tests.serving.test_batch import register_churn

MODEL_FILES = {"metadata.json", "model.skops", "model_card.html", "model_card.md", "signature.yaml"}


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory):
    with register_churn(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


@pytest.fixture(scope="module")
def bundle(registry, tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    return build_bundle(registry, "churn@production", tmp_path_factory.mktemp("out") / "churn")


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` per Dockerfile instruction, continuations joined."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    found = []
    for raw in joined.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_all_files_are_present_and_hashed(bundle):
    root = bundle.path
    assert (bundle.model, bundle.version, bundle.ref) == ("churn", 1, "churn:1")
    assert {p.name for p in (root / "model").iterdir()} == MODEL_FILES
    for name in ("requirements.txt", "Dockerfile", "README.md", "bundle.json"):
        assert (root / name).is_file(), name
    manifest = json.loads((root / "bundle.json").read_text())
    on_disk = {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name != "bundle.json"
    }
    assert set(manifest["files"]) == on_disk == set(bundle.files)
    for name, digest in manifest["files"].items():
        assert sha256(root / name) == digest == bundle.files[name], name
    assert (manifest["model"], manifest["version"], manifest["aliases"]) == (
        "churn",
        1,
        ["production"],
    )
    assert [p.name for p in root.parent.iterdir()] == ["churn"]  # no staging folder left


def test_model_files_are_the_registry_package(bundle, registry):
    package = registry.get("churn:1").path
    for name in MODEL_FILES:
        assert (bundle.path / "model" / name).read_bytes() == (package / name).read_bytes()


def test_requirements_are_pinned_to_the_training_environment(bundle, registry):
    recorded = registry.load("churn:1").metadata["environment"]["packages"]
    lines = (bundle.path / "requirements.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in lines if line and not line.startswith("#"))
    for package, version in recorded.items():
        if package != "mlops-nb":
            assert pins[package] == version, package
    assert pins["mlops-nb[serve]"] == mlops_nb.__version__  # the serving extra, no JupyterLab
    assert not {"jupyterlab", "ipywidgets", "mlops-nb"} & set(pins)
    for package in ("fastapi", "uvicorn", "httpx", "pyarrow"):
        assert pins[package] == importlib_metadata.version(package)


def test_dockerfile_structure(bundle):
    steps = instructions((bundle.path / "Dockerfile").read_text())
    words = [word for word, _ in steps]
    args = dict(steps)
    assert words[0] == "FROM" and args["FROM"] == "python:3.11-slim"
    runs = [rest for word, rest in steps if word == "RUN"]
    assert "pip install --no-cache-dir" in runs[0] and "-r requirements.txt" in runs[0]
    users = [rest for word, rest in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0") and words.index("USER") > words.index("RUN")
    assert args["EXPOSE"] == "8000"
    assert "/health" in args["HEALTHCHECK"] and "8000" in args["HEALTHCHECK"]
    command = json.loads(args["CMD"])
    assert command[:2] == ["mlops-nb", "serve"]
    assert command[command.index("--model-dir") + 1] == "/app/model"
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] == "8000"
    assert words[-1] == "CMD" and "MLOPS_NB_TOKEN" not in args.get("ENV", "")
    copied = [rest for word, rest in steps if word == "COPY"]
    assert "model/ ./model/" in copied and "bundle.json ./" in copied


def test_readme_explains_build_run_and_call(bundle, registry):
    readme = (bundle.path / "README.md").read_text()
    for text in (
        "churn:1",
        "roc_auc 0.8",
        "docker build",
        "docker run",
        "curl",
        "/predict",
        "MLOPS_NB_TOKEN",
        "Authorization: Bearer",
        "| support_calls | int64 |",
    ):
        assert text in readme, text
    body = re.search(r"-d '(.+)'", readme).group(1)
    record = json.loads(body)["records"][0]
    signature = registry.load("churn:1").signature
    result = validate(pd.DataFrame([record]), signature)
    assert result.passed and record == example_record(signature)


@pytest.mark.parametrize("where", ["", "model"])
def test_bundle_loads_and_predicts_like_the_registry(bundle, registry, where):
    loaded = load_bundle(bundle.path / where)
    original = registry.load("churn@production")
    assert (loaded.version.ref, loaded.version.target) == ("churn:1", "churned")
    assert loaded.version.aliases == ("production",)
    rows = validate(
        generate_churn(200, seed=9).drop(columns="churned"),
        loaded.signature,
        on_invalid="quarantine",
        max_invalid_fraction=1.0,
    ).valid
    np.testing.assert_array_equal(loaded.model.predict(rows), original.model.predict(rows))
    np.testing.assert_array_equal(
        loaded.model.predict_proba(rows), original.model.predict_proba(rows)
    )


def test_a_changed_model_file_is_refused(registry, tmp_path):
    built = build_bundle(registry, "churn:1", tmp_path / "b", port=9000)
    signature = built.path / "model" / "signature.yaml"
    signature.write_text(signature.read_text() + "\n# edited\n")
    with pytest.raises(ServingError, match=r"signature\.yaml does not match"):
        load_bundle(built.path)
    model = built.path / "model" / "model.skops"
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(ServingError, match=r"model\.skops does not match"):
        load_bundle(built.path / "model")


def test_port_and_target_folder_rules(registry, tmp_path):
    built = build_bundle(registry, "churn:1", tmp_path / "b", port=9000)
    args = dict(instructions((built.path / "Dockerfile").read_text()))
    assert (
        args["EXPOSE"] == "9000"
        and '"9000"' in args["CMD"]
        and ":9000/health" in args["HEALTHCHECK"]
    )
    with pytest.raises(ServingError, match="not empty"):
        build_bundle(registry, "churn:1", tmp_path / "b")
    again = build_bundle(registry, "churn:1", tmp_path / "b", overwrite=True)
    assert dict(instructions((again.path / "Dockerfile").read_text()))["EXPOSE"] == "8000"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("keep me")
    with pytest.raises(ServingError, match="not a bundle"):
        build_bundle(registry, "churn:1", tmp_path / "other", overwrite=True)
    assert (tmp_path / "other" / "notes.txt").read_text() == "keep me"
    with pytest.raises(ServingError, match="port"):
        build_bundle(registry, "churn:1", tmp_path / "c", port=0)
    with pytest.raises(ModelNotFoundError):
        build_bundle(registry, "churn@nowhere", tmp_path / "d")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "other"]


def test_a_wheel_is_shipped_in_the_bundle(registry, tmp_path):
    wheel = tmp_path / "mlops_nb-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK fake wheel")
    built = build_bundle(registry, "churn:1", tmp_path / "b", wheel=wheel)
    assert (built.path / "wheels" / wheel.name).read_bytes() == b"PK fake wheel"
    assert f"wheels/{wheel.name}" in built.files
    with pytest.raises(ServingError, match=r"not a \.whl file"):
        build_bundle(registry, "churn:1", tmp_path / "c", wheel=tmp_path / "missing.whl")
    with pytest.raises(ServingError, match="wheels='some'"):
        build_bundle(registry, "churn:1", tmp_path / "d", wheels="some")


def test_the_bundle_carries_the_mlops_nb_wheel_of_this_source(bundle):
    (wheel,) = (bundle.path / "wheels").glob("mlops_nb-*.whl")
    assert wheel.name == f"mlops_nb-{mlops_nb.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"mlops_nb-{mlops_nb.__version__}.dist-info/METADATA").decode()
    assert {"mlops_nb/__init__.py", "mlops_nb/serving/bundle/templates/Dockerfile.j2"} <= names
    assert "Provides-Extra: serve" in metadata
    manifest = json.loads((bundle.path / "bundle.json").read_text())
    assert manifest["wheels"] == "mlops-nb" and f"wheels/{wheel.name}" in manifest["files"]


def test_the_wheels_readme_is_unchanged(bundle):
    golden = Path(__file__).parent / "golden" / "wheels_README.txt"
    assert (bundle.path / "wheels" / "README.txt").read_bytes() == golden.read_bytes()
