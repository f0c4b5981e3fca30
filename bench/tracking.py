"""Benchmark the mlops-nb tracking store against MLflow's SQLite tracking store.

Run from the repository root (needs the ``bench`` extra: ``pip install -e '.[bench]'``)::

    .venv/bin/python bench/tracking.py

Measured, for both, in temporary folders:

1. store initialisation on a fresh file (median of 3);
2. time per logged metric: one run logging many metrics, including starting
   and ending the run (which, for mlops-nb, includes the final flush);
3. 1,000 small runs end to end (3 params + 3 metrics each);
4. a search over 10,000 runs filtering on one metric and one param. MLflow is
   given ~60 s to create as many runs as it can, and both stores are also
   compared on that same number of runs.

Small measurements are repeated 3 times and the median reported. MLflow's
slowest parts run under time budgets (the script says when it extrapolates),
so the whole benchmark takes a few minutes. The exit status is 0 when the goals
(>= 40x faster per logged metric, search over 10,000 runs < 100 ms) are met.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlops_nb.tracking import TrackingStore

REPEATS = 3
OUR_METRICS = 2_000
MLFLOW_METRICS = 500
SMALL_RUNS = 1_000
SEARCH_RUNS = 10_000
MLFLOW_BUDGET_SECONDS = 60.0
GOAL_RATIO = 40.0
GOAL_SEARCH_SECONDS = 0.1
MODELS = ("rf", "lr", "gb", "svm")
FILTER = "metrics.m0 > 0.5 and params.model = 'rf'"


@dataclass
class Row:
    """One line of the result table."""

    label: str
    ours: float
    theirs: float | None
    note: str = ""


@dataclass
class Results:
    rows: list[Row] = field(default_factory=list)
    per_metric_ratio: float | None = None
    search_seconds: float = float("nan")


def median_time(action: Callable[[int], Any], repeats: int = REPEATS) -> float:
    """Median wall time of ``action(repeat)`` over ``repeats`` calls."""
    times = []
    for repeat in range(repeats):
        started = time.perf_counter()
        action(repeat)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def small_run_values(index: int) -> tuple[dict[str, Any], dict[str, float]]:
    """The 3 params and 3 metrics of small run number ``index``."""
    rng = random.Random(index)
    params = {"model": MODELS[index % len(MODELS)], "depth": rng.randint(1, 12), "lr": 0.1}
    metrics = {f"m{key}": rng.random() for key in range(3)}
    return params, metrics


# --- mlops-nb ----------------------------------------------------------------------------


def ours_init(folder: Path) -> float:
    return median_time(lambda repeat: TrackingStore(folder / f"init-{repeat}.db"))


def ours_per_metric(store: TrackingStore) -> float:
    def one_run(repeat: int) -> None:
        with store.start_run(f"metrics-{repeat}") as run:
            for step in range(OUR_METRICS):
                run.log_metric("loss", 1.0 / (step + 1), step=step)

    return median_time(one_run) / OUR_METRICS


def ours_small_runs(store: TrackingStore, count: int, offset: int = 0) -> None:
    for index in range(offset, offset + count):
        params, metrics = small_run_values(index)
        with store.start_run(f"small-{index}") as run:
            run.log_params(params)
            run.log_metrics(metrics)


def ours_search(store: TrackingStore) -> tuple[float, int]:
    found = store.search_runs(FILTER)
    return median_time(lambda _: store.search_runs(FILTER)), len(found)


# --- MLflow ------------------------------------------------------------------------------


def import_mlflow() -> ModuleType | None:
    """MLflow, imported only here, quietly; None (with install advice) when missing."""
    started = time.perf_counter()
    try:
        import mlflow
    except ImportError:
        sys.stderr.write(
            "MLflow is not installed, and this benchmark compares against it.\n"
            "Install the bench extra:  pip install -e '.[bench]'\n"
        )
        return None
    for name in ("alembic", "mlflow"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    say(f"imported MLflow {mlflow.__version__} in {time.perf_counter() - started:.1f} s")
    return mlflow


class MlflowBench:
    """MLflow measurements against ``sqlite:///<folder>/...`` tracking URIs."""

    def __init__(self, mlflow: ModuleType, folder: Path) -> None:
        self.mlflow = mlflow
        self.folder = folder

    def uri(self, name: str) -> str:
        return f"sqlite:///{self.folder / name}"

    def experiment(self, uri: str, name: str) -> str:
        """Point MLflow at ``uri`` and create an experiment whose artifacts stay in folder."""
        self.mlflow.set_tracking_uri(uri)
        client = self.mlflow.MlflowClient(tracking_uri=uri)
        experiment_id = client.create_experiment(
            name, artifact_location=(self.folder / "artifacts").as_uri()
        )
        self.mlflow.set_experiment(experiment_id=experiment_id)
        return experiment_id

    def init(self) -> float:
        """Creating a fresh database: MLflow builds its tables on first use."""
        return median_time(
            lambda repeat: self.mlflow.MlflowClient(
                tracking_uri=self.uri(f"init-{repeat}.db")
            ).search_experiments()
        )

    def per_metric(self) -> float:
        self.experiment(self.uri("metrics.db"), "metrics")

        def one_run(_: int) -> None:
            with self.mlflow.start_run():
                for step in range(MLFLOW_METRICS):
                    self.mlflow.log_metric("loss", 1.0 / (step + 1), step=step)

        return median_time(one_run) / MLFLOW_METRICS

    def small_runs(self, budget: float) -> tuple[int, float]:
        """Log small runs the way a user would, until SMALL_RUNS or the budget."""
        started = time.perf_counter()
        done = 0
        while done < SMALL_RUNS and time.perf_counter() - started < budget:
            params, metrics = small_run_values(done)
            with self.mlflow.start_run(run_name=f"small-{done}"):
                self.mlflow.log_params(params)
                self.mlflow.log_metrics(metrics)
            done += 1
        return done, time.perf_counter() - started

    def top_up(self, uri: str, experiment_id: str, first: int, budget: float) -> int:
        """Add runs with the fastest client calls (one batch each) until 10,000 or the budget."""
        from mlflow.entities import Metric, Param

        client = self.mlflow.MlflowClient(tracking_uri=uri)
        started = time.perf_counter()
        index = first
        while index < SEARCH_RUNS and time.perf_counter() - started < budget:
            params, metrics = small_run_values(index)
            run = client.create_run(experiment_id, run_name=f"small-{index}")
            now = int(time.time() * 1000)
            client.log_batch(
                run.info.run_id,
                metrics=[Metric(key, value, now, 0) for key, value in metrics.items()],
                params=[Param(key, str(value)) for key, value in params.items()],
            )
            client.set_terminated(run.info.run_id)
            index += 1
        return index

    def search(self, experiment_id: str) -> tuple[float, int]:
        found = self.mlflow.search_runs(experiment_ids=[experiment_id], filter_string=FILTER)
        seconds = median_time(
            lambda _: self.mlflow.search_runs(experiment_ids=[experiment_id], filter_string=FILTER)
        )
        return seconds, len(found)


