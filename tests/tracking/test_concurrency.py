from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time

from mlops_nb.tracking import TrackingStore

from ._workers import METRICS_PER_WRITER, read, write

WRITERS = 4


def test_several_processes_write_while_another_reads(store_url):
    """Four writers (fresh database, so they also race to create the tables) and a reader."""
    context = multiprocessing.get_context("spawn")
    start, stop = context.Event(), context.Event()
    results = context.Queue()
    writers = [
        context.Process(target=write, args=(store_url, number, start, results))
        for number in range(WRITERS)
    ]
    reader = context.Process(target=read, args=(store_url, start, stop, results))
    for process in [*writers, reader]:
        process.start()  # the writers wait for the reader's first search
    outcomes = [results.get(timeout=120) for _ in writers]
    stop.set()
    outcomes.append(results.get(timeout=60))
    for process in [*writers, reader]:
        process.join(30)
    errors = [detail for kind, detail in outcomes if kind == "error"]
    assert errors == []
    assert next(detail for kind, detail in outcomes if kind == "reads") > 0
    assert all(process.exitcode == 0 for process in [*writers, reader])

    store = TrackingStore(store_url)
    frame = store.search_runs(order_by="params.writer")
    assert frame["params.writer"].tolist() == list(range(WRITERS))
    assert (frame["status"] == "finished").all()
    assert (frame["metrics.step_value"] == METRICS_PER_WRITER - 1).all()
    assert (frame["tags.progress"] == "250").all()
    for run_id in frame["run_id"]:
        history = store.metric_history(run_id)
        assert history["step"].tolist() == list(range(METRICS_PER_WRITER))
        assert history["value"].tolist() == [float(step) for step in range(METRICS_PER_WRITER)]


def test_a_busy_database_is_waited_for(sqlite_store, db_path):
    store = sqlite_store
    """Another connection holds the write lock for a second: writes wait, reads do not."""
    run = store.start_run("patient")
    run.log_metric("m", 1.0)
    locked, released = threading.Event(), threading.Event()

    def hold() -> None:
        other = sqlite3.connect(db_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE tracking_runs SET name = name")
        locked.set()
        time.sleep(1.0)
        released.set()
        other.execute("COMMIT")
        other.close()

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(5)
    began = time.monotonic()
    reader = TrackingStore(db_path)  # opening an up-to-date store only reads
    assert reader.search_runs()["name"].tolist() == ["patient"]
    assert not released.is_set()  # WAL: the reader did not wait for the writer
    run.end()  # flush + end: waits for the lock instead of failing
    waited = time.monotonic() - began
    holder.join()
    assert released.is_set() and waited > 0.5
    assert reader.get_run(run.id)["status"] == "finished"
    assert reader.metrics(run.id) == {"m": 1.0}
