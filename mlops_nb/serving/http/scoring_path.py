"""The one scoring path of every protocol: records in, checked, batched, scored, logged.

``/predict``, MLflow's ``/invocations`` and the Open Inference Protocol's
``/v2/models/{name}/infer`` each turn their body into a list of records (see
``state.records``, ``mlflow_payloads``, ``v2_payloads``), then call
:func:`score_records`: the same contract check (so the same bad row gets the
same 422 on every route), the same micro-batcher, the same inference log.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from mlops_nb.serving.http.metrics import ServerMetrics, request_notes, route_of
from mlops_nb.serving.http.state import ServingState

__all__ = ["OFFLOAD_ROWS", "RETRY_AFTER_SECONDS", "score_records", "unavailable_detail"]

OFFLOAD_ROWS = 100
"""Requests with more records are checked on a worker thread, not on the event loop."""
RETRY_AFTER_SECONDS = 3
"""What a 503 asks a client to wait: about the time a new model worker takes to load."""


def unavailable_detail(exc: Exception) -> str:
    """The detail of a 503: the model worker died while scoring."""
    return f"{exc} Retry in {RETRY_AFTER_SECONDS} s; nothing was logged for it."


async def score_records(
    state: ServingState, metrics: ServerMetrics, request: Request, records: list[Any]
) -> tuple[str, dict[str, Any]]:
    """Check ``records``, score them and log them: ``(request_id, Scorer.to_json(scores))``.

    Raises:
        ApiError: 422, records that break the contract (counted by check).
        ModelWorkerError: The model worker died while scoring them.
    """
    check = state.check
    checked = (
        await run_in_threadpool(check, records) if len(records) > OFFLOAD_ROWS else check(records)
    )
    if not checked.ok:
        metrics.refused(checked)
        raise state.refuse(checked)
    scores = await state.batcher.score(checked)
    request_id = uuid.uuid4().hex
    state.log_request(checked, request_id, scores)
    notes = request_notes(request.scope)
    notes["rows"], notes["request_id"] = checked.rows, request_id
    metrics.scored(route_of(request.scope), checked.rows)
    return request_id, state.scorer.to_json(scores)
