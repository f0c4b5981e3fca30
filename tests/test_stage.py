"""The Stage object as a template uses it, in development and run folders."""

from __future__ import annotations

import json

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.preprocessing import StandardScaler

from mlops_nb import MlopsNbError, Stage, StageInputError, TrackingError
from mlops_nb.artifacts import ArtifactError

matplotlib.use("Agg")


@pytest.fixture
def settings(make_project):
    return make_project()


def test_development_folder_is_used_without_a_stage_dir(settings):
    stage = Stage("produce", settings=settings)
    assert stage.is_dev and stage.dir == settings.dev_dir / "produce"
    assert stage.run_id == "dev"


def test_a_rerun_by_hand_starts_from_an_empty_folder(settings):
    Stage("produce", settings=settings).save("old", {"a": 1})
    again = Stage("produce", settings=settings)
    assert not (again.dir / "old.json").exists()


def test_every_artifact_kind_round_trips_with_its_hash(settings):
    producer = Stage("produce", settings=settings)
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", None]})
    producer.save("table", frame)
    producer.save("facts", {"n": 2, "ok": True})
    producer.save("notes.md", "# hello")
    producer.save("scaler", StandardScaler().fit(frame[["a"]]))
    figure = Figure()
    figure.add_subplot().plot([1, 2])
    producer.save("plot", figure)
    manifest = json.loads((producer.dir / "stage.json").read_text())
    assert set(manifest["artifacts"]) == {"table", "facts", "notes.md", "scaler", "plot"}
    assert all(len(entry["sha256"]) == 64 for entry in manifest["artifacts"].values())

    consumer = Stage("consume", settings=settings)
    pd.testing.assert_frame_equal(consumer.input("produce", "table"), frame)
    assert consumer.input("produce", "facts") == {"n": 2, "ok": True}
    assert consumer.input("produce", "notes.md") == "# hello"
    assert consumer.input("produce", "scaler").mean_[0] == 1.5
    assert consumer.input_path("produce", "plot").read_bytes().startswith(b"\x89PNG")


CHAIN = """
pipelines:
  other:
    stages:
      produce: {notebook: notebooks/produce.ipynb}
  chain:
    stages:
      ingest: {notebook: notebooks/produce.ipynb}
      validate: {notebook: notebooks/produce.ipynb, needs: [ingest]}
      prepare: {notebook: notebooks/produce.ipynb, needs: validate}
      evaluate: {notebook: notebooks/consume.ipynb, needs: [prepare, ingest]}
  fan:
    stages:
      root: {notebook: notebooks/produce.ipynb}
      left: {notebook: notebooks/produce.ipynb, needs: [root]}
      right: {notebook: notebooks/produce.ipynb, needs: [root]}
      join: {notebook: notebooks/consume.ipynb, needs: [left, right]}
"""


def test_missing_upstream_by_hand_gives_the_command_that_makes_it(settings):
    consumer = Stage("consume", settings=settings)
    expected = (
        r"stage 'consume' needs the output of stage 'produce', which has not run in the "
        r"development folder .*\nMake it with:  mlops-nb run demo --until produce --dev\n"
    )
    with pytest.raises(StageInputError, match=expected) as caught:
        consumer.input("produce", "numbers")
    assert caught.value.missing == ["produce"]
    assert caught.value.command == "mlops-nb run demo --until produce --dev"


def test_missing_upstream_by_hand_names_every_missing_stage_in_run_order(make_project):
    settings = make_project(CHAIN)
    with pytest.raises(StageInputError) as caught:
        Stage("evaluate", settings=settings).input("prepare", "data")
    error = caught.value
    assert error.missing == ["ingest", "validate", "prepare"]
    assert error.command == "mlops-nb run chain --until prepare --dev"
    assert "stages 'ingest', 'validate', 'prepare', which have not run" in str(error)
    assert "Make them all with:  mlops-nb run chain --until prepare --dev" in str(error)

    Stage("ingest", settings=settings).save("data", {"rows": 1})
    with pytest.raises(StageInputError) as caught:
        Stage("evaluate", settings=settings).input("prepare", "data")
    assert caught.value.missing == ["validate", "prepare"]


def test_stages_on_parallel_branches_are_made_by_running_until_the_asking_stage(make_project):
    settings = make_project(CHAIN)
    with pytest.raises(StageInputError) as caught:
        Stage("join", settings=settings).input("left", "data")
    assert caught.value.missing == ["root", "left", "right"]
    assert caught.value.command == "mlops-nb run fan --until join --dev"


