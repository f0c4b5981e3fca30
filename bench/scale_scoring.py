"""Benchmark batch scoring of a partitioned Parquet dataset: raw predict, local, Dask.

Run from the repository root (needs the ``dask`` extra)::

    .venv/bin/python bench/scale_scoring.py                       # 10,000,000 rows, 2 workers
    .venv/bin/python bench/scale_scoring.py --rows 1000000 --partitions 4

The script writes a churn dataset (``mlops_nb.data.generate_churn``, one seed per
partition, one partition in memory at a time) into a temporary folder, trains
and registers a small churn pipeline, then measures:

1. raw ``model.predict`` on one partition in memory, one process (rows/s; the
   reference per core);
2. ``predict_dataset`` with the local executor in a fresh process: rows/s and
   its peak RSS;
3. ``predict_dataset`` on a ``LocalCluster`` of ``--workers`` single-threaded
   worker processes: rows/s, rows/s per worker, and each worker's peak RSS.

It prints the figures and the ratios against the goals (peak RSS per worker
<= 1 GB; throughput per core >= 0.7x raw predict); no assertions.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from mlops_nb.data import generate_churn  # noqa: E402
from mlops_nb.features import build_feature_pipeline, infer_feature_types  # noqa: E402
from mlops_nb.prep import cleanse, standardize  # noqa: E402
from mlops_nb.registry import Registry  # noqa: E402
from mlops_nb.serving.batch import predict_dataset  # noqa: E402
from mlops_nb.validation import input_contract, load_contract, validate  # noqa: E402

CONTRACT = ROOT / "contracts" / "churn.yaml"
REF = "churn@production"
RSS_GOAL_MB = 1024
PER_CORE_GOAL = 0.7


def say(text: str) -> None:
    print(text, flush=True)


def write_dataset(folder: Path, rows: int, partitions: int) -> None:
    """``rows`` churn rows (no target) in ``partitions`` files, one in memory at a time."""
    folder.mkdir(parents=True)
    per_part, extra = divmod(rows, partitions)
    for index in range(partitions):
        count = per_part + (1 if index < extra else 0)
        part = generate_churn(count, seed=100 + index).drop(columns="churned")
        part.to_parquet(folder / f"customers-{index:04d}.parquet", index=False)
        del part


def register_model(outputs: Path) -> None:
    raw = generate_churn(5000, seed=1)
    data = cleanse(standardize(raw, "churned")[0], "churned").data
    steps = build_feature_pipeline(infer_feature_types(data, "churned"), "binary").steps
    model = Pipeline([*steps, ("model", LogisticRegression(max_iter=500))])
    model.fit(data.drop(columns="churned"), data["churned"])
    with Registry(outputs / "mlops.db", outputs / "registry") as registry:
        registry.register(
            "churn",
            model,
            signature=input_contract(load_contract(CONTRACT), "churned"),
            task="binary",
            target="churned",
            metrics={"roc_auc": 0.8},
            data_version="bench",
            pipeline_run=None,
            training_run=None,
        )
        registry.set_alias("churn", "production", 1, reason="bench")


def raw_predict(outputs: Path, first: Path) -> tuple[float, float]:
    """Rows per wall second and per CPU second of ``model.predict`` on one partition in memory."""
    with Registry(outputs / "mlops.db", outputs / "registry") as registry:
        loaded = registry.load(REF)
    frame = pd.read_parquet(first)
    valid = validate(
        frame, loaded.signature, on_invalid="quarantine", max_invalid_fraction=1.0
    ).valid
    best = cpu = float("inf")
    for _ in range(3):
        started, cpu_started = time.perf_counter(), time.process_time()
        loaded.model.predict(valid)
        best = min(best, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - cpu_started)
    return len(valid) / best, len(valid) / cpu


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started, MB.

    ``/proc/self/status`` ``VmHWM``: unlike ``getrusage().ru_maxrss``, it is not
    inherited from the parent that forked this process (a Dask worker, a
    spawned child), so it is the process's own peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def usage() -> tuple[float, float]:
    """Peak RSS (MB) and CPU seconds of this process so far."""
    return peak_rss_mb(), time.process_time()


def _local_child(outputs: str, source: str, target: str, queue: Any) -> None:
    cpu = time.process_time()
    with Registry(Path(outputs) / "mlops.db", Path(outputs) / "registry") as registry:
        result = predict_dataset(registry, REF, source, target)
    queue.put((result.rows, result.seconds, peak_rss_mb(), time.process_time() - cpu))


def local_scoring(outputs: Path, source: Path, target: Path) -> tuple[int, float, float, float]:
    """Rows, seconds, peak RSS (MB) and CPU seconds of the local executor, in a fresh process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(
        target=_local_child, args=(str(outputs), str(source), str(target), queue)
    )
    child.start()
    rows, seconds, rss, cpu = queue.get()
    child.join()
    return rows, seconds, rss, cpu