# --- the run -----------------------------------------------------------------------------


@contextlib.contextmanager
def working_in(folder: Path) -> Iterator[None]:
    """Run in ``folder`` so nothing (``mlruns/``) lands in the repository."""
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def measure(mlflow: ModuleType, folder: Path) -> Results:
    results = Results()
    ours_dir, their_dir = folder / "ours", folder / "mlflow"
    ours_dir.mkdir()
    their_dir.mkdir()
    bench = MlflowBench(mlflow, their_dir)

    say("measuring: store initialisation ...")
    results.rows.append(Row("store initialisation (fresh file)", ours_init(ours_dir), bench.init()))

    say("measuring: time per logged metric ...")
    ours = ours_per_metric(TrackingStore(ours_dir / "metrics.db"))
    theirs = bench.per_metric()
    results.per_metric_ratio = theirs / ours
    results.rows.append(
        Row(
            "time per logged metric",
            ours,
            theirs,
            f"{OUR_METRICS:,} / {MLFLOW_METRICS:,} log_metric calls in one run, incl. start/end",
        )
    )

    say(f"measuring: {SMALL_RUNS:,} small runs ...")
    small = TrackingStore(ours_dir / "small.db")
    ours = median_time(lambda repeat: ours_small_runs(small, SMALL_RUNS, repeat * SMALL_RUNS))
    their_uri = bench.uri("search.db")
    experiment_id = bench.experiment(their_uri, "search")
    done, seconds = bench.small_runs(MLFLOW_BUDGET_SECONDS)
    note = "3 params + 3 metrics each"
    if done < SMALL_RUNS:
        note += f"; MLflow made {done:,} in {seconds:.0f} s, extrapolated"
    results.rows.append(
        Row(f"{SMALL_RUNS:,} small runs, end to end", ours, seconds * SMALL_RUNS / done, note)
    )

    say("measuring: building runs to search ...")
    their_count = bench.top_up(their_uri, experiment_id, done, MLFLOW_BUDGET_SECONDS)
    searched = TrackingStore(ours_dir / "search.db")
    ours_small_runs(searched, their_count)
    ours_same, _ = ours_search(searched)
    theirs_same, matched = bench.search(experiment_id)
    note = f"{matched:,} match" + (
        f"; MLflow created only {their_count:,} runs in ~{MLFLOW_BUDGET_SECONDS:.0f} s"
        if their_count < SEARCH_RUNS
        else ""
    )
    results.rows.append(
        Row(f"search over {their_count:,} runs (both)", ours_same, theirs_same, note)
    )
    if their_count < SEARCH_RUNS:
        ours_small_runs(searched, SEARCH_RUNS - their_count, offset=their_count)
        results.search_seconds, matched = ours_search(searched)
        results.rows.append(
            Row(
                f"search over {SEARCH_RUNS:,} runs (ours)",
                results.search_seconds,
                None,
                f"{matched:,} match",
            )
        )
    else:
        results.search_seconds = ours_same
    return results


