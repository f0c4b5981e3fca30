from __future__ import annotations

import hashlib
import math
import multiprocessing
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_nb.config import Settings
from mlops_nb.errors import RunNotFoundError
from mlops_nb.tracking import StoreError, TrackingError, TrackingStore, schema

REPO = Path(__file__).parents[2]


class Opaque:
    def __str__(self) -> str:
        return "Opaque()"


def test_params_keep_their_types(store):
    params = {
        "depth": 5,
        "rate": 0.25,
        "bootstrap": True,
        "model": "rf",
        "weights": None,
        "layers": [64, 32],
        "grid": {"C": [0.1, 1.0]},
        "np_int": np.int64(7),
        "np_float": np.float32(0.5),
        "path": Path("/data/x.csv"),
        "pair": (1, 2),
        "object": Opaque(),
        "not_a_number": math.nan,
        "huge": 2**70,
    }
    with store.start_run("typed") as run:
        run.log_params(params)
        run.log_param("depth", 6)  # logging a key again replaces it
    read = store.params(run.id)
    assert read["depth"] == 6 and type(read["depth"]) is int
    assert read["rate"] == 0.25 and read["bootstrap"] is True and read["model"] == "rf"
    assert read["weights"] is None and read["layers"] == [64, 32]
    assert read["grid"] == {"C": [0.1, 1.0]}
    assert read["np_int"] == 7 and type(read["np_int"]) is int
    assert read["np_float"] == 0.5 and read["path"] == "/data/x.csv"
    assert read["pair"] == [1, 2] and read["object"] == "Opaque()"
    assert math.isnan(read["not_a_number"]) and read["huge"] == 2**70


def test_metrics_keep_history_and_latest_value(store):
    with store.start_run("curves") as run:
        for step, loss in enumerate([0.9, 0.5, 0.3]):
            run.log_metric("loss", loss, step=step)
        run.log_metric("loss", 0.7, step=1)  # an older step does not become the latest
        run.log_metrics({"auc": 0.8, "acc": 0.7})
        run.log_metrics({"auc": 0.82})  # same step (0): the last logged wins
        run.log_metric("odd", math.nan)
        run.log_metric("flag", True)
    assert store.metrics(run.id) == pytest.approx(
        {"loss": 0.3, "auc": 0.82, "acc": 0.7, "flag": 1.0, "odd": math.nan}, nan_ok=True
    )
    history = store.metric_history(run.id)
    assert list(history.columns) == ["key", "value", "step", "timestamp"]
    assert (
        str(history["timestamp"].dtype).startswith("datetime64")
        and history["step"].dtype == "int64"
    )
    loss = store.metric_history(run.id, "loss")
    assert loss[["value", "step"]].values.tolist() == [[0.9, 0], [0.5, 1], [0.7, 1], [0.3, 2]]
    assert store.metric_history(run.id, "auc")["value"].tolist() == [0.8, 0.82]
    assert math.isnan(store.metric_history(run.id, "odd")["value"].iloc[0])
    assert store.metric_history(run.id, "missing").empty


def test_latest_value_survives_several_flushes(store_url):
    logged = [(5, 50.0), (1, 10.0), (9, 90.0), (2, 20.0), (9, 91.0), (0, 0.0), (3, 30.0)]
    with TrackingStore(store_url, flush_every=3) as store, store.start_run("steps") as run:
        for step, value in logged:  # batches: steps 5 1 9 | 2 9 0 | 3
            run.log_metric("m", value, step=step)
    assert store.metrics(run.id) == {"m": 91.0}
    assert len(store.metric_history(run.id)) == 7


def test_tags_are_text(store):
    with store.start_run("tagged", tags={"owner": "ana"}) as run:
        run.set_tag("model", "rf")
        run.set_tags({"fold_count": 5, "owner": "bo"})
    assert store.tags(run.id) == {"owner": "bo", "model": "rf", "fold_count": "5"}


def test_artifacts_record_path_hash_and_size(store, tmp_path):
    file = tmp_path / "model.skops"
    file.write_bytes(b"weights" * 100)
    with store.start_run("art") as run:
        digest = run.log_artifact(file)
    assert digest == hashlib.sha256(file.read_bytes()).hexdigest()
    (artifact,) = store.get_run(run.id)["artifacts"]
    assert artifact["path"] == file.resolve().as_posix()
    assert artifact["sha256"] == digest and artifact["bytes"] == 700


def test_missing_artifact_is_refused(store, tmp_path):
    with store.start_run("art") as run, pytest.raises(TrackingError, match="not an existing file"):
        run.log_artifact(tmp_path / "nope.txt")