def dask_scoring(
    outputs: Path, source: Path, target: Path, workers: int
) -> tuple[int, float, dict[str, float], float]:
    """Rows, seconds, each worker's peak RSS (MB), workers' CPU seconds, on a LocalCluster."""
    from distributed import Client, LocalCluster

    with LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        memory_limit=0,
    ) as cluster:
        with Client(cluster.scheduler_address, set_as_default=False) as client:
            before = client.run(usage)
        with Registry(outputs / "mlops.db", outputs / "registry") as registry:
            result = predict_dataset(
                registry,
                REF,
                source,
                target,
                executor="dask",
                scheduler=cluster.scheduler_address,
            )
        with Client(cluster.scheduler_address, set_as_default=False) as client:
            after = client.run(usage)
    idle = ", ".join(f"{rss:.0f} MB" for rss, _ in before.values())
    say(f"  worker peak RSS before scoring: {idle}")
    cpu = sum(after[w][1] - before[w][1] for w in after)
    return result.rows, result.seconds, {w: rss for w, (rss, _) in after.items()}, cpu


def main_part(args: argparse.Namespace) -> int:
    partitions = args.partitions or max(args.workers, round(args.rows / 500_000))
    say(
        f"machine: {os.cpu_count()} CPUs; {args.rows:,} rows in {partitions} partitions, "
        f"{args.workers} Dask workers x 1 thread"
    )
    with tempfile.TemporaryDirectory(prefix="mlops-nb-bench-scale-") as name:
        base = Path(name)
        started = time.perf_counter()
        write_dataset(base / "in", args.rows, partitions)
        say(f"dataset written in {time.perf_counter() - started:.1f} s")
        register_model(base / "outputs")
        first = sorted((base / "in").iterdir())[0]
        raw, raw_cpu = raw_predict(base / "outputs", first)
        say(f"raw predict: {raw:,.0f} rows/s")
        rows, local_s, local_rss, local_cpu = local_scoring(
            base / "outputs", base / "in", base / "local"
        )
        say(f"local: {rows / local_s:,.0f} rows/s")
        rows, dask_s, worker_rss, dask_cpu = dask_scoring(
            base / "outputs", base / "in", base / "dask", args.workers
        )
    report(
        args.workers,
        (raw, raw_cpu),
        (rows / local_s, rows / local_cpu, local_rss),
        (rows / dask_s, rows / dask_cpu, max(worker_rss.values())),
    )
    say(f"seconds: local {local_s:.1f}, dask {dask_s:.1f}; load average {os.getloadavg()[0]:.1f}")
    return 0


def report(
    workers: int,
    raw: tuple[float, float],
    local: tuple[float, float, float],
    dask: tuple[float, float, float],
) -> None:
    """The table: rows per wall second, per core (wall / processes), per CPU second, RSS."""
    per_core = dask[0] / workers
    say("")
    say(f"{'measurement':<40} {'rows/s':>10} {'/core':>10} {'/CPU-s':>10} {'peak RSS':>16}")
    say(
        f"{'raw model.predict, 1 partition in RAM':<40} {raw[0]:>10,.0f} {raw[0]:>10,.0f} "
        f"{raw[1]:>10,.0f}"
    )
    say(
        f"{'predict, local executor (1 process)':<40} {local[0]:>10,.0f} {local[0]:>10,.0f} "
        f"{local[1]:>10,.0f} {f'{local[2]:,.0f} MB':>16}"
    )
    say(
        f"{f'predict, dask ({workers} workers x 1 thread)':<40} {dask[0]:>10,.0f} "
        f"{per_core:>10,.0f} {dask[1]:>10,.0f} {f'{dask[2]:,.0f} MB/worker':>16}"
    )
    say("")
    say(
        f"local / raw predict:               {local[0] / raw[0]:.2f}x wall, "
        f"{local[1] / raw[1]:.2f}x per CPU-second"
    )
    say(
        f"dask per core / raw predict:       {per_core / raw[0]:.2f}x wall, "
        f"{dask[1] / raw[1]:.2f}x per CPU-second (goal >= {PER_CORE_GOAL}x)"
    )
    say(f"dask / local:                      {dask[0] / local[0]:.2f}x")
    say(f"peak RSS per worker:               {dask[2]:,.0f} MB (goal <= {RSS_GOAL_MB} MB)")


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows in the dataset")
    parser.add_argument("--partitions", type=int, default=0, help="files (default rows/500k)")
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main_part(arguments()))