def say(message: str) -> None:
    sys.stderr.write(f"{message}\n")


def duration(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def report(results: Results) -> bool:
    """Print the table and the goals; True when both goals are met."""
    print(f"\nTracking benchmark: mlops-nb vs MLflow (SQLite), filter: {FILTER}\n")
    print(f"{'measure':<40} {'mlops-nb':>10} {'MLflow':>10} {'MLflow/ours':>12}  notes")
    for row in results.rows:
        theirs = duration(row.theirs) if row.theirs is not None else "-"
        ratio = f"{row.theirs / row.ours:,.0f}x" if row.theirs is not None else "-"
        print(f"{row.label:<40} {duration(row.ours):>10} {theirs:>10} {ratio:>12}  {row.note}")
    ratio = results.per_metric_ratio or 0.0
    metric_ok = ratio >= GOAL_RATIO
    search_ok = results.search_seconds < GOAL_SEARCH_SECONDS
    print(
        f"\ngoal: >= {GOAL_RATIO:.0f}x faster per logged metric: "
        f"{'PASS' if metric_ok else 'FAIL'} ({ratio:,.0f}x)"
    )
    print(
        f"goal: search over {SEARCH_RUNS:,} runs < {GOAL_SEARCH_SECONDS * 1000:.0f} ms: "
        f"{'PASS' if search_ok else 'FAIL'} ({duration(results.search_seconds)})"
    )
    return metric_ok and search_ok


def main() -> int:
    mlflow = import_mlflow()
    if mlflow is None:
        return 2
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlops-nb-bench-") as tmp:
        folder = Path(tmp)
        with working_in(folder):
            results = measure(mlflow, folder)
    passed = report(results)
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
