"""Benchmark mlops-nb's tracking store against MLflow's, on SQLite and on PostgreSQL.

Run from the repository root (needs the ``bench`` extra, ``pip install -e '.[bench]'``,
plus the ``postgres``, ``s3`` and ``test`` extras: psycopg, s3fs, moto)::

    .venv/bin/python bench/tracking.py                  # everything, ~6 minutes
    .venv/bin/python bench/tracking.py --skip-registry  # tracking only
    .venv/bin/python bench/tracking.py --skip-postgres  # SQLite only, as before issue 13

The script starts its own PostgreSQL server (the machine's ``initdb``/``pg_ctl``,
``/usr/lib/postgresql/*/bin``, in a temporary folder on a free 127.0.0.1 port, with
PostgreSQL's default durability: ``fsync`` and ``synchronous_commit`` on) and stops it
at the end. On it, mlops-nb uses the database ``mlops_nb`` (one schema per
measurement) and MLflow its SQLAlchemy tracking store on databases of its own
(``postgresql+psycopg://…/mlflow_*``, psycopg 3 as for mlops-nb). On SQLite both
write files in a temporary folder.

Measured, for both stores on both databases:

1. store initialisation on a fresh file / schema / database (median of 3);
2. time per logged metric: one run logging many metrics with ``log_metric``,
   including starting and ending the run (for mlops-nb: batched writes, 1,000
   rows per flush, and the final flush); also against MLflow's own batching
   (``log_batch`` of 1,000 metrics);
3. 1,000 small runs end to end (3 params + 3 metrics each);
4. a search over 10,000 runs filtering on one metric and one param. MLflow is
   given ~60 s per database to create as many runs as it can, and both stores
   are also compared on that same number of runs.

On PostgreSQL only, a small experiment writes the ``tracking_metrics`` rows of one
flush (1,000 rows, and the 3 of a small run) four ways: ``executemany`` as the store
does today, ``COPY … FROM STDIN`` (text and binary) and one ``INSERT … SELECT
FROM unnest(arrays)``, each followed by the same latest-value upsert, in one
transaction; and 1,000 small runs are logged through today's ``PostgresBackend``
and through a subclass whose write transactions run in psycopg's pipeline mode
(one round trip per transaction). Both experiments show what a change to the
store code would buy; neither changes ``mlops_nb``.

Then ``bench/registry.py`` times ``Registry.load()`` of the churn model from S3
(moto's server, started and stopped by the script) against a local folder.

Small measurements are repeated 3 times and the median reported. MLflow's
slowest parts run under time budgets (the notes say when a figure is
extrapolated). MLflow's usage telemetry is switched off (``MLFLOW_DISABLE_TELEMETRY``,
``DO_NOT_TRACK``). The exit status is 0 when every goal is met:

* SQLite: >= 40x faster than MLflow per logged metric; search over 10,000 runs < 100 ms;
* PostgreSQL (issue 13): <= 0.05 ms per logged metric; search over 10,000 runs
  <= 100 ms; >= 20x faster than MLflow on the same server for logging (per
  logged metric, and 1,000 small runs).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
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

from bench._servers import PostgresCluster, ServerUnavailable
from mlops_nb.tracking import TrackingStore

REPEATS = 3
OUR_METRICS = 2_000
MLFLOW_METRICS = 500
MLFLOW_BATCH = 1_000  # MLflow's limit of metrics per log_batch
SMALL_RUNS = 1_000
SEARCH_RUNS = 10_000
MLFLOW_BUDGET_SECONDS = 60.0
MODELS = ("rf", "lr", "gb", "svm")
FILTER = "metrics.m0 > 0.5 and params.model = 'rf'"

SQLITE_GOAL_RATIO = 40.0
PG_GOAL_PER_METRIC = 0.05e-3
PG_GOAL_RATIO = 20.0
GOAL_SEARCH_SECONDS = 0.1

OURS_DATABASE = "mlops_nb"


@dataclass
class Cell:
    """One measurement of one database: mlops-nb's time, MLflow's (None: not measured)."""

    ours: float
    theirs: float | None = None
    note: str = ""


@dataclass
class Results:
    """The measurements of one database, keyed by row label."""

    database: str
    cells: dict[str, Cell] = field(default_factory=dict)
    search_seconds: float = float("nan")

    def ratio(self, label: str) -> float:
        cell = self.cells.get(label)
        if cell is None or cell.theirs is None:
            return float("nan")
        return cell.theirs / cell.ours


INIT = "store initialisation (fresh store)"
PER_METRIC = "time per logged metric"
PER_METRIC_BATCH = "per logged metric vs MLflow log_batch"
SMALL = f"{SMALL_RUNS:,} small runs, end to end"
SEARCH_SAME = "search, as many runs as MLflow made"
SEARCH_FULL = f"search over {SEARCH_RUNS:,} runs (ours)"
ROWS = (INIT, PER_METRIC, PER_METRIC_BATCH, SMALL, SEARCH_SAME, SEARCH_FULL)


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


# --- where the stores live ---------------------------------------------------------------


class Databases:
    """Fresh places for both stores on one database: paths on SQLite, schemas/databases on PG."""

    title = ""

    def ours(self, name: str) -> str | Path:
        """A new, empty mlops-nb store location called ``name``."""
        raise NotImplementedError

    def theirs(self, name: str) -> str:
        """A new, empty MLflow tracking URI called ``name``."""
        raise NotImplementedError


class SQLiteFiles(Databases):
    title = "SQLite"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "ours").mkdir()
        (folder / "mlflow").mkdir()

    def ours(self, name: str) -> Path:
        return self.folder / "ours" / f"{name}.db"

    def theirs(self, name: str) -> str:
        return f"sqlite:///{self.folder / 'mlflow' / name}.db"


class PostgresDatabases(Databases):
    """mlops-nb in schemas of database ``mlops_nb``; MLflow in databases ``mlflow_*``."""

    title = "PostgreSQL"

    def __init__(self, cluster: PostgresCluster) -> None:
        self.cluster = cluster
        cluster.create_database(OURS_DATABASE)

    def ours(self, name: str) -> str:
        return self.cluster.create_schema(OURS_DATABASE, name)

    def theirs(self, name: str) -> str:
        database = self.cluster.create_database(f"mlflow_{name}")
        return self.cluster.url(database, driver="psycopg")


# --- mlops-nb ----------------------------------------------------------------------------


def ours_init(databases: Databases) -> float:
    places = [databases.ours(f"init_{repeat}") for repeat in range(REPEATS)]
    opened: list[TrackingStore] = []
    seconds = median_time(lambda repeat: opened.append(TrackingStore(places[repeat])))
    for store in opened:
        store.close()
    return seconds


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
    # MLflow 3 sends usage telemetry to its servers unless told not to; a benchmark must not.
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ["DO_NOT_TRACK"] = "true"
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
    """MLflow measurements on tracking URIs given by ``databases``; artifacts in ``folder``."""

    def __init__(self, mlflow: ModuleType, databases: Databases, folder: Path) -> None:
        self.mlflow = mlflow
        self.databases = databases
        self.folder = folder

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
        """Creating a fresh store: MLflow builds its tables on first use."""
        uris = [self.databases.theirs(f"init_{repeat}") for repeat in range(REPEATS)]
        return median_time(
            lambda repeat: self.mlflow.MlflowClient(tracking_uri=uris[repeat]).search_experiments()
        )

    def per_metric(self, uri: str) -> float:
        self.experiment(uri, "metrics")

        def one_run(_: int) -> None:
            with self.mlflow.start_run():
                for step in range(MLFLOW_METRICS):
                    self.mlflow.log_metric("loss", 1.0 / (step + 1), step=step)

        return median_time(one_run) / MLFLOW_METRICS

    def per_metric_batched(self, uri: str) -> float:
        """MLflow's fastest way to log many metrics: log_batch of 1,000, with run start/end."""
        from mlflow.entities import Metric

        experiment_id = self.experiment(uri, "batched")
        client = self.mlflow.MlflowClient(tracking_uri=uri)

        def one_run(_: int) -> None:
            run = client.create_run(experiment_id)
            now = int(time.time() * 1000)
            for first in range(0, OUR_METRICS, MLFLOW_BATCH):
                metrics = [
                    Metric("loss", 1.0 / (step + 1), now, step)
                    for step in range(first, first + MLFLOW_BATCH)
                ]
                client.log_batch(run.info.run_id, metrics=metrics)
            client.set_terminated(run.info.run_id)

        return median_time(one_run) / OUR_METRICS

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


