"""Shared fixtures: small real projects in temporary folders."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_nb.config import Settings, load_settings

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent

# The fixture notebooks are inputs of tests (one fails on purpose), not tests.
collect_ignore_glob = ["fixtures/*"]

TWO_STAGES = """
pipelines:
  demo:
    params:
      value: {type: int, default: 1, help: the number}
    stages:
      produce:
        notebook: notebooks/produce.ipynb
      consume:
        notebook: notebooks/consume.ipynb
        needs: [produce]
"""


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean environment: no project or outputs variables, cwd in tmp_path."""
    monkeypatch.delenv("MLOPS_NB_PROJECT", raising=False)
    monkeypatch.delenv("MLOPS_NB_OUTPUTS", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def make_project(isolated: Path) -> Callable[..., Settings]:
    """Write a project (pipeline.yaml + fixture notebooks) and return its settings."""

    def make(yaml_text: str = TWO_STAGES, notebooks: tuple[str, ...] = ()) -> Settings:
        root = isolated / "project"
        (root / "notebooks").mkdir(parents=True, exist_ok=True)
        names = notebooks or ("produce", "consume", "broken", "no_parameters")
        for name in names:
            shutil.copy(FIXTURES / "notebooks" / f"{name}.ipynb", root / "notebooks")
        (root / "pipeline.yaml").write_text(textwrap.dedent(yaml_text))
        return load_settings(root)

    return make
