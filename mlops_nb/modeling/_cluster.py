"""Searches on a Dask cluster: :func:`~mlops_nb.modeling.tune` with ``parallel="dask"``.

The fits go through scikit-learn's joblib with joblib's Dask backend, so each
fold of each setting is a Dask task. Every candidate's search runs in its own
thread of the calling process, so the fits of all candidates are queued on
the cluster at once and every worker stays busy; a candidate's refit (its best
setting on all rows) is one more task, submitted as soon as its folds are
scored. The calling process only waits: a stage kernel on a worker is a
subprocess of that worker and holds no Dask thread.

Native threads (OpenMP, BLAS) inside the fits are the workers' own setting: a
Dask nanny starts every worker with ``OMP_NUM_THREADS=1`` (and MKL/OpenBLAS
likewise), one native thread per Dask thread.

The client is always a fresh one to the given address, closed when the search
ends, never the process's default client.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sklearn.base import clone
from sklearn.model_selection import RandomizedSearchCV
from sklearn.pipeline import Pipeline

from mlops_nb.clusters import connect, distributed_module
from mlops_nb.config import SCHEDULER_ENV
from mlops_nb.errors import MlopsNbError, ModelingError

"""Seconds to reach the scheduler before the search gives up with a clear error."""

Fitted = tuple[RandomizedSearchCV, Pipeline, float]
"""A candidate's search (folds scored), its refitted best pipeline, its wall seconds."""


@dataclass(frozen=True)
class ClusterShape:
    """What a search had to run on: the scheduler, its workers and their threads."""

    scheduler: str
    workers: int
    cores: int


def scheduler_address(scheduler: str | None) -> str:
    """``scheduler``, else ``MLOPS_NB_DASK_SCHEDULER``; a clear error if neither is set."""
    address = (scheduler or os.environ.get(SCHEDULER_ENV) or "").strip()
    if not address:
        raise ModelingError(
            f"tune(parallel='dask') needs a Dask scheduler: pass scheduler='tcp://HOST:8786' "
            f"or set {SCHEDULER_ENV} (a run with --executor dask sets it for its stages; "
            f"`mlops-nb cluster local` starts one on this machine), or use parallel='local'.",
            parameter="scheduler",
        )
    return address


@contextmanager
def cluster_client(address: str) -> Iterator[tuple[Any, ClusterShape]]:
    """A fresh client of the scheduler at ``address`` and the cluster's shape, closed after."""
    client = connect(
        address,
        ModelingError,
        "tune(parallel='dask')",
        f"the address (scheduler= or {SCHEDULER_ENV}), or use parallel='local'",
        parameter="scheduler",
    )
    try:
        threads = dict(client.nthreads())
        if not threads:
            raise ModelingError(
                f"the Dask scheduler at {address} has no workers: start some (dask worker "
                f"{address}) or use parallel='local'.",
                parameter="scheduler",
                scheduler=address,
            )
        yield client, ClusterShape(address, len(threads), sum(threads.values()))
    finally:
        client.close()


def fit_on_cluster(
    client: Any,
    searches: Mapping[str, RandomizedSearchCV],
    X: Any,
    y: Any,
    score_folds: Callable[[RandomizedSearchCV, Any, Any, str], Any],
) -> dict[str, Fitted]:
    """Score every candidate's folds and refit its best setting, all on the cluster.

    ``searches`` must have ``refit=False``; ``score_folds(search, X, y, name)``
    fits one (translating its errors). Results come back in candidate order.
    """
    data = client.scatter([X, y], broadcast=True, hash=False)

    backend = _fits_backend()

    def one(name: str, search: RandomizedSearchCV) -> Fitted:
        from joblib import parallel_config  # type: ignore[import-untyped]

        started = time.perf_counter()
        with parallel_config(backend=backend, client=client, n_jobs=-1):
            score_folds(search, X, y, name)
        refit = client.submit(
            _refit, search.estimator, search.best_params_, *data, pure=False, key=f"refit-{name}"
        )
        try:
            estimator = refit.result()
        except MlopsNbError:
            raise
        except Exception as error:
            raise _refit_error(name, search, error) from error
        return search, estimator, time.perf_counter() - started

    pool = ThreadPoolExecutor(max_workers=len(searches), thread_name_prefix="mlops-nb-tune")
    try:
        futures = {name: pool.submit(one, name, search) for name, search in searches.items()}
        return {name: future.result() for name, future in futures.items()}
    finally:
        # a failure or Ctrl-C does not wait for the other searches: closing the client
        # (the caller's) releases their tasks on the cluster, which ends their threads
        pool.shutdown(wait=False, cancel_futures=True)


FITS_BACKEND = "mlops-nb-dask"
"""joblib's Dask backend, with each task's own joblib calls run in sequence on its worker."""


class _InSequence:
    """A joblib task that runs its nested joblib calls (trees, column transformers) in sequence."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from joblib import parallel_config

        with parallel_config(backend="sequential"):
            return self.function(*args, **kwargs)


def _fits_backend() -> str:
    """Register (once) and name joblib's Dask backend whose fold fits stay whole on a worker.

    joblib's Dask backend runs each task under ``parallel_config(backend="dask")``
    and ignores ``n_jobs``, so the ``Parallel`` calls inside a fold fit (a random
    forest's trees, a column transformer's columns) went back to the cluster as
    tasks of milliseconds: measured at 40,000 rows, two workers were no faster than
    one. A fold fit is the unit of work here; what it calls runs in sequence, as
    locally with ``n_jobs=1``. The override is of ``_to_func_args``, the one place
    the backend turns a batch into the calls a worker makes.
    """
    import joblib
    from joblib._dask import DaskDistributedBackend  # type: ignore[import-untyped]

    class WholeFits(DaskDistributedBackend):  # type: ignore[misc]
        async def _to_func_args(self, func: Any) -> tuple[Any, list[Any]]:
            batch, tasks = await super()._to_func_args(func)
            return batch, [(_InSequence(f), args, kwargs) for f, args, kwargs in tasks]

    joblib.register_parallel_backend(FITS_BACKEND, WholeFits)
    return FITS_BACKEND


def _refit(estimator: Pipeline, params: dict[str, Any], X: Any, y: Any) -> Pipeline:
    """A worker's task: the best setting refitted on every training row (as sklearn does)."""
    refitted: Pipeline = clone(estimator).set_params(**clone(params, safe=False))
    return refitted.fit(X, y)


def _refit_error(name: str, search: RandomizedSearchCV, error: Exception) -> ModelingError:
    return ModelingError(
        f"Candidate {name!r} failed while refitting its best setting {search.best_params_} on "
        f"all training rows on the Dask cluster: {type(error).__name__}: {error}. Check the "
        f"workers' memory and logs, or leave it out with candidates=[...].",
        candidate=name,
    )


def _distributed() -> Any:
    return distributed_module(
        ModelingError, "tune(parallel='dask')", " (or use parallel='local')", parameter="parallel"
    )
