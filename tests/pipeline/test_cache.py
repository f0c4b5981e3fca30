"""The stage cache, --resume, --jobs and a killed runner, on real notebooks."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from mlops_nb.errors import StageFailedError
from mlops_nb.pipeline.archive import read_run
from mlops_nb.pipeline.cache import fingerprint
from mlops_nb.pipeline.runner import Runner, plan_run
from mlops_nb.pipeline.spec import load_project
from mlops_nb.tracking import TrackingStore
from tests.conftest import FIXTURES, TWO_STAGES
from tests.pipeline.test_runner import WITH_BROKEN

FAN_OUT = (
    TWO_STAGES
    + """\
      consume_again:
        notebook: notebooks/consume_again.ipynb
        needs: [produce]
"""
)


def run(settings, **kwargs):
    overrides = kwargs.pop("overrides", None)
    return Runner(settings, **kwargs).run(plan_run(settings, overrides=overrides))


def status(record: dict) -> dict[str, bool]:
    return {s["name"]: s["cached"] for s in record["stages"]}


def edit_code(path: Path, extra: str) -> None:
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    code[-1].source += extra
    nbformat.write(notebook, path)


@pytest.mark.slow
def test_an_unchanged_run_reuses_every_stage_and_stands_on_its_own(make_project):
    settings = make_project()
    first = run(settings)
    second = run(settings)
    assert all(status(second).values())
    assert {s["cached_from"] for s in second["stages"]} == {first["id"]}
    assert second["metrics"] == first["metrics"] == {"produce.value": 1, "consume.result": 2}
    assert second["stages"][0]["fingerprint"] == first["stages"][0]["fingerprint"]
    shutil.rmtree(first["run_dir"])  # hard links: the cached run keeps its files
    folder = Path(second["run_dir"])
    assert json.loads((folder / "02_consume" / "result.json").read_text()) == {"result": 2}
    assert (folder / "01_produce" / "executed.ipynb").is_file()
    third = run(settings)  # the index points at a deleted run: a miss, not an error
    assert not any(status(third).values()) and third["status"] == "succeeded"


@pytest.mark.slow
def test_what_misses_and_what_hits(make_project):
    settings = make_project()
    run(settings)
    assert status(run(settings, overrides={"value": "7"})) == {"produce": False, "consume": False}
    assert status(run(settings, overrides={"value": "7", "factor": "5"})) == {
        "produce": True,
        "consume": False,
    }

    notebooks = settings.root / "notebooks"
    edit_code(notebooks / "consume.ipynb", "\n# a changed code cell")
    assert status(run(settings)) == {"produce": True, "consume": False}

    # outputs and metadata are not code: saving an executed copy over the template still hits
    produce = nbformat.read(notebooks / "produce.ipynb", as_version=4)
    produce.metadata["authors"] = [{"name": "someone"}]
    for cell in produce.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", text="noise\n")]
            cell.execution_count = 3
    nbformat.write(produce, notebooks / "produce.ipynb")
    assert status(run(settings)) == {"produce": True, "consume": True}

    assert status(run(settings, cache=False)) == {"produce": False, "consume": False}
    forced = run(settings, force=["produce"])
    assert status(forced) == {"produce": False, "consume": True}, "same output, downstream hits"


def test_a_data_file_change_changes_the_fingerprint(make_project):
    settings = make_project(
        TWO_STAGES.replace(
            "      value: {type: int, default: 1, help: the number}",
            "      value: {type: int, default: 1, help: the number}\n"
            "      label: {type: path, default: data.csv}",
        )
    )
    (settings.root / "data.csv").write_text("a\n1\n")
    spec = load_project(settings.pipeline_file).pipeline()
    stage = spec.stage("produce")

    def digest(params):
        return fingerprint(stage, params, spec.param_specs(), {}, settings.root).digest

    before = digest({"value": 1, "label": "data.csv"})
    assert digest({"value": 1, "label": "data.csv"}) == before
    (settings.root / "data.csv").write_text("a\n2\n")
    assert digest({"value": 1, "label": "data.csv"}) != before
    (settings.root / "folder").mkdir()
    blocked = fingerprint(stage, {"label": "folder"}, spec.param_specs(), {}, settings.root)
    assert blocked.digest is None and "folder" in blocked.reason
    upstream = {"ingest": {"artifacts": {"data": {"sha256": "a"}}}}
    changed = {"ingest": {"artifacts": {"data": {"sha256": "b"}}}}
    one = fingerprint(stage, {"value": 1}, spec.param_specs(), upstream, settings.root).digest
    two = fingerprint(stage, {"value": 1}, spec.param_specs(), changed, settings.root).digest
    assert one != two


@pytest.mark.slow
def test_resume_reruns_the_failed_stage_and_what_follows(make_project):
    settings = make_project(WITH_BROKEN)
    with pytest.raises(StageFailedError):
        run(settings)
    failed = read_run(sorted(settings.runs_dir.iterdir())[-1])
    assert [s["status"] for s in failed["stages"]] == ["succeeded", "failed", "skipped"]

    broken = settings.root / "notebooks" / "broken.ipynb"
    notebook = nbformat.read(broken, as_version=4)
    notebook.cells = [c for c in notebook.cells if "boom" not in c.source]
    nbformat.write(notebook, broken)
    plan = plan_run(settings)
    resumed = Runner(settings, cache=False).run(plan, resume=failed)
    assert resumed["status"] == "succeeded" and resumed["resumed_from"] == failed["id"]
    assert status(resumed) == {"produce": True, "broken": False, "consume": False}
    assert resumed["stages"][0]["cached_from"] == failed["id"]

    done = subprocess.run(
        [sys.executable, "-m", "mlops_nb", "run", "--resume", resumed["id"]],
        cwd=settings.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "nothing to resume" in done.stderr


@pytest.mark.slow
def test_parallel_stages_produce_what_sequential_ones_do(make_project):
    settings = make_project(FAN_OUT)
    shutil.copy(
        FIXTURES / "notebooks" / "consume.ipynb",
        settings.root / "notebooks" / "consume_again.ipynb",
    )
    sequential = run(settings, cache=False, overrides={"value": "3"})
    parallel = run(settings, cache=False, jobs=2, overrides={"value": "3"})
    assert parallel["status"] == "succeeded" and not any(status(parallel).values())
    for stage in ("01_produce", "02_consume", "03_consume_again"):
        for name in ("stage.json",):
            a = json.loads((Path(sequential["run_dir"]) / stage / name).read_text())
            b = json.loads((Path(parallel["run_dir"]) / stage / name).read_text())
            assert a["artifacts"] == b["artifacts"] and a["metrics"] == b["metrics"]
    assert parallel["metrics"] == sequential["metrics"]


@pytest.mark.slow
def test_a_runner_killed_mid_stage_leaves_a_readable_interrupted_run(make_project):
    settings = make_project(TWO_STAGES.replace("notebooks/consume.ipynb", "notebooks/slow.ipynb"))
    slow = nbformat.v4.new_notebook()
    slow.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    parameters = nbformat.v4.new_code_cell("factor = 2\nstage_dir = None")
    parameters.metadata["tags"] = ["parameters"]
    slow.cells = [
        parameters,
        nbformat.v4.new_code_cell(
            "import time\nfrom mlops_nb import Stage\n"
            "stage = Stage('consume', stage_dir=stage_dir)\n"
            "stage.save('started', {'yes': True})\ntime.sleep(120)"
        ),
    ]
    nbformat.write(slow, settings.root / "notebooks" / "slow.ipynb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlops_nb", "run"],
        cwd=settings.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("MLOPS_NB_")},
    )
    try:
        deadline = time.monotonic() + 90
        started = None
        while time.monotonic() < deadline and started is None and process.poll() is None:
            time.sleep(0.3)
            started = next(settings.runs_dir.glob("*/02_consume/started.json"), None)
        assert started is not None, "the slow stage never started"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
    record = read_run(started.parent.parent)
    assert record["status"] == "interrupted"
    assert (
        json.loads((started.parent.parent / "run.json").read_text())["stages"][0]["status"]
        == "succeeded"
    )
    with TrackingStore.from_settings(settings) as store:
        runs = store.search_runs("")
    assert "produce" in set(runs["name"])
    listed = subprocess.run(
        [sys.executable, "-m", "mlops_nb", "runs", "show", record["id"], "--json"],
        cwd=settings.root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(listed.stdout)["status"] == "interrupted"
