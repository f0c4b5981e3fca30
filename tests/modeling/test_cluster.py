"""tune(parallel="dask"): the same search as locally, its fits as tasks on a real LocalCluster."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from mlops_nb.clusters import CONNECT_TIMEOUT_S
from mlops_nb.errors import ModelingError
from mlops_nb.modeling import TuningResult, resolve_parallel, tune
from mlops_nb.modeling.tuning import PARALLEL_ENV
from tests.modeling.conftest import Problem
from tests.pipeline.test_dask import local_cluster  # noqa: F401 -- the one LocalCluster fixture
from tests.servers import free_port

SCHEDULER_ENV = "MLOPS_NB_DASK_SCHEDULER"


@pytest.fixture
def no_cluster_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv(PARALLEL_ENV, raising=False)
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    return monkeypatch


def without_times(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[c for c in frame.columns if c != "fit_seconds"]]


@pytest.mark.slow
def test_a_dask_search_finds_what_the_local_one_finds(
    binary: Problem,
    binary_result: TuningResult,
    local_cluster,  # noqa: F811
    no_cluster_env: pytest.MonkeyPatch,
) -> None:
    # as in a stage run by the Dask executor: "auto" and the scheduler come from the environment
    no_cluster_env.setenv(PARALLEL_ENV, "dask")
    no_cluster_env.setenv(SCHEDULER_ENV, local_cluster.scheduler_address)
    on_dask = tune(
        binary.features,
        binary.X_train,
        binary.y_train,
        "binary",
        budget=4,
        cv=2,
        seed=0,
        parallel=resolve_parallel("auto"),
    )

    assert (on_dask.parallel, on_dask.workers, on_dask.cores) == ("dask", 2, 4)
    assert (binary_result.parallel, binary_result.workers) == ("local", 1)
    assert on_dask.best_name == binary_result.best_name
    pd.testing.assert_frame_equal(
        without_times(on_dask.trials), without_times(binary_result.trials)
    )
    pd.testing.assert_frame_equal(
        without_times(on_dask.leaderboard), without_times(binary_result.leaderboard)
    )
    assert on_dask.notes == binary_result.notes and on_dask.cv_splits == 2
    for name, model in binary_result.estimators.items():
        np.testing.assert_array_equal(
            on_dask.estimators[name].predict_proba(binary.X_test),
            model.predict_proba(binary.X_test),
        )


def test_dask_without_a_scheduler_says_how_to_name_one(
    binary: Problem, no_cluster_env: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ModelingError, match=f"needs a Dask scheduler.*{SCHEDULER_ENV}") as caught:
        tune(binary.features, binary.X_train, binary.y_train, "binary", parallel="dask")
    assert caught.value.parameter == "scheduler"


def test_an_unreachable_scheduler_is_a_quick_clear_error(
    binary: Problem, no_cluster_env: pytest.MonkeyPatch
) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ModelingError, match=f"cannot reach the Dask scheduler at {address}") as e:
        tune(
            binary.features,
            binary.X_train,
            binary.y_train,
            "binary",
            parallel="dask",
            scheduler=address,
        )
    assert time.monotonic() - started < CONNECT_TIMEOUT_S + 5
    assert e.value.scheduler == address and "parallel='local'" in str(e.value)


def test_auto_is_dask_only_where_the_dask_executor_says_so(
    no_cluster_env: pytest.MonkeyPatch,
) -> None:
    from mlops_nb.pipeline.executors import dask

    assert resolve_parallel("auto") == "local"
    assert resolve_parallel(" Dask ") == "dask" and resolve_parallel("local") == "local"
    no_cluster_env.setenv(PARALLEL_ENV, "dask")
    assert resolve_parallel("auto") == "dask"
    assert resolve_parallel("local") == "local", "an explicit choice wins"
    assert dask.PARALLEL_ENV == PARALLEL_ENV, "the executor sets what the search reads"
    with pytest.raises(ModelingError, match="parallel must be one of auto, local, dask"):
        resolve_parallel("spark")
