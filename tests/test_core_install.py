"""A core install (no extras) runs pipelines and the registry, and names the extra it lacks.

The optional packages are installed here (make installs ``.[all,test]``), so each
test runs Python in a subprocess whose ``sitecustomize`` puts a finder first on
``sys.meta_path`` that raises ``ModuleNotFoundError`` for them, as an environment
without them would. ``PYTHONPATH`` carries it to every Python the run starts:
the fork server and the stage kernels too.

pydantic is not blocked: pandera, a core dependency, requires and imports it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, REPO, TWO_STAGES

BLOCKED = (
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "prometheus_client",
    "jupyterlab",
    "jupyter_server",
    "ipywidgets",
    "mlflow",
)
SITECUSTOMIZE = f"""
import sys

BLOCKED = {BLOCKED!r}


class BlockExtras:
    \"\"\"Raise for the extras' modules, as if they were not installed.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
        return None


sys.meta_path.insert(0, BlockExtras())
"""
CORE_SCRIPT = """
import importlib, json, sys
from pathlib import Path

import mlops_nb as mn
from mlops_nb.errors import MissingExtraError
from tests.serving.conftest import CONTRACT, fit_churn_model, valid_inputs
from mlops_nb.config import Settings
from mlops_nb.validation import input_contract, load_contract

root = Path(sys.argv[1])
settings = Settings(root=root, outputs=root / "outputs")
with mn.Registry.from_settings(settings) as registry:
    signature = input_contract(load_contract(CONTRACT), "churned")
    registry.register(
        "churn", fit_churn_model(rows=300), signature=signature,
        task="binary", target="churned", metrics={"roc_auc": 0.8}, data_version="x",
        pipeline_run=None, training_run=None,
    )
    registry.set_alias("churn", "production", 1, reason="core install")
    loaded = registry.load("churn@production")
    frame = valid_inputs(rows=50)
    frame.to_csv(root / "in.csv", index=False)
    scored = mn.predict_file(registry, "churn@production", root / "in.csv", root / "out.csv")
    bundle = mn.build_bundle(registry, "churn@production", root / "bundle", wheels=None)
errors = {}
for what, name in (("start_server", "mlops_nb"), ("RunBrowser", "mlops_nb.widgets")):
    try:
        getattr(importlib.import_module(name), what)
    except MissingExtraError as exc:
        errors[what] = [str(exc), exc.extra, exc.module, isinstance(exc, ImportError)]
print(json.dumps({
    "version": loaded.version.ref,
    "scored": scored.scored,
    "bundle": sorted(bundle.files),
    "errors": errors,
    "loaded": sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED_TOPS),
}))
"""


@pytest.fixture(scope="module")
def core_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a Python that finds none of the extras' modules."""
    site = tmp_path_factory.mktemp("no-extras")
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    paths = [str(site), str(REPO), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    for name in ("MLOPS_NB_PROJECT", "MLOPS_NB_OUTPUTS", "MLOPS_NB_STORE", "MLOPS_NB_ARTIFACTS"):
        env.pop(name, None)
    return env


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_the_blocker_blocks(core_env, tmp_path):
    done = run(core_env, tmp_path, "-c", "import fastapi")
    assert done.returncode == 1 and "No module named 'fastapi' (blocked)" in done.stderr


def test_import_help_and_a_pipeline_run_need_no_extra(core_env, tmp_path):
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    for name in ("produce", "consume"):
        (project / "notebooks" / f"{name}.ipynb").write_bytes(
            (FIXTURES / "notebooks" / f"{name}.ipynb").read_bytes()
        )
    (project / "pipeline.yaml").write_text(textwrap.dedent(TWO_STAGES), encoding="utf-8")
    imported = run(
        core_env, project, "-c", "import mlops_nb, mlops_nb.cli, sys; print(len(sys.modules))"
    )
    assert imported.returncode == 0, imported.stderr
    helped = run(core_env, project, "-m", "mlops_nb", "--help")
    assert helped.returncode == 0 and "serve" in helped.stdout, helped.stderr
    ran = run(core_env, project, "-m", "mlops_nb", "run", "demo", "-p", "value=7")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    (run_json,) = (project / "outputs" / "runs").glob("*/run.json")
    record = json.loads(run_json.read_text(encoding="utf-8"))
    assert record["status"] == "succeeded"
    assert [stage["status"] for stage in record["stages"]] == ["succeeded"] * 2


def test_the_registry_batch_scoring_and_bundles_need_no_extra(core_env, tmp_path):
    script = f"BLOCKED_TOPS = {BLOCKED!r}\n" + textwrap.dedent(CORE_SCRIPT)
    done = run(core_env, REPO, "-c", script, str(tmp_path))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (result["version"], result["scored"], result["loaded"]) == ("churn:1", 50, [])
    assert {"Dockerfile", "requirements.txt", "model/model.skops"} <= set(result["bundle"])
    server, widgets = result["errors"]["start_server"], result["errors"]["RunBrowser"]
    assert server[1] == "serve" and server[2] in BLOCKED and server[3] is True
    assert "pip install 'mlops-nb[serve]'" in server[0] and "HTTP server" in server[0]
    assert widgets[1:] == ["lab", "ipywidgets", True]
    assert "pip install 'mlops-nb[lab]'" in widgets[0]


def test_serve_on_the_command_line_names_the_serve_extra(core_env, tmp_path):
    (tmp_path / "pipeline.yaml").write_text("pipelines: {}\n", encoding="utf-8")
    done = run(core_env, tmp_path, "-m", "mlops_nb", "serve", "churn@production")
    assert done.returncode != 0
    message = " ".join((done.stdout + done.stderr).split())
    assert "pip install 'mlops-nb[serve]'" in message and "is not installed" in message
    assert "Traceback" not in done.stderr