# --- one database ------------------------------------------------------------------------


@contextlib.contextmanager
def working_in(folder: Path) -> Iterator[None]:
    """Run in ``folder`` so nothing (``mlruns/``) lands in the repository."""
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def measure(mlflow: ModuleType, databases: Databases, folder: Path) -> Results:
    """Every tracking measurement of both stores on one database."""
    results = Results(databases.title)
    cells = results.cells
    bench = MlflowBench(mlflow, databases, folder)
    title = databases.title

    say(f"[{title}] store initialisation ...")
    cells[INIT] = Cell(ours_init(databases), bench.init())

    say(f"[{title}] time per logged metric ...")
    metrics_store = TrackingStore(databases.ours("metrics"))
    ours = ours_per_metric(metrics_store)
    metrics_store.close()
    metrics_uri = databases.theirs("metrics")
    cells[PER_METRIC] = Cell(ours, bench.per_metric(metrics_uri))
    cells[PER_METRIC_BATCH] = Cell(ours, bench.per_metric_batched(metrics_uri))

    say(f"[{title}] {SMALL_RUNS:,} small runs ...")
    small = TrackingStore(databases.ours("small"))
    ours = median_time(lambda repeat: ours_small_runs(small, SMALL_RUNS, repeat * SMALL_RUNS))
    small.close()
    their_uri = databases.theirs("search")
    experiment_id = bench.experiment(their_uri, "search")
    done, seconds = bench.small_runs(MLFLOW_BUDGET_SECONDS)
    note = ""
    if done < SMALL_RUNS:
        note = f"MLflow made {done:,} in {seconds:.0f} s, extrapolated"
    cells[SMALL] = Cell(ours, seconds * SMALL_RUNS / done, note)

    say(f"[{title}] building runs to search ...")
    their_count = bench.top_up(their_uri, experiment_id, done, MLFLOW_BUDGET_SECONDS)
    searched = TrackingStore(databases.ours("search"))
    ours_small_runs(searched, their_count)
    ours_same, _ = ours_search(searched)
    theirs_same, matched = bench.search(experiment_id)
    cells[SEARCH_SAME] = Cell(ours_same, theirs_same, f"{their_count:,} runs, {matched:,} match")
    if their_count < SEARCH_RUNS:
        ours_small_runs(searched, SEARCH_RUNS - their_count, offset=their_count)
        results.search_seconds, matched = ours_search(searched)
    else:
        results.search_seconds = ours_same
    cells[SEARCH_FULL] = Cell(results.search_seconds, None, f"{matched:,} match")
    searched.close()
    return results


