from __future__ import annotations

import pandas as pd
import pytest

from mlops_nb.tracking import FilterError, TrackingError, TrackingStore
from mlops_nb.tracking.search import parse_filter, parse_order

RUN_COLUMNS = [
    "run_id",
    "name",
    "status",
    "start_time",
    "end_time",
    "pipeline_run",
    "stage",
    "parent",
]
RUNS = [
    # name, pipeline run, stage, params, metrics, tags
    ("rf", "p1", "train", {"model": "rf", "depth": 5, "bootstrap": True}, {"auc": 0.81}, {}),
    ("lr", "p1", "train", {"model": "lr", "C": 0.5}, {"auc": 0.74}, {"team": "risk"}),
    ("gb", "p2", "train", {"model": "gb", "depth": 3}, {"auc": 0.88, "loss": 0.2}, {}),
    ("eval", "p2", "evaluate", {"model": "gb", "depth": "5"}, {"auc": 0.86}, {"team": "Risk"}),
]


@pytest.fixture
def runs(store: TrackingStore) -> dict[str, str]:
    """Four finished runs; returns name -> run id."""
    ids = {}
    for name, pipeline_run, stage, params, metrics, tags in RUNS:
        with store.start_run(name, pipeline_run=pipeline_run, stage=stage, tags=tags) as run:
            run.log_params(params)
            run.log_metrics(metrics)
        ids[name] = run.id
    return ids


def names(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["name"])


def test_one_row_per_run_with_prefixed_columns(store, runs):
    frame = store.search_runs()
    assert frame["name"].tolist() == ["eval", "gb", "lr", "rf"]  # newest first
    assert list(frame.columns) == [
        *RUN_COLUMNS,
        "params.C",
        "params.bootstrap",
        "params.depth",
        "params.model",
        "metrics.auc",
        "metrics.loss",
        "tags.team",
    ]
    row = frame.set_index("name").loc["rf"]
    assert row["params.depth"] == 5 and row["params.bootstrap"] is True
    assert row["metrics.auc"] == 0.81 and pd.isna(row["metrics.loss"]) and pd.isna(row["tags.team"])
    assert row["status"] == "finished" and row["pipeline_run"] == "p1" and row["stage"] == "train"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.auc > 0.8", ["eval", "gb", "rf"]),
        ("metrics.auc >= 0.81", ["eval", "gb", "rf"]),
        ("metrics.auc < 0.81", ["lr"]),
        ("metrics.auc <= 0.81", ["lr", "rf"]),
        ("metrics.auc = 0.88", ["gb"]),
        ("metrics.auc == 0.88", ["gb"]),
        ("metrics.auc != 0.88", ["eval", "lr", "rf"]),
        ("metrics.loss < 1", ["gb"]),  # runs without the key never match
        ("params.model = 'rf'", ["rf"]),
        ('params.model = "rf"', ["rf"]),
        ("params.model != 'rf'", ["eval", "gb", "lr"]),
        ("params.model like 'r%'", ["rf"]),
        ("params.model LIKE '_b'", ["eval", "gb"]),
        ("params.depth > 3", ["rf"]),  # typed: the text '5' of eval is not a number
        ("params.depth = '5'", ["eval"]),
        ("params.C <= 0.5", ["lr"]),
        ("params.bootstrap = true", ["rf"]),
        ("tags.team = 'risk'", ["lr"]),
        ("tags.team like 'risk'", ["eval", "lr"]),  # like ignores ASCII case
        ("attributes.stage = 'evaluate'", ["eval"]),
        ("stage != 'evaluate'", ["gb", "lr", "rf"]),
        ("attributes.pipeline_run = 'p2' and metrics.auc > 0.87", ["gb"]),
        ("attributes.start_time > '2000-01-01'", ["eval", "gb", "lr", "rf"]),
        ("attributes.end_time < 946684800", []),
        ("metrics.auc > 0.8 and params.model = 'gb' and params.depth < 4", ["gb"]),
        ("METRICS.auc > 0.8 AND params.model = 'gb'", ["eval", "gb"]),
        ("metric.auc > 8e-1 and param.model = 'gb'", ["eval", "gb"]),
        ("  ", ["eval", "gb", "lr", "rf"]),
    ],
)
def test_filters(store, runs, text, expected):
    assert names(store.search_runs(text)) == expected


def test_quoted_names_and_quotes_in_text(store):
    with store.start_run("odd") as run:
        run.log_metric("val loss", 0.5)
        run.log_param("note", "it's")
    assert names(store.search_runs("metrics.`val loss` < 1")) == ["odd"]
    assert names(store.search_runs("params.note = 'it''s'")) == ["odd"]


def test_text_is_never_sql(store, runs):
    assert store.search_runs("params.model = 'rf'' OR 1=1 --'").empty
    assert len(store.search_runs()) == 4


