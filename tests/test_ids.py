"""The two run id formats of mlops_nb/ids.py."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from mlops_nb.ids import pipeline_run_id, tracking_run_id


def test_run_ids_sort_by_start_time():
    early = pipeline_run_id(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC))
    late = pipeline_run_id(datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=UTC))
    assert early < late and early.startswith("20260102T030405.000006Z-")


def test_tracking_run_ids_are_unique_and_sort_by_time():
    ids = [tracking_run_id() for _ in range(2000)]
    assert len(set(ids)) == 2000 and all(len(i) == 26 for i in ids)
    first = tracking_run_id()
    time.sleep(0.002)
    assert first < tracking_run_id()