def test_get_run_has_everything(store):
    with store.start_run("full", pipeline_run="20260101T000000Z-ab12", stage="train") as run:
        run.log_params({"depth": 3})
        run.log_metric("auc", 0.9)
    record = store.get_run(run.id)
    assert record["run_id"] == run.id and record["name"] == "full"
    assert record["status"] == "finished"
    assert record["pipeline_run"] == "20260101T000000Z-ab12" and record["stage"] == "train"
    assert record["start_time"] <= record["end_time"]
    assert record["params"] == {"depth": 3} and record["metrics"] == {"auc": 0.9}


def test_context_manager_sets_status(store):
    with store.start_run("ok") as good:
        pass
    with pytest.raises(ZeroDivisionError), store.start_run("bad") as bad:
        bad.log_metric("before", 1.0)
        _ = 1 / 0
    with pytest.raises(KeyboardInterrupt), store.start_run("stopped") as stopped:
        raise KeyboardInterrupt
    assert [store.get_run(r.id)["status"] for r in (good, bad, stopped)] == [
        "finished",
        "failed",
        "interrupted",
    ]
    assert store.metrics(bad.id) == {"before": 1.0}  # flushed although it failed
    assert good.status == "finished"


def test_an_ended_run_refuses_more_records(store):
    run = store.start_run("once")
    run.end()
    with pytest.raises(TrackingError, match="has ended"):
        run.log_metric("late", 1.0)
    with pytest.raises(TrackingError, match="use one of"):
        store.start_run("x").end("done")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda run: run.log_metric("auc", "high"), "not a number"),
        (lambda run: run.log_metric("auc", object()), "not a number"),
        (lambda run: run.log_metric("auc", 1.0, step=1.5), "not an integer"),
        (lambda run: run.log_metric("", 1.0), "non-empty"),
        (lambda run: run.log_metric(3, 1.0), "non-empty"),
        (lambda run: run.log_params({"a\nb": 1}), "control characters"),
        (lambda run: run.set_tag("t", None), "no value"),
    ],
)
def test_bad_records_are_refused_where_they_are_logged(store, call, match):
    with store.start_run("bad") as run, pytest.raises(TrackingError, match=match):
        call(run)


def test_records_are_buffered_until_flushed(store_url):
    writer = TrackingStore(store_url, flush_every=1000)
    reader = TrackingStore(store_url)
    run = writer.start_run("buffered")
    run.log_metric("m", 1.0)
    assert reader.metrics(run.id) == {}  # still in the writer's memory
    assert writer.metrics(run.id) == {"m": 1.0}  # a store sees what its runs logged
    run.log_metric("m", 2.0, step=1)
    run.flush()
    assert reader.metrics(run.id) == {"m": 2.0}
    run.end()
    assert reader.get_run(run.id)["status"] == "finished"


def test_a_full_buffer_flushes_itself(store_url):
    writer = TrackingStore(store_url, flush_every=10)
    reader = TrackingStore(store_url)
    run = writer.start_run("auto")
    for step in range(25):
        run.log_metric("m", float(step), step=step)
    assert len(reader.metric_history(run.id)) == 20
    run.end()
    assert len(reader.metric_history(run.id)) == 25


def test_parent_runs(store):
    with store.start_run("search") as parent, store.start_run("trial", parent=parent) as child:
        pass
    assert store.get_run(child.id)["parent"] == parent.id
    assert store.search_runs(f"attributes.parent = '{parent.id}'")["run_id"].tolist() == [child.id]
    with pytest.raises(RunNotFoundError, match="parent"):
        store.start_run("orphan", parent="nope")


def test_unknown_run_ids(store):
    with pytest.raises(RunNotFoundError, match="no tracking run has the id nope"):
        store.get_run("nope")
    with pytest.raises(LookupError):
        store.metric_history("nope")


def test_compare_runs(store):
    with store.start_run("a") as a:
        a.log_params({"depth": 3, "model": "rf"})
        a.log_metrics({"auc": 0.8, "loss": math.nan})
    with store.start_run("b") as b:
        b.log_params({"depth": 5, "model": "rf", "extra": [1]})
        b.log_metrics({"auc": 0.8, "loss": math.nan})
    table = store.compare_runs([a.id, b.id])
    assert table.index.name == "key"
    assert table.index.tolist() == [
        "params.depth",
        "params.extra",
        "params.model",
        "metrics.auc",
        "metrics.loss",
    ]
    assert table.columns.tolist() == [a.id, b.id, "differs"]
    assert table.loc["params.depth", a.id] == 3 and table.loc["params.extra", a.id] is None
    assert table["differs"].to_dict() == {
        "params.depth": True,
        "params.extra": True,
        "params.model": False,
        "metrics.auc": False,
        "metrics.loss": False,
    }
    with pytest.raises(RunNotFoundError, match="ghost"):
        store.compare_runs([a.id, "ghost"])