# --- PostgreSQL: how to write a flush's metric rows ----------------------------------------


@dataclass
class WriteMethod:
    label: str
    write: Callable[[Any, str, list[tuple[str, float | None, int, float]]], None]


def _copy_rows(conn: Any, run_id: str, rows: list[Any], binary: bool) -> None:
    from mlops_nb.tracking.writes import _UPSERT_LATEST, _latest

    statement = "COPY tracking_metrics (run_id, key, value, step, timestamp) FROM STDIN"
    with (
        conn.raw.cursor() as cursor,
        cursor.copy(statement + (" (FORMAT BINARY)" if binary else "")) as copy,
    ):
        if binary:
            copy.set_types(["text", "text", "float8", "int8", "float8"])
        for row in rows:
            copy.write_row((run_id, *row))
    conn.executemany(_UPSERT_LATEST, [(run_id, *row) for row in _latest(rows)])


def _unnest_rows(conn: Any, run_id: str, rows: list[Any]) -> None:
    from mlops_nb.tracking.writes import _UPSERT_LATEST, _latest

    keys, values, steps, stamps = (list(column) for column in zip(*rows, strict=True))
    conn.execute(
        "INSERT INTO tracking_metrics (run_id, key, value, step, timestamp) "
        "SELECT ?, m.key, m.value, m.step, m.stamp FROM unnest(CAST(? AS text[]), "
        "CAST(? AS double precision[]), CAST(? AS bigint[]), CAST(? AS double precision[])) "
        "AS m(key, value, step, stamp)",
        (run_id, keys, values, steps, stamps),
    )
    conn.executemany(_UPSERT_LATEST, [(run_id, *row) for row in _latest(rows)])


