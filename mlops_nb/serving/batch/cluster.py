"""Scoring the partitions of a dataset on a Dask cluster (the ``dask`` extra, imported lazily).

The client loads and verifies the model from the registry, then broadcasts it
to every worker once (``Client.scatter(..., broadcast=True)``): the workers
need neither the registry nor the model files, and each holds one copy however
many partitions it scores. Each partition is one task running
:func:`~mlops_nb.serving.batch.parts.score_part`; its parts are written by the
worker straight into the output's temporary folder, and only counts come back.

The workers must reach the input files and the output folder: on one machine
(``mlops-nb cluster local``) local paths work, and that is checked before any
partition is scored; on a cluster of several machines use a shared folder or
an fsspec URL (``s3://...``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from mlops_nb.clusters import CONNECT_TIMEOUT_S, INSTALL_HINT, distributed_module
from mlops_nb.clusters import connect as connect_to
from mlops_nb.errors import ServingError
from mlops_nb.registry import LoadedModel
from mlops_nb.serving.batch.parts import PartResult, PartTask, score_part

__all__ = ["CONNECT_TIMEOUT_S", "INSTALL_HINT", "connect", "score_on_cluster"]

SCHEDULER_HINT = (
    "--scheduler tcp://HOST:PORT, MLOPS_NB_DASK_SCHEDULER, or scheduler: in pipeline.yaml "
    "(mlops-nb cluster local starts one on this machine)"
)


def _distributed() -> Any:
    return distributed_module(ServingError, "predict --executor dask")


def connect(scheduler: str | None) -> Any:
    """A client of the scheduler at ``scheduler``.

    Raises:
        ServingError: No address, dask is not installed, or the scheduler
            cannot be reached within :data:`CONNECT_TIMEOUT_S` seconds.
    """
    if not scheduler:
        raise ServingError(f"predict --executor dask needs a scheduler: {SCHEDULER_HINT}.")
    return connect_to(scheduler, ServingError, "predict --executor dask", SCHEDULER_HINT)


def _visible(paths: Sequence[str]) -> list[str]:
    """The local ``paths`` this process cannot see (run on each worker)."""
    return [path for path in paths if not os.path.exists(path)]


def _check_visible(client: Any, paths: Sequence[str]) -> None:
    missing = {worker: lost for worker, lost in client.run(_visible, list(paths)).items() if lost}
    if missing:
        worker, lost = next(iter(missing.items()))
        raise ServingError(
            f"Dask worker {worker} cannot see {lost[0]}: the workers must reach the input and "
            f"the output at the same paths. On a cluster of several machines put both on a "
            f"shared folder or object storage (s3://...); on this machine use mlops-nb "
            f"cluster local.",
            path=lost[0],
        )


def _results(
    distributed: Any, client: Any, futures: list[Any], on_done: Callable[[PartResult], object]
) -> None:
    try:
        for future in distributed.as_completed(futures, loop=client.loop):
            on_done(future.result())
    except distributed.KilledWorker as exc:
        raise ServingError(
            f"a Dask worker died while scoring a partition ({exc}); the partition may not "
            f"fit in a worker's memory: lower --chunk-rows or give the workers more memory.",
        ) from exc


def score_on_cluster(
    loaded: LoadedModel,
    tasks: Sequence[PartTask],
    scheduler: str | None,
    on_done: Callable[[PartResult], object],
    local_paths: Sequence[str] = (),
) -> None:
    """Score ``tasks`` on the cluster at ``scheduler``; call ``on_done`` as each finishes.

    Args:
        loaded: The model, loaded and verified here; broadcast to the workers once.
        tasks: One per partition.
        scheduler: The scheduler's address.
        on_done: Called with each partition's result, in completion order.
        local_paths: Local paths the workers must see (checked first).

    Raises:
        ServingError: See :func:`connect`; a worker cannot see a path or died.
        DataSourceError, DataValidationError: Raised by a partition, as locally.
    """
    client = connect(scheduler)
    distributed = _distributed()
    futures: list[Any] = []
    try:
        if local_paths:
            _check_visible(client, local_paths)
        model = client.scatter(loaded, broadcast=True, hash=False)
        token = secrets.token_hex(4)
        futures = [
            client.submit(score_part, model, task, key=f"mlops-nb-score-{token}-{task.index}")
            for task in tasks
        ]
        _results(distributed, client, futures, on_done)
    except BaseException:
        if futures:  # a failed partition, Ctrl-C: the others stop now
            client.cancel(futures)
        raise
    finally:
        client.close()