def test_pipeline_run_stage_and_limit(store, runs):
    assert names(store.search_runs(pipeline_run="p2")) == ["eval", "gb"]
    assert names(store.search_runs(pipeline_run="p2", stage="train")) == ["gb"]
    assert names(store.search_runs("metrics.auc > 0", stage="train", limit=2)) == ["gb", "lr"]
    assert store.search_runs(limit=0).empty


def test_order_by(store, runs):
    best = store.search_runs(order_by="metrics.auc desc")
    assert best["name"].tolist() == ["gb", "eval", "rf", "lr"]
    assert store.search_runs(order_by="metrics.auc")["name"].tolist() == ["lr", "rf", "eval", "gb"]
    by_loss = store.search_runs(order_by="metrics.loss DESC, params.model asc")
    assert by_loss["name"].tolist() == ["gb", "eval", "lr", "rf"]  # missing keys come last
    assert store.search_runs(order_by="name")["name"].tolist() == ["eval", "gb", "lr", "rf"]
    oldest = store.search_runs(order_by="attributes.start_time asc", limit=1)
    assert oldest["run_id"].tolist() == [runs["rf"]]


def test_no_match_is_an_empty_frame_with_the_run_columns(store, runs):
    frame = store.search_runs("metrics.auc > 0.99")
    assert frame.empty and list(frame.columns) == RUN_COLUMNS
    assert frame["start_time"].dtype == pd.DatetimeTZDtype(tz="UTC")
    assert frame["name"].dtype == "str"


def test_an_empty_store_searches_to_an_empty_frame(store):
    assert list(store.search_runs().columns) == RUN_COLUMNS


def test_many_runs_read_whole_tables_and_few_runs_look_up(store):
    for index in range(30):
        with store.start_run(f"r{index}") as run:
            run.log_params({"i": index})
            run.log_metric("m", index / 10)
    few = store.search_runs("params.i < 3")
    many = store.search_runs("params.i >= 3")
    assert sorted(few["params.i"]) == [0, 1, 2]
    assert sorted(many["params.i"]) == list(range(3, 30))
    assert (many["metrics.m"] == many["params.i"] / 10).all()


@pytest.mark.parametrize(
    ("text", "problem", "token"),
    [
        ("metrics.auc > 0.8 or params.model = 'rf'", "only 'and' joins conditions", "or"),
        ("metrics.auc is 0.8", "expected an operator", "is"),
        ("metrics.auc > 0.8 and", "the text ends where a key", ""),
        ("metrics.auc >", "the text ends where a value", ""),
        ("metrics.auc > 'high'", "metrics are numbers", "'high'"),
        ("metrics.auc like 'x%'", "'like' needs quoted text", "'x%'"),
        ("params.model = rf", "expected a number, 'quoted text'", "rf"),
        ("params.model = 'rf", "never closed", "'"),
        ("tags.team = 5", "quote the value", "5"),
        ("status = 1", "holds text", "1"),
        ("attributes.start_time > 'yesterday'", "is not a time", "'yesterday'"),
        ("attributes.colour = 'red'", "unknown attribute 'colour'", "attributes.colour"),
        ("runs.auc > 1", "unknown kind 'runs'", "runs.auc"),
        ("auc > 1", "expected a key", "auc"),
        ("metrics. > 1", "has no name", "metrics."),
        ("(metrics.auc > 1)", "parentheses are not supported", "("),
        ("metrics.auc > 1 params.x = 2", "expected 'and'", "params.x"),
    ],
)
def test_bad_filters_point_at_the_token(store, text, problem, token):
    with pytest.raises(FilterError, match="cannot read") as caught:
        store.search_runs(text)
    error = caught.value
    assert problem in str(error)
    assert error.token == token and isinstance(error, ValueError)
    assert error.position == (text.index(token) if token else len(text))
    marker_line = str(error).splitlines()[2]
    assert marker_line.index("^") - 4 == error.position
    assert "write it like: metrics.cv_roc_auc > 0.8" in str(error)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("metrics.auc sideways", "expected ',', 'asc' or 'desc'"),
        ("metrics.auc desc,", "the text ends where a key"),
        ("colour", "expected a key"),
    ],
)
def test_bad_orderings(store, text, problem):
    with pytest.raises(FilterError, match=problem) as caught:
        store.search_runs(order_by=text)
    assert "write it like: metrics.cv_roc_auc desc" in str(caught.value)


def test_bad_limit(store):
    with pytest.raises(TrackingError, match="limit"):
        store.search_runs(limit=-1)


def test_parsed_conditions_are_typed():
    first, second, third = parse_filter("metrics.a >= -1.5e3 and params.n = 7 and tags.t != 'x'")
    assert (first.kind, first.name, first.op, first.value) == ("metrics", "a", ">=", -1500.0)
    assert type(second.value) is int and second.value == 7
    assert (third.kind, third.op, third.value) == ("tags", "!=", "x")
    assert [(o.kind, o.name, o.descending) for o in parse_order("metrics.a desc, start_time")] == [
        ("metrics", "a", True),
        ("attributes", "start_time", False),
    ]