def _executemany_rows(conn: Any, run_id: str, rows: list[Any]) -> None:
    from mlops_nb.tracking.writes import Batch, write_batch

    write_batch(conn, run_id, Batch(metrics=rows))


WRITE_METHODS = (
    WriteMethod("executemany (today's write_batch)", _executemany_rows),
    WriteMethod("COPY FROM STDIN, text", lambda c, r, rows: _copy_rows(c, r, rows, False)),
    WriteMethod("COPY FROM STDIN, binary", lambda c, r, rows: _copy_rows(c, r, rows, True)),
    WriteMethod("INSERT ... SELECT FROM unnest(arrays)", _unnest_rows),
)
FLUSH_SIZES = (1_000, 3)
FLUSH_REPEATS = 7


def metric_write_experiment(databases: PostgresDatabases) -> dict[tuple[str, int], float]:
    """Seconds per flush of each method and flush size (median of 7, interleaved)."""
    say("[PostgreSQL] writing a flush's metric rows four ways ...")
    store = TrackingStore(databases.ours("flush"))
    backend = store.backend
    conn = backend.connect()
    run = store.start_run("flushes")
    times: dict[tuple[str, int], list[float]] = {}
    for size in FLUSH_SIZES:
        keys = ["loss"] if size > 10 else ["m0", "m1", "m2"]
        for repeat in range(FLUSH_REPEATS + 1):  # the first round warms up, untimed
            for method in WRITE_METHODS:
                now = time.time()
                first = repeat * size * 10
                rows = [
                    (keys[index % len(keys)], 1.0 / (index + 1), first + index, now)
                    for index in range(size)
                ]
                started = time.perf_counter()
                with backend.transaction(conn):
                    method.write(conn, run.id, rows)
                if repeat:
                    times.setdefault((method.label, size), []).append(time.perf_counter() - started)
    conn.close()
    run.end()
    store.close()
    return {key: statistics.median(values) for key, values in times.items()}


def pipelined_backend(url: str) -> Any:
    """A PostgresBackend whose write transactions run in psycopg's pipeline mode (experiment).

    BEGIN, the statements and COMMIT are sent together and their results read at
    the end: one round trip per transaction instead of one per statement (a
    read inside the block still waits for its own result).
    """
    from mlops_nb.store.postgresql import PostgresBackend

    class PipelinedBackend(PostgresBackend):
        @contextlib.contextmanager
        def transaction(self, conn: Any, *, lock: str | None = None) -> Iterator[Any]:
            with conn.raw.pipeline(), super().transaction(conn, lock=lock) as inside:
                yield inside

    return PipelinedBackend(url)


def pipeline_experiment(databases: PostgresDatabases) -> tuple[float, float]:
    """Seconds for 1,000 small runs: today's backend, then pipelined (median of 3, interleaved)."""
    say("[PostgreSQL] small runs with pipelined write transactions ...")
    today = TrackingStore(databases.ours("small_today"))
    piped = TrackingStore(pipelined_backend(str(databases.ours("small_pipelined"))))
    ours_small_runs(today, 100)  # warm-up, untimed
    ours_small_runs(piped, 100)
    times: dict[str, list[float]] = {"today": [], "piped": []}
    for repeat in range(REPEATS):
        for name, store in (("today", today), ("piped", piped)):
            started = time.perf_counter()
            ours_small_runs(store, SMALL_RUNS, offset=100 + repeat * SMALL_RUNS)
            times[name].append(time.perf_counter() - started)
    if len(today.search_runs(FILTER)) != len(piped.search_runs(FILTER)):
        raise AssertionError("the pipelined store wrote different runs")
    today.close()
    piped.close()
    return statistics.median(times["today"]), statistics.median(times["piped"])


