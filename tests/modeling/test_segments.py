"""Tests of the segment helpers: one segment's rows, the stage's segment, the summary table."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from mlops_nb.errors import ModelingError, ParameterError, StageInputError
from mlops_nb.modeling import (
    segment_manifests,
    segment_rows,
    segment_value,
    segments_figure,
    segments_table,
)
from tests.modeling.conftest import TARGET, binary_frame, regression_frame


@pytest.fixture(scope="module")
def halves() -> tuple[pd.DataFrame, pd.DataFrame]:
    df = binary_frame(n=800, seed=1)
    return df.iloc[:600], df.iloc[600:]


def rows_of(halves, value: Any, **kwargs: Any):
    train, test = halves
    return segment_rows(train, test, "segment", value, target=TARGET, task="binary", **kwargs)


def test_the_rows_of_a_segment_are_its_training_and_holdout_rows(halves) -> None:
    train, test = halves
    rows = rows_of(halves, "north")

    assert rows.skipped is None and rows.status == "modelled"
    pd.testing.assert_frame_equal(rows.train, train[train["segment"] == "north"])
    pd.testing.assert_frame_equal(rows.test, test[test["segment"] == "north"])
    assert (rows.column, rows.value) == ("segment", "north")
    assert rows.note == (
        f"{len(rows.train)} of 600 training rows and {len(rows.test)} of 200 holdout rows "
        f"have segment = 'north'."
    )


def test_a_segment_with_too_few_rows_is_skipped_with_the_reason(halves) -> None:
    island = rows_of(halves, "island")  # about 3 % of the rows
    assert island.status == "skipped"
    assert island.skipped == (
        f"{len(island.train)} training rows with segment = 'island', fewer than min_train_rows=50"
    )
    assert island.note.endswith(f"Skipped, no model trained: {island.skipped}.")
    few_holdout = rows_of(halves, "north", min_test_rows=1000)
    assert "holdout rows with segment = 'north', fewer than min_test_rows=1000" in (
        few_holdout.skipped or ""
    )
    assert rows_of(halves, "island", min_train_rows=5, min_test_rows=1).skipped is None


def test_a_value_no_row_holds_is_skipped_naming_the_values(halves) -> None:
    rows = rows_of(halves, "central")
    assert rows.train.empty and rows.test.empty
    assert rows.skipped == (
        "no rows have segment = 'central' (its values: east, island, north, south, west)"
    )


def test_a_segment_of_one_class_or_a_single_row_class_is_skipped(halves) -> None:
    train, test = halves
    one_class = train.assign(y=np.where(train["segment"] == "north", "no", train[TARGET]))
    rows = segment_rows(one_class, test, "segment", "north", target=TARGET, task="binary")
    assert (
        rows.skipped
        == "every training row with segment = 'north' is of class 'no': nothing to learn"
    )

    north = one_class.index[one_class["segment"] == "north"]
    single = one_class.copy()
    single.loc[north[0], TARGET] = "yes"
    rows = segment_rows(single, test, "segment", "north", target=TARGET, task="binary")
    assert rows.skipped == (
        "class 'yes' has a single training row with segment = 'north', too few to cross-validate"
    )
    # regression has no classes to count
    df = regression_frame(n=400, seed=2)
    rows = segment_rows(df[:300], df[300:], "segment", "south", target=TARGET, task="regression")
    assert rows.skipped is None


def test_values_are_compared_as_text_and_missing_values_belong_to_no_segment() -> None:
    train = pd.DataFrame({"shop": [1, 1, 2, None] * 20, TARGET: [0, 1] * 40})
    test = pd.DataFrame({"shop": [1, 2, None, 2] * 10, TARGET: [0, 1] * 20})
    rows = segment_rows(
        train, test, "shop", "1.0", target=TARGET, task="binary", min_train_rows=1, min_test_rows=1
    )
    assert (len(rows.train), len(rows.test)) == (40, 10)  # the float column holds 1.0
    assert rows.value == "1.0"
    category = train.assign(shop=train["shop"].astype("category"))
    assert len(segment_rows(category, test, "shop", 2.0, target=TARGET, task="binary").train) == 20


def test_a_column_that_is_not_there_is_an_error_naming_the_columns(halves) -> None:
    with pytest.raises(ModelingError, match=r"'region' is not a column of the training rows.*x0"):
        segment_rows(*halves, "region", "north", target=TARGET, task="binary")
    with pytest.raises(ModelingError, match="'label' is not a column"):
        segment_rows(*halves, "segment", "north", target="label", task="binary")
    with pytest.raises(ModelingError, match="min_train_rows must be an integer of at least 1"):
        rows_of(halves, "north", min_train_rows=0)


@pytest.mark.parametrize(
    ("stage_dir", "segment", "expected"),
    [
        ("/o/runs/RUN/05_segment_north", None, "north"),  # a run's folder
        ("/o/dev/segment_south", None, "south"),  # the development folder of `run --dev`
        ("/o/runs/RUN/07_segment_north_east", None, "north_east"),
        ("/o/runs/RUN/05_segment_west", "west", "west"),  # agreeing is fine
        (None, None, "north"),  # by hand: the default
        (None, "east", "east"),  # by hand: as asked
        ("/o/runs/RUN/05_by_shop", "7", "7"),  # a stage named otherwise: as asked
    ],
)
def test_a_stage_models_the_segment_its_name_says(stage_dir, segment, expected) -> None:
    assert segment_value(stage_dir, segment, default="north") == expected


def test_a_segment_contradicting_the_stage_name_or_none_at_all_is_an_error() -> None:
    with pytest.raises(
        ParameterError, match=r"'segment_north' models .* segment='south' was given"
    ):
        segment_value("/o/runs/RUN/05_segment_north", "south", default="north")
    with pytest.raises(ParameterError, match="cannot tell which segment"):
        segment_value("/o/runs/RUN/05_by_shop", None, default="north")  # no default in a run
    with pytest.raises(ParameterError, match="cannot tell which segment"):
        segment_value(None, None)


def manifest(value: str, task: str = "binary", **metrics: float) -> dict[str, Any]:
    notes = {"segment": value, "segment_column": "region", "task": task, "status": "modelled"}
    if metrics:
        notes["best_candidate"] = "logistic"
    else:
        notes.update(status="skipped", skipped=f"too few rows in {value}")
    return {"notes": notes, "metrics": {"train_rows": 100, "test_rows": 30, **metrics}}


class FakeStage:
    """What segment_manifests asks of a Stage: the manifests of the stages that ran."""

    def __init__(self, ran: dict[str, dict[str, Any]]) -> None:
        self.ran = ran

    def upstream(self, stage: str) -> dict[str, Any]:
        if stage not in self.ran:
            raise StageInputError(
                f"{stage} has not run", stage=stage, command="mlops-nb run segments --dev"
            )
        return self.ran[stage]


def test_the_manifests_of_the_segment_stages_that_ran_and_the_missing_ones() -> None:
    north, west = manifest("north", roc_auc=0.8), manifest("west")
    stage = FakeStage({"segment_north": north, "segment_west": west})
    found = segment_manifests(stage, ["west", "south", "north", "east"])

    assert list(found.manifests) == ["west", "north"]
    assert found.manifests["north"] is north
    assert found.missing == ["south", "east"]
    assert found.note == (
        "2 of 4 segment stages ran. Not run, so not in the summary: segment_south, "
        "segment_east. Make them with:  mlops-nb run segments --dev"
    )
    everything = segment_manifests(stage, ["north", "west"])
    assert everything.note == "2 of 2 segment stages ran." and not everything.missing


def test_no_segment_stage_at_all_raises_and_bad_segments_are_refused() -> None:
    with pytest.raises(StageInputError, match="segment_south has not run"):
        segment_manifests(FakeStage({}), ["south", "east"])
    for bad in ([], ["north", "north"], "north"):
        with pytest.raises(ModelingError, match="segments must be a list of distinct"):
            segment_manifests(FakeStage({}), bad)


def test_the_table_has_one_row_per_segment_and_skipped_ones_say_why() -> None:
    table = segments_table(
        {
            "north": manifest("north", roc_auc=0.8, accuracy=0.75, f1=0.5, log_loss=0.4),
            "east": manifest("east"),
        }
    )
    assert list(table.columns) == [
        "segment", "status", "train_rows", "test_rows", "roc_auc", "accuracy", "f1",
        "best_candidate", "note",
    ]  # fmt: skip
    assert list(table["segment"]) == ["north", "east"]
    north, east = table.iloc[0], table.iloc[1]
    assert (north["status"], north["train_rows"], north["roc_auc"]) == ("modelled", 100, 0.8)
    assert north["note"] == "" and north["best_candidate"] == "logistic"
    assert east["status"] == "skipped" and east["note"] == "too few rows in east"
    assert math.isnan(east["roc_auc"]) and east["best_candidate"] == ""
    assert table.attrs == {"primary_metric": "roc_auc", "segment_column": "region"}


def test_the_table_columns_follow_the_task() -> None:
    regression = segments_table({"a": manifest("a", "regression", rmse=3.0, mae=2.0)})
    assert [c for c in regression.columns if c not in ("segment", "status")][2:-2] == ["rmse"]
    multiclass = segments_table({"a": manifest("a", "multiclass", f1=0.6, accuracy=0.7)})
    assert list(multiclass.columns[4:6]) == ["f1", "accuracy"]
    with pytest.raises(ModelingError, match="different tasks"):
        segments_table({"a": manifest("a", "regression"), "b": manifest("b", "binary")})
    with pytest.raises(ModelingError, match="no segment stage manifests"):
        segments_table({})


def test_the_figure_has_a_bar_per_segment_and_marks_the_skipped_one() -> None:
    table = segments_table(
        {
            "north": manifest("north", roc_auc=0.8, accuracy=0.7, f1=0.5),
            "south": manifest("south", roc_auc=0.7, accuracy=0.7, f1=0.5),
            "east": manifest("east"),
        }
    )
    figure = segments_figure(table)
    assert isinstance(figure, Figure)
    axes = figure.axes[0]
    assert [round(bar.get_height(), 3) for bar in axes.patches] == [0.8, 0.7, 0.0]
    assert [text.get_text() for text in axes.texts] == ["0.800", "0.700", "skipped"]
    assert [tick.get_text() for tick in axes.get_xticklabels()] == [
        "north\n100 train / 30 test",
        "south\n100 train / 30 test",
        "east\n100 train / 30 test",
    ]
    assert axes.get_ylabel() == "holdout roc_auc (higher is better)"
    assert "region" in axes.get_title()
