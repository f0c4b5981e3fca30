"""The micro-batcher waits for more requests only when a model call costs more than the wait."""

from __future__ import annotations

import asyncio

import numpy as np

from mlops_nb.serving.http.batching import LINGER, MicroBatcher
from mlops_nb.serving.scoring import Scores
from mlops_nb.validation.fast import Checked


def one_row(value: float) -> Checked:
    return Checked({"x": [value]}, 1, [])


def echo(checked: Checked) -> Scores:
    return Scores(np.asarray(checked.values["x"]), None)


def started_now(batcher: MicroBatcher, recent_in_flight: int) -> bool:
    """Whether one request, arriving at an idle model after load, starts a batch at once."""

    async def arrive() -> bool:
        batcher._in_flight.append(recent_in_flight)
        task = asyncio.ensure_future(batcher.score(one_row(1.0)))
        await asyncio.sleep(0)  # the request is queued and considered
        launched = batcher.batches == 1 and batcher._timer is None
        assert (await task).predictions.tolist() == [1.0]
        return launched

    try:
        return asyncio.run(arrive())
    finally:
        batcher.close()


def test_a_cheap_model_gets_a_request_at_once_even_after_load():
    batcher = MicroBatcher(echo)
    batcher.cost = LINGER / 10
    assert started_now(batcher, recent_in_flight=8)


def test_a_costly_model_waits_for_the_clients_just_answered():
    batcher = MicroBatcher(echo)
    batcher.cost = LINGER * 10
    assert not started_now(batcher, recent_in_flight=8)


def test_a_lone_request_never_waits_whatever_the_cost():
    batcher = MicroBatcher(echo)
    batcher.cost = LINGER * 10
    assert started_now(batcher, recent_in_flight=1)


def test_the_cost_is_measured_from_the_batches_run():
    batcher = MicroBatcher(echo)

    async def two() -> list[list[float]]:
        scores = await asyncio.gather(batcher.score(one_row(1.0)), batcher.score(one_row(2.0)))
        return [s.predictions.tolist() for s in scores]

    try:
        assert asyncio.run(two()) == [[1.0], [2.0]]
    finally:
        batcher.close()
    assert batcher.cost > 0 and batcher.requests == 2
