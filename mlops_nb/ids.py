"""The ids of runs: two formats, one per store, both sorting by creation time.

* :func:`pipeline_run_id`, e.g. ``20260102T030405.000006Z-a1b2``: an archived
  pipeline run, its folder under ``outputs/runs/``;
* :func:`tracking_run_id`, e.g. ``01J9ZK3V6WQ8E2N4R5T7X9Y1ZB``: a tracking run
  (a stage, a tuning trial) in the store.

Both are persisted (folder names, ``run.json``, the ``tracking_runs`` table), so
neither format changes. A pipeline run id is read by people (``mlops-nb runs
show 2026`` matches it by prefix), so it spells its UTC start time to the
microsecond, with a short random suffix. Tracking run ids are written by the
thousand (every trial of every search) from many processes at once, so each is a
ULID: 48 bits of milliseconds and 80 random bits in Crockford base 32, of fixed
length and unique without coordination.
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

__all__ = ["pipeline_run_id", "tracking_run_id"]

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def pipeline_run_id(now: datetime | None = None) -> str:
    """A fresh pipeline run id that sorts by start time (``now``, default the current time)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{stamp}-{secrets.token_hex(2)}"


def tracking_run_id() -> str:
    """A 26-character id that sorts by creation time (milliseconds), ULID-style."""
    number = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    chars = []
    for _ in range(26):
        number, digit = divmod(number, 32)
        chars.append(_CROCKFORD[digit])
    return "".join(reversed(chars))