def test_schema_version_is_recorded_and_a_newer_one_refused(sqlite_store, db_path):
    conn = sqlite3.connect(db_path)
    (version,) = conn.execute(
        "SELECT version FROM schema_version WHERE component = 'tracking'"
    ).fetchone()
    assert version == len(schema.STEPS)
    TrackingStore(db_path)  # opening again migrates nothing
    with conn:
        conn.execute("UPDATE schema_version SET version = 99 WHERE component = 'tracking'")
    conn.close()
    with pytest.raises(StoreError, match=r"version 99, newer .*upgrade mlops-nb"):
        TrackingStore(db_path)


def test_a_damaged_file_is_reported(tmp_path):
    bad = tmp_path / "mlops.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="move it aside"):
        TrackingStore(bad)


def test_from_settings_uses_the_project_database(tmp_path):
    settings = Settings(root=tmp_path, outputs=tmp_path / "outputs")
    store = TrackingStore.from_settings(settings)
    assert store.path == tmp_path / "outputs" / "mlops.db" and store.path.is_file()


def run_script(code: str, location: str) -> str:
    script = textwrap.dedent(code).replace("DB", repr(str(location)))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_run_whose_process_died_is_interrupted(store, store_url):
    run_id = run_script(
        """
        import os
        from mlops_nb.tracking import TrackingStore
        run = TrackingStore(DB).start_run("doomed")
        run.log_metric("lost", 1.0)  # never flushed: the process dies first
        print(run.id, flush=True)
        os._exit(0)
        """,
        store_url,
    )
    assert store.get_run(run_id)["status"] == "interrupted"
    assert store.metrics(run_id) == {}
    assert store.search_runs("attributes.status = 'interrupted'")["run_id"].tolist() == [run_id]


def test_runs_left_open_at_exit_are_flushed(store, store_url):
    run_id = run_script(
        """
        from mlops_nb.tracking import TrackingStore
        run = TrackingStore(DB).start_run("forgotten")
        run.log_metric("kept", 1.0)
        print(run.id)
        """,
        store_url,
    )
    assert store.get_run(run_id)["status"] == "interrupted"
    assert store.metrics(run_id) == {"kept": 1.0}


def _child_logs(store: TrackingStore) -> None:
    with store.start_run("child") as run:
        run.log_metric("from_child", 1.0)


def test_a_forked_child_does_not_write_the_parents_buffer(store):
    run = store.start_run("parent")
    run.log_metric("m", 1.0)
    child = multiprocessing.get_context("fork").Process(target=_child_logs, args=(store,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    run.end()
    assert len(store.metric_history(run.id)) == 1
    found = store.search_runs("attributes.name = 'child'")
    assert found["metrics.from_child"].tolist() == [1.0]


def test_dataframes_use_pandas_types(store):
    with store.start_run("a") as run:
        run.log_params({"n": 1})
    frame = store.search_runs()
    assert frame["start_time"].dtype == pd.DatetimeTZDtype(tz="UTC")
    assert frame["params.n"].dtype == "int64"


def test_a_version_1_database_is_migrated_and_its_params_still_match(tmp_path):
    from mlops_nb.store.base import render
    from mlops_nb.store.sqlite import DIALECT, connect
    from mlops_nb.tracking import schema

    path = tmp_path / "old.db"
    conn = connect(path)
    for statement in render(schema.STEPS[0], DIALECT):
        conn.execute(statement)
    conn.execute("CREATE TABLE schema_version (component TEXT PRIMARY KEY, version INTEGER)")
    conn.execute("INSERT INTO schema_version VALUES ('tracking', 1)")
    conn.execute(
        "INSERT INTO tracking_runs (run_id, name, status, start_time) "
        "VALUES ('old', 'rf', 'finished', 1.0)"
    )
    rows = [
        ("depth", 5, "5"),
        ("model", "rf", '"rf"'),
        ("early", 1, "true"),
        ("grid", None, "[1, 2]"),
    ]
    conn.executemany(
        "INSERT INTO tracking_params (run_id, key, value, json) VALUES ('old', ?, ?, ?)", rows
    )
    conn.close()

    store = TrackingStore(path)
    assert len(store.search_runs("params.depth = 5 and params.model = 'rf'")) == 1
    assert len(store.search_runs("params.early = true and params.depth >= 4.5")) == 1
    assert store.search_runs("params.model = 'gbm'").empty
    assert store.params("old") == {"depth": 5, "model": "rf", "early": True, "grid": [1, 2]}
    version = store.backend.schema_version(store._connection(), "tracking")
    assert version == len(schema.STEPS) == 2