def test_a_stage_in_no_pipeline_says_which_template_to_run_first(settings):
    with pytest.raises(StageInputError, match=r"run the 'produce' template first \(Run All\)"):
        Stage("stray", settings=settings).input("produce", "numbers")


def test_missing_upstream_in_a_run_is_precise(settings, tmp_path):
    run = tmp_path / "run"
    consumer = Stage("consume", stage_dir=run / "02_consume", settings=settings)
    with pytest.raises(StageInputError, match=r"the run has no finished 'produce' stage$"):
        consumer.input("produce", "numbers")
    undeclared = r"'other' is not among the stages 'consume' needs in pipeline.yaml: add it"
    with pytest.raises(StageInputError, match=undeclared):
        consumer.input("other", "numbers")
    assert "--dev" not in str(consumer._missing_upstream("produce"))


def test_in_a_notebook_the_error_shows_as_its_message_without_frames(settings):
    with pytest.raises(StageInputError) as caught:
        Stage("consume", settings=settings).input("produce", "numbers")
    lines = caught.value._render_traceback_()
    assert lines[0] == "\x1b[0;31mStageInputError\x1b[0m: " + str(caught.value).splitlines()[0]
    assert lines[1:-1] == str(caught.value).splitlines()[1:]
    assert lines[-1] == "(the full traceback: %tb verbose)"
    assert not any("File " in line or "Traceback" in line for line in lines)


@pytest.mark.slow
def test_in_a_kernel_tb_verbose_shows_the_full_traceback(settings):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                f"import os; os.environ['MLOPS_NB_OUTPUTS'] = {str(settings.outputs)!r}\n"
                "from mlops_nb import Stage\n"
                "Stage('consume').input('produce', 'numbers')"
            ),
            nbformat.v4.new_code_cell("%tb verbose"),
        ]
    )
    NotebookClient(
        notebook,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(settings.root)}},
    ).execute()
    error = notebook.cells[0].outputs[-1]
    assert error.output_type == "error" and error.ename == "StageInputError"
    assert "needs the output of stage 'produce'" in error.evalue
    assert len(error.traceback) == 4 and "File" not in "".join(error.traceback)
    full = "".join(
        o.get("text", "") + "".join(o.get("traceback", [])) for o in notebook.cells[1].outputs
    )
    assert "_missing_upstream" in full and "StageInputError" in full


def test_missing_artifact_lists_what_was_saved(settings):
    Stage("produce", settings=settings).save("numbers", {"value": 1})
    with pytest.raises(StageInputError, match=r"saved no artifact 'other' \(it saved: numbers\)"):
        Stage("consume", settings=settings).input("produce", "other")


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden"])
def test_artifact_names_cannot_escape_the_folder(settings, name):
    with pytest.raises(MlopsNbError, match="is not allowed"):
        Stage("produce", settings=settings).save(name, {"a": 1})


def test_unsupported_objects_are_refused_clearly(settings):
    with pytest.raises(ArtifactError, match="cannot save artifact 'thing' of type object"):
        Stage("produce", settings=settings).save("thing", object())


def test_a_run_folder_names_the_stage_from_the_folder(settings, tmp_path):
    stage = Stage("ignored", stage_dir=tmp_path / "run" / "03_features", settings=settings)
    assert stage.name == "features" and not stage.is_dev and stage.run_id == "run"


def test_metrics_are_numbers_and_text_goes_to_notes(settings):
    stage = Stage("prepare", settings=settings)
    stage.log_metrics({"rows": np.int64(8), "auc": np.float64(0.5), "loss": float("nan")})
    stage.log_metrics({"stratified": True})  # a flag is a 0/1 number, kept as true/false
    for text in ({"task": "binary"}, {"rows": None}, {"classes": [0, 1]}):
        with pytest.raises(TrackingError, match=r"not a number: .*stage\.note\(") as caught:
            stage.log_metrics({"train_rows": 6, **text})
        assert caught.value.stage == "prepare" and caught.value.key == next(iter(text))
    stage.note("task", "binary")
    manifest = json.loads((stage.dir / "stage.json").read_text())
    assert manifest["metrics"] == {
        "rows": 8,
        "auc": 0.5,
        "loss": pytest.approx(float("nan"), nan_ok=True),
        "stratified": True,
    }
    assert "train_rows" not in manifest["metrics"], "a refused call records nothing"
    assert manifest["notes"] == {"task": "binary"}
    assert Stage("features", settings=settings).upstream("prepare")["notes"]["task"] == "binary"
