"""The bundle's generated texts, byte for byte: requirements.txt, Dockerfile and README.md.

The golden files in ``golden/`` were written by the f-string version of these texts;
the templates must render exactly the same bytes. Installed versions and the Python
version are fixed here, so the texts depend on nothing but the inputs below.
"""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from pathlib import Path

import pandera.pandas as pa
import pytest

from mlops_nb.registry import LoadedModel, ModelVersion
from mlops_nb.serving.bundle import texts
from mlops_nb.validation import input_contract, load_contract

from .conftest import CONTRACT

GOLDEN = Path(__file__).parent / "golden"
BUILT_AT = "2026-02-03T04:05:06+00:00"
INSTALLED = {
    "scikit-learn": "1.9.1",
    "numpy": "2.3.0",
    "scipy": "1.17.1",
    "pandas": "3.0.0",
    "skops": "0.13.0",
    "pandera": "0.26.0",
    "pyarrow": "21.0.0",
    "fastapi": "0.120.0",
    "starlette": "0.48.0",
    "pydantic": "2.12.0",
    "uvicorn": "0.38.0",
    "httpx": "0.28.1",
    "prometheus-client": "0.23.1",
    "mlops-nb": "0.1.0",
}
SPARSE_INSTALLED = {"numpy": "2.3.0", "pandas": "3.0.0", "fastapi": "0.120.0"}


def churn_model() -> LoadedModel:
    """A classifier with recorded training versions, aliases, metrics and lineage."""
    version = ModelVersion(
        name="churn",
        version=3,
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        status="active",
        aliases=("production", "staging"),
        metrics={"roc_auc": 0.812345, "rows": 500, "log_loss": None},
        task="binary",
        target="churned",
        lineage={"data_version": "c0ffee12", "pipeline_run": "20260101T000000.000000Z-ab12"},
        path=Path("/registry/churn/3"),
    )
    environment = {
        "python": "3.11.9",
        "packages": {
            "scikit-learn": "1.5.2",
            "numpy": "1.26.4",
            "scipy": "1.13.1",
            "pandas": "2.2.3",
            "skops": "0.10.0",
            "pandera": "0.22.1",
            "mlops-nb": "0.0.9",
        },
    }
    signature = input_contract(load_contract(CONTRACT), "churned")
    return LoadedModel(None, version, signature, {"environment": environment})


def sparse_model() -> LoadedModel:
    """A regressor with nothing recorded, and a signature no example record satisfies."""
    version = ModelVersion(
        name="house-prices",
        version=1,
        created_at=datetime(2025, 12, 31, 23, 59),
        status="active",
        aliases=(),
        metrics={},
        task="regression",
        target="price",
        lineage={},
        path=Path("/registry/house-prices/1"),
    )
    signature = pa.DataFrameSchema(
        {
            "code": pa.Column(str, pa.Check.str_matches(r"^[A-Z]{3}\|[0-9]$")),
            "rooms": pa.Column(int, pa.Check.greater_than(0), nullable=True),
            "area": pa.Column(float, pa.Check.less_than(1e4), description="m2\nfloor"),
            "garden": pa.Column(bool, required=False),
        },
        name="houses",
        strict=True,
    )
    return LoadedModel(None, version, signature, {"environment": {"python": "three"}})


CASES = {
    "churn": (churn_model, INSTALLED, 8000),
    "sparse": (sparse_model, SPARSE_INSTALLED, 9000),
}


def rendered(case: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    make, installed, port = CASES[case]
    monkeypatch.setattr(texts, "installed_version", installed.get)
    monkeypatch.setattr(platform, "python_version_tuple", lambda: ("3", "12", "4"))
    loaded = make()
    return {
        "requirements.txt": texts.requirements_text(loaded.metadata, loaded.version.ref),
        "Dockerfile": texts.dockerfile_text(loaded.metadata, loaded.version.ref, port),
        "README.md": texts.readme_text(loaded, port, BUILT_AT),
    }


@pytest.mark.parametrize("name", ["requirements.txt", "Dockerfile", "README.md"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_texts_are_byte_identical_to_the_golden_files(case, name, monkeypatch):
    text = rendered(case, monkeypatch)[name]
    assert text.encode("utf-8") == (GOLDEN / case / name).read_bytes()


def test_an_offline_bundle_installs_with_no_index(monkeypatch):
    monkeypatch.setattr(texts, "installed_version", INSTALLED.get)
    loaded = churn_model()
    online = texts.dockerfile_text(loaded.metadata, loaded.version.ref, 8000)
    offline = texts.dockerfile_text(loaded.metadata, loaded.version.ref, 8000, offline=True)
    install = "pip install --no-cache-dir --no-index --find-links ./wheels -r requirements.txt"
    assert install in offline and "--no-index" not in online
    readme = texts.readme_text(loaded, 8000, BUILT_AT, offline=True)
    assert "--no-index" in readme and "needs no network" in readme
