"""Process bodies of the concurrency tests (importable by spawned children)."""

from __future__ import annotations

import traceback
from typing import Any

from mlops_nb.tracking import TrackingStore

METRICS_PER_WRITER = 300


def write(path: str, writer: int, start: Any, results: Any) -> None:
    """Log METRICS_PER_WRITER metrics in many small batches, plus params and tags."""
    try:
        store = TrackingStore(path, flush_every=7)  # all open a fresh file at once
        start.wait(60)
        with store.start_run(f"writer-{writer}", stage="train") as run:
            run.log_params({"writer": writer})
            for step in range(METRICS_PER_WRITER):
                run.log_metric("step_value", float(step), step=step)
                if step % 50 == 0:
                    run.set_tag("progress", str(step))
        results.put(("ok", writer))
    except BaseException:
        results.put(("error", traceback.format_exc()))


def read(path: str, start: Any, stop: Any, results: Any) -> None:
    """Search and read histories until told to stop, starting the writers after the first read.

    Reports how many searches were made while the writers wrote.
    """
    try:
        store = TrackingStore(path)
        reads = 0
        while not stop.is_set():
            frame = store.search_runs("attributes.stage = 'train'", order_by="params.writer")
            for run_id in frame["run_id"]:
                store.metric_history(run_id)
            reads += 1
            start.set()
        results.put(("reads", reads))
    except BaseException:
        results.put(("error", traceback.format_exc()))
