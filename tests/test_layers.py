"""The layers the README draws are enforced: import-linter's contracts in pyproject.toml."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

LINT = [
    sys.executable,
    "-c",
    "from importlinter.cli import lint_imports_command; lint_imports_command()",
]


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [*LINT, "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_package_keeps_every_contract() -> None:
    done = lint(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(" KEPT") == 3


def test_an_upward_import_breaks_the_layers(tmp_path: Path) -> None:
    shutil.copytree(
        REPO / "mlops_nb", tmp_path / "mlops_nb", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    values = tmp_path / "mlops_nb" / "tracking" / "values.py"
    values.write_text(values.read_text() + "\nimport mlops_nb.pipeline.runner  # upward\n")
    private = tmp_path / "mlops_nb" / "data" / "task.py"
    private.write_text(private.read_text() + "\nimport mlops_nb.registry._db  # private\n")
    done = lint(tmp_path)
    assert done.returncode != 0
    assert "mlops_nb.tracking.values -> mlops_nb.pipeline.runner" in done.stdout
    assert "mlops_nb.data.task -> mlops_nb.registry._db" in done.stdout