# --- printing ----------------------------------------------------------------------------


def say(message: str) -> None:
    sys.stderr.write(f"{message}\n")


def duration(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def times_x(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:,.0f}x" if value >= 10 else f"{value:,.1f}x"


def print_table(all_results: list[Results], server: str) -> None:
    print(f"\nTracking benchmark: mlops-nb vs MLflow; search filter: {FILTER}")
    if server:
        print(server)
    header = f"{'measure':<38}"
    for results in all_results:
        header += f" | {'ours ' + results.database[:6]:>11} {'MLflow':>9} {'MLflow/us':>9}"
    print("\n" + header)
    print("-" * len(header))
    for label in ROWS:
        line = f"{label:<38}"
        for results in all_results:
            cell = results.cells.get(label)
            if cell is None:
                line += f" | {'':>11} {'':>9} {'':>9}"
                continue
            line += (
                f" | {duration(cell.ours):>11} {duration(cell.theirs):>9} "
                f"{times_x(results.ratio(label)):>9}"
            )
        print(line)
    notes = [
        f"{PER_METRIC}: {OUR_METRICS:,} (ours) / {MLFLOW_METRICS:,} (MLflow) log_metric calls "
        f"in one run, incl. start/end",
        f"{PER_METRIC_BATCH}: MLflow logs {OUR_METRICS:,} metrics as log_batch calls of "
        f"{MLFLOW_BATCH:,}, incl. create_run/set_terminated",
        f"{SMALL}: 3 params + 3 metrics each",
    ]
    for results in all_results:
        for label in ROWS:
            cell = results.cells.get(label)
            if cell is not None and cell.note:
                notes.append(f"{results.database}, {label}: {cell.note}")
    print("\n".join(["", "notes:", *(f"  {note}" for note in notes)]))


def print_flush_experiment(found: dict[tuple[str, int], float]) -> None:
    big, small = FLUSH_SIZES
    print(
        f"\nPostgreSQL experiment: writing the tracking_metrics rows of one flush, in one "
        f"transaction with the latest-value upsert (median of {FLUSH_REPEATS})\n"
    )
    header = (
        f"{'method':<40} {f'{big:,} rows: per row':>18} {'per flush':>10} "
        f"{f'{small} rows: per flush':>19}"
    )
    print(header)
    print("-" * len(header))
    for method in WRITE_METHODS:
        flush = found[(method.label, big)]
        print(
            f"{method.label:<40} {duration(flush / big):>18} {duration(flush):>10} "
            f"{duration(found[(method.label, small)]):>19}"
        )


def print_pipeline_experiment(found: tuple[float, float], results: Results) -> None:
    today, piped = found
    mlflow = results.cells[SMALL].theirs or float("nan")
    print(
        f"\nPostgreSQL experiment: {SMALL_RUNS:,} small runs, each write transaction in "
        f"psycopg pipeline mode (median of {REPEATS}, interleaved)\n"
    )
    header = f"{'backend':<40} {'1,000 runs':>10} {'per run':>9} {'MLflow/us':>9}"
    print(header)
    print("-" * len(header))
    for label, seconds in (("today's PostgresBackend", today), ("pipelined transactions", piped)):
        print(
            f"{label:<40} {duration(seconds):>10} {duration(seconds / SMALL_RUNS):>9} "
            f"{times_x(mlflow / seconds):>9}"
        )


@dataclass
class Goal:
    text: str
    met: bool
    figure: str


def goals(all_results: list[Results]) -> list[Goal]:
    found: list[Goal] = []
    for results in all_results:
        ratio = results.ratio(PER_METRIC)
        search = results.search_seconds
        if results.database == "SQLite":
            found.append(
                Goal(
                    f"SQLite: >= {SQLITE_GOAL_RATIO:.0f}x faster than MLflow per logged metric",
                    ratio >= SQLITE_GOAL_RATIO,
                    times_x(ratio),
                )
            )
            found.append(
                Goal(
                    f"SQLite: search over {SEARCH_RUNS:,} runs < "
                    f"{GOAL_SEARCH_SECONDS * 1000:.0f} ms",
                    search < GOAL_SEARCH_SECONDS,
                    duration(search),
                )
            )
            continue
        per_metric = results.cells[PER_METRIC].ours
        small_ratio = results.ratio(SMALL)
        found += [
            Goal(
                f"PostgreSQL: <= {PG_GOAL_PER_METRIC * 1000:.2f} ms per logged metric (batched)",
                per_metric <= PG_GOAL_PER_METRIC,
                f"{per_metric * 1000:.4f} ms",
            ),
            Goal(
                f"PostgreSQL: search over {SEARCH_RUNS:,} runs <= "
                f"{GOAL_SEARCH_SECONDS * 1000:.0f} ms",
                search <= GOAL_SEARCH_SECONDS,
                duration(search),
            ),
            Goal(
                f"PostgreSQL: >= {PG_GOAL_RATIO:.0f}x faster than MLflow on the same server, "
                f"per logged metric",
                ratio >= PG_GOAL_RATIO,
                times_x(ratio),
            ),
            Goal(
                f"PostgreSQL: >= {PG_GOAL_RATIO:.0f}x faster than MLflow on the same server, "
                f"{SMALL_RUNS:,} small runs",
                small_ratio >= PG_GOAL_RATIO,
                times_x(small_ratio),
            ),
        ]
    return found


def print_goals(found: list[Goal]) -> None:
    print()
    for goal in found:
        print(f"goal: {goal.text}: {'met' if goal.met else 'NOT met'} ({goal.figure})")


# --- the run -----------------------------------------------------------------------------


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip-postgres", action="store_true", help="SQLite only: start no PostgreSQL"
    )
    parser.add_argument(
        "--skip-registry", action="store_true", help="no model-load measurement (S3 vs local)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = arguments(argv)
    mlflow = import_mlflow()
    if mlflow is None:
        return 2
    started = time.perf_counter()
    all_results: list[Results] = []
    flushes: dict[tuple[str, int], float] = {}
    pipelined: tuple[float, float] | None = None
    server = ""
    loads = None
    with tempfile.TemporaryDirectory(prefix="mlops-nb-bench-") as tmp:
        folder = Path(tmp)
        with working_in(folder):
            (folder / "sqlite").mkdir()
            all_results.append(measure(mlflow, SQLiteFiles(folder / "sqlite"), folder / "sqlite"))
            if not options.skip_postgres:
                say("starting PostgreSQL ...")
                try:
                    cluster = PostgresCluster()
                except ServerUnavailable as exc:
                    say(f"cannot start PostgreSQL: {exc}")
                    return 2
                with cluster:
                    server = (
                        f"PostgreSQL {cluster.version} on 127.0.0.1 (started by the bench; "
                        f"fsync and synchronous_commit on), psycopg 3 for both stores"
                    )
                    databases = PostgresDatabases(cluster)
                    (folder / "pg").mkdir()
                    all_results.append(measure(mlflow, databases, folder / "pg"))
                    flushes = metric_write_experiment(databases)
                    pipelined = pipeline_experiment(databases)
            if not options.skip_registry:
                from bench import registry

                try:
                    (folder / "registry").mkdir()
                    loads = registry.run(folder / "registry")
                except ServerUnavailable as exc:
                    say(f"cannot run the model-load benchmark: {exc}")
    print_table(all_results, server)
    if flushes:
        print_flush_experiment(flushes)
    if pipelined is not None:
        print_pipeline_experiment(pipelined, all_results[-1])
    if loads is not None:
        from bench import registry

        registry.report(loads)
    found = goals(all_results)
    print_goals(found)
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    return 0 if all(goal.met for goal in found) else 1


if __name__ == "__main__":
    sys.exit(main())
