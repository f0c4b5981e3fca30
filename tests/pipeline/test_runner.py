"""The runner on real notebooks, executed by papermill in real kernels."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat
import pytest

from mlops_nb import Stage
from mlops_nb.errors import ParameterError, PipelineSpecError, StageFailedError
from mlops_nb.pipeline.cache import CACHE_STEPS
from mlops_nb.pipeline.runner import Runner, plan_run
from mlops_nb.store import open_backend
from tests.conftest import TWO_STAGES

LONELY = """
pipelines:
  lonely:
    stages:
      consume: {notebook: notebooks/consume.ipynb}
"""
WITH_BROKEN = TWO_STAGES.replace(
    "      consume:\n        notebook: notebooks/consume.ipynb\n        needs: [produce]\n",
    "      broken:\n        notebook: notebooks/broken.ipynb\n        needs: [produce]\n"
    "      consume:\n        notebook: notebooks/consume.ipynb\n        needs: [broken, produce]\n",
)


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.ipynb")}


@pytest.mark.slow
def test_a_run_leaves_a_complete_archive(make_project):
    settings = make_project()
    before = digest(settings.root / "notebooks")
    record = Runner(settings).run(plan_run(settings, overrides={"value": "5", "factor": "3"}))

    run_dir = Path(record["run_dir"])
    assert run_dir.parent == settings.runs_dir
    saved = json.loads((run_dir / "run.json").read_text())
    assert saved["status"] == "succeeded"
    assert saved["partial"] is False and saved["dev"] is False
    assert [s["name"] for s in saved["stages"]] == ["produce", "consume"]
    assert all(s["status"] == "succeeded" and s["seconds"] > 0 for s in saved["stages"])
    assert saved["params"]["value"] == 5
    assert saved["metrics"] == {"produce.value": 5, "consume.result": 15}
    assert saved["data_versions"] == {"numbers": "v5"}
    assert saved["environment"]["packages"]["papermill"]
    for stage in ("01_produce", "02_consume"):
        for name in ("executed.ipynb", "report.html", "stage.json"):
            assert (run_dir / stage / name).is_file(), f"{stage}/{name} missing"
    assert json.loads((run_dir / "02_consume" / "result.json").read_text()) == {"result": 15}
    index = (run_dir / "index.html").read_text()
    assert "01_produce/report.html" in index and "succeeded" in index
    assert digest(settings.root / "notebooks") == before, "templates must never be modified"
    executed = nbformat.read(run_dir / "01_produce" / "executed.ipynb", as_version=4)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert "value = 5" in injected[0].source


@pytest.mark.slow
def test_a_failing_stage_names_stage_cell_error_and_notebook(make_project):
    settings = make_project(WITH_BROKEN)
    with pytest.raises(StageFailedError) as caught:
        Runner(settings).run(plan_run(settings))
    error = caught.value
    assert error.stage == "broken" and error.ename == "ValueError"
    assert error.cell == 4  # parameters, injected parameters, setup, the raise
    assert "boom in broken" in str(error) and str(error.notebook) in str(error)
    assert "stage 'broken' failed in cell In [4]" in str(error)

    run_dir = error.notebook.parent.parent
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "failed"
    assert [s["status"] for s in record["stages"]] == ["succeeded", "failed", "skipped"]
    assert record["error"]["stage"] == "broken"
    executed = nbformat.read(error.notebook, as_version=4)
    failed = [c for c in executed.cells if c.metadata.get("papermill", {}).get("exception")]
    assert len(failed) == 1 and "raise ValueError" in failed[0].source
    assert (run_dir / "02_broken" / "before.json").is_file()
    assert not (run_dir / "02_broken" / "after.json").exists()
    assert (run_dir / "02_broken" / "report.html").is_file()
    assert "failed" in (run_dir / "index.html").read_text()


@pytest.mark.slow
def test_until_runs_only_what_the_stage_needs(make_project):
    settings = make_project()
    record = Runner(settings).run(plan_run(settings, until="produce"))
    assert [s["name"] for s in record["stages"]] == ["produce"]
    saved = json.loads((Path(record["run_dir"]) / "run.json").read_text())
    assert saved["partial"] is True and saved["until"] == "produce"
    assert saved["status"] == "succeeded"
    whole = Runner(settings).run(plan_run(settings, until="consume"))
    assert whole["partial"] is False, "--until the last stage runs the whole pipeline"


@pytest.mark.slow
def test_a_development_run_fills_the_folders_templates_read_by_hand(make_project):
    settings = make_project()
    stale = settings.dev_dir / "produce" / "stale.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    record = Runner(settings, dev=True).run(plan_run(settings, until="produce"))
    assert record["id"] == "dev" and record["dev"] is True and record["partial"] is True
    assert Path(record["run_dir"]) == settings.dev_dir
    assert (settings.dev_dir / "produce" / "executed.ipynb").is_file()
    assert not stale.exists(), "a stage's development folder starts afresh"
    assert not settings.runs_dir.exists(), "a development run is not archived"
    backend = open_backend(settings)
    conn = backend.connect()
    backend.migrate(conn, "cache", CACHE_STEPS)
    assert conn.rows("SELECT count(*) FROM cache_entries") == [(0,)], "nor offered to the cache"
    archived = Runner(settings).run(plan_run(settings, until="produce"))
    assert conn.rows("SELECT run FROM cache_entries") == [(archived["id"],)], "an archived one is"
    conn.close()

    by_hand = Stage("consume", settings=settings)
    assert by_hand.input("produce", "numbers") == {"value": 1, "label": "x"}


def test_a_development_run_cannot_resume(make_project):
    settings = make_project()
    with pytest.raises(ParameterError, match="use --resume or --dev, not both"):
        Runner(settings, dev=True).run(plan_run(settings), resume={"id": "x", "stages": []})
    assert not settings.dev_dir.exists()


@pytest.mark.slow
def test_an_mlops_nb_error_in_a_stage_keeps_its_name_and_message(make_project):
    settings = make_project(LONELY)
    with pytest.raises(StageFailedError) as caught:
        Runner(settings).run(plan_run(settings))
    error = caught.value
    assert error.ename == "StageInputError"
    assert "needs the output of stage 'produce'" in error.evalue
    assert "StageInputError: stage 'consume' needs the output of stage 'produce'" in str(error)
    executed = nbformat.read(error.notebook, as_version=4)
    shown = [o for c in executed.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert len(shown) == 1 and not any("File " in line for line in shown[0].traceback)


def test_bad_requests_create_no_run_folder(make_project):
    settings = make_project()
    with pytest.raises(ParameterError, match="unknown parameter"):
        plan_run(settings, overrides={"nope": "1"})
    with pytest.raises(PipelineSpecError, match="no stage 'nowhere'"):
        plan_run(settings, until="nowhere")
    assert not settings.runs_dir.exists()


def test_a_missing_data_file_is_refused_before_any_kernel(make_project):
    text = TWO_STAGES.replace(
        "value: {type: int, default: 1, help: the number}",
        "value: {type: int, default: 1}\n      label: {type: source, default: 'sample:churn'}",
    )
    settings = make_project(text)
    with pytest.raises(ParameterError, match=r"parameter 'label':.*missing\.csv"):
        plan_run(settings, overrides={"label": "missing.csv"})
    assert not settings.runs_dir.exists()
