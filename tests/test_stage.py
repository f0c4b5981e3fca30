"""The Stage object as a template uses it, in development and run folders."""

from __future__ import annotations

import json

import matplotlib
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.preprocessing import StandardScaler

from mlops_nb import MlopsNbError, Stage, StageInputError
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


def test_missing_upstream_says_which_stage_to_run_first(settings):
    consumer = Stage("consume", settings=settings)
    expected = r"needs the output of stage 'produce'.*run the 'produce'"
    with pytest.raises(StageInputError, match=expected):
        consumer.input("produce", "numbers")


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
