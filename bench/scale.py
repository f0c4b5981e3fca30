"""Benchmark mlops-nb on a Dask cluster: the search, the segments pipeline, the per-stage overhead.

Run from the repository root::

    .venv/bin/python bench/scale.py                     # every part, full size (many minutes)
    .venv/bin/python bench/scale.py --quick             # a smoke run on small data
    .venv/bin/python bench/scale.py --parts search --rows 200000

Parts (``--parts``, comma-separated), each measured in this one run, on clusters
the bench starts itself (``LocalCluster`` on 127.0.0.1, one thread per worker):

search
    ``tune`` on the churn sample (cleansed as the prepare stage does) with the
    train template's defaults (budget 6, 3 folds, all candidates): locally with
    ``n_jobs=1``, then ``parallel="dask"`` on 1 worker and on 2 workers. It
    prints seconds, the ratios, and whether every result equals the local one.
segments
    ``mlops-nb run segments`` (four segment stages that can run at once):
    ``--jobs 1``, ``--jobs 2``, and ``--executor dask`` on 2 workers; wall seconds.
overhead
    A chain of no-op stages (the test fixture ``nap.ipynb`` with 0 seconds),
    local executor vs Dask executor: the median stage time and the difference,
    in ms per stage.
scoring
    ``bench/scale_scoring.py``'s ``main_part`` with that module's own default
    options (200,000 rows with ``--quick``), when the module exists.

Figures, never assertions: the exit status is 0 unless a run failed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET = "churned"
PARTS = ("search", "segments", "overhead", "scoring")
FIXTURES = REPO / "tests" / "fixtures" / "notebooks"


def say(text: str) -> None:
    print(text, flush=True)


def table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    say("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    say("  ".join("-" * w for w in widths))
    for row in rows:
        say("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


@contextmanager
def local_cluster(workers: int, threads: int = 1) -> Iterator[str]:
    """A LocalCluster of ``workers`` processes on 127.0.0.1; yields the scheduler's address."""
    import dask
    from distributed import LocalCluster

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=threads,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
        ) as cluster,
    ):
        yield cluster.scheduler_address


# --- search ----------------------------------------------------------------------------------


def search_data(rows: int) -> tuple[Any, Any, Any]:
    """The churn sample's features, target and feature pipeline, cleansed as prepare does."""
    import mlops_nb as mn
    from mlops_nb.data.sample import generate_churn

    raw = generate_churn(rows, seed=0)
    data = mn.cleanse(mn.standardize(raw, TARGET)[0], TARGET).data.drop(columns=["customer_id"])
    features = mn.build_feature_pipeline(mn.infer_feature_types(data, TARGET), "binary")
    return features, data.drop(columns=[TARGET]), data[TARGET]


def same_result(a: Any, b: Any) -> bool:
    timeless = [c for c in a.trials.columns if c != "fit_seconds"]
    return bool(
        a.best_name == b.best_name
        and a.trials[timeless].equals(b.trials[timeless])
        and a.leaderboard["cv_score"].equals(b.leaderboard["cv_score"])
    )


def search_part(args: argparse.Namespace) -> None:
    from mlops_nb.modeling import tune

    rows = args.rows or (5_000 if args.quick else 200_000)
    say(f"\n== search: tune() on sample:churn, {rows:,} rows, budget 6, 3 folds ==")
    features, X, y = search_data(rows)

    def timed(**where: Any) -> tuple[float, Any]:
        started = time.perf_counter()
        result = tune(features, X, y, "binary", budget=6, cv=3, seed=0, **where)
        return time.perf_counter() - started, result

    say("local, n_jobs=1 ...")
    local_s, local = timed(n_jobs=1)
    measured = [("local (n_jobs=1)", local_s, local)]
    for workers in (1, 2):
        with local_cluster(workers) as address:
            say(f"dask, {workers} worker(s) ...")
            seconds, result = timed(parallel="dask", scheduler=address)
        measured.append((f"dask, {workers} worker(s) x 1 thread", seconds, result))
    one_worker = measured[1][1]
    table(
        ["where", "seconds", "local/this", "1 worker/this", "same result as local"],
        [
            [
                name,
                f"{seconds:.1f}",
                f"{local_s / seconds:.2f}x",
                f"{one_worker / seconds:.2f}x",
                "yes" if same_result(local, result) else "NO",
            ]
            for name, seconds, result in measured
        ],
    )
    best = local.leaderboard.set_index("candidate")["fit_seconds"].round(1).to_dict()
    say(f"local seconds per candidate (search + refit): {best}")


# --- segments --------------------------------------------------------------------------------


def mlops_run(outputs: Path, *args: str, project: Path = REPO) -> tuple[float, dict[str, Any]]:
    """``mlops-nb run ARGS`` as a subprocess; its wall seconds and run.json."""
    env = {**os.environ, "MLOPS_NB_OUTPUTS": str(outputs), "MLOPS_NB_PROJECT": str(project)}
    for name in ("MLOPS_NB_EXECUTOR", "MLOPS_NB_DASK_SCHEDULER", "MLOPS_NB_PARALLEL"):
        env.pop(name, None)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mlops_nb", "run", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"mlops-nb run {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    (run_dir,) = (outputs / "runs").iterdir()
    return seconds, json.loads((run_dir / "run.json").read_text())


def segments_part(args: argparse.Namespace) -> None:
    rows = 1_200 if args.quick else args.segment_rows
    budget = "1" if args.quick else "3"
    say(f"\n== segments: mlops-nb run segments, sample:churn?rows={rows}, budget {budget} ==")
    common = ["segments", "-p", f"data_source=sample:churn?rows={rows}&seed=3", "-p"]
    common.append(f"budget={budget}")
    measured: list[tuple[str, float, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="mlops-nb-scale-") as tmp:
        for name, extra in (("--jobs 1", ["--jobs", "1"]), ("--jobs 2", ["--jobs", "2"])):
            say(f"{name} ...")
            seconds, record = mlops_run(Path(tmp, name.replace(" ", "")), *common, *extra)
            measured.append((name, seconds, record))
        with local_cluster(2) as address:
            say("--executor dask, 2 workers ...")
            dask_args = ["--executor", "dask", "--scheduler", address]
            seconds, record = mlops_run(Path(tmp, "dask"), *common, *dask_args)
            measured.append(("--executor dask (2 workers x 1 thread)", seconds, record))
    sequential = measured[0][1]

    def segment_seconds(record: dict[str, Any]) -> float:
        return sum(s["seconds"] or 0 for s in record["stages"] if s["name"].startswith("segment_"))

    table(
        ["run", "wall s", "jobs 1/this", "segment stages' s (sum)", "workers"],
        [
            [
                name,
                f"{seconds:.1f}",
                f"{sequential / seconds:.2f}x",
                f"{segment_seconds(record):.1f}",
                str(len({s["worker"] for s in record["stages"]})),
            ]
            for name, seconds, record in measured
        ],
    )


# --- overhead --------------------------------------------------------------------------------


def chain_project(folder: Path, stages: int) -> Path:
    """A project whose pipeline ``chain`` is produce, then ``stages`` no-op naps in a row."""
    (folder / "notebooks").mkdir(parents=True)
    for name in ("produce", "nap"):
        shutil.copy(FIXTURES / f"{name}.ipynb", folder / "notebooks")
    lines = ["pipelines:", "  chain:", "    stages:", "      produce:"]
    lines.append("        notebook: notebooks/produce.ipynb")
    previous = "produce"
    for index in range(1, stages + 1):
        name = f"nap_{index}"
        needs = "produce" if previous == "produce" else f"produce, {previous}"
        lines += [
            f"      {name}:",
            "        notebook: notebooks/nap.ipynb",
            f"        needs: [{needs}]",
            "        params: {seconds: {type: float, default: 0}}",
        ]
        previous = name
    (folder / "pipeline.yaml").write_text("\n".join(lines) + "\n")
    return folder


def overhead_part(args: argparse.Namespace) -> None:
    stages = 4 if args.quick else 12
    say(f"\n== overhead: a chain of {stages} no-op stages (nap 0 s), one at a time ==")
    with tempfile.TemporaryDirectory(prefix="mlops-nb-scale-") as tmp:
        project = chain_project(Path(tmp, "project"), stages)
        runs: dict[str, tuple[float, dict[str, Any]]] = {}
        say("local executor ...")
        runs["local"] = mlops_run(Path(tmp, "local"), "chain", "--no-cache", project=project)
        with local_cluster(2) as address:
            say("dask executor, 2 workers ...")
            runs["dask"] = mlops_run(
                Path(tmp, "dask"),
                "chain",
                "--no-cache",
                "--executor",
                "dask",
                "--scheduler",
                address,
                project=project,
            )

    def naps(record: dict[str, Any]) -> list[float]:
        return [s["seconds"] for s in record["stages"] if s["name"].startswith("nap_")]

    medians = {name: statistics.median(naps(record)) for name, (_, record) in runs.items()}
    table(
        ["executor", "wall s", "median stage ms", "first nap ms", "kernel ms (median)"],
        [
            [
                name,
                f"{seconds:.1f}",
                f"{medians[name] * 1000:.0f}",
                f"{naps(record)[0] * 1000:.0f}",
                f"{_median_kernel(record) * 1000:.0f}",
            ]
            for name, (seconds, record) in runs.items()
        ],
    )
    # The stage's own time (kernel, cells) is the same on both: what Dask adds is around
    # it (submit, scheduling, the result's way back, the next submit). Per stage: the wall
    # time after the first nap (whose worker starts its fork server once) over the stages.
    after_first = {
        name: (seconds - naps(record)[0]) / (stages - 1) for name, (seconds, record) in runs.items()
    }
    say(
        f"wall per stage after the first: local {after_first['local'] * 1000:.0f} ms, "
        f"dask {after_first['dask'] * 1000:.0f} ms"
    )
    say(
        f"Dask overhead per stage: {(after_first['dask'] - after_first['local']) * 1000:.0f} ms "
        f"(inside the stage: {(medians['dask'] - medians['local']) * 1000:.0f} ms); once per "
        f"worker, its fork server: {(naps(runs['dask'][1])[0] - medians['dask']) * 1000:.0f} ms"
    )


def _median_kernel(record: dict[str, Any]) -> float:
    values = [s.get("kernel_seconds") or 0.0 for s in record["stages"] if s["name"] != "produce"]
    return statistics.median(values) if values else 0.0


# --- scoring (another module's part) ---------------------------------------------------------


def scoring_part(args: argparse.Namespace) -> None:
    """``bench/scale_scoring.py``'s ``main_part``; a note when the module is not there."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        module = importlib.import_module("scale_scoring")
    except ModuleNotFoundError as error:
        if error.name != "scale_scoring":
            raise
        say("\n== scoring: skipped (bench/scale_scoring.py is not there) ==")
        return
    say("\n== scoring: bench/scale_scoring.py ==")
    # the part keeps its own options (rows, partitions, workers), defaults unless --quick
    options = module.arguments(["--rows", "200000"] if args.quick else [])
    module.main_part(options)


PART_FUNCTIONS: dict[str, Callable[[argparse.Namespace], None]] = {
    "search": search_part,
    "segments": segments_part,
    "overhead": overhead_part,
    "scoring": scoring_part,
}


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated parts to run, of {', '.join(PARTS)} (default: all)",
    )
    parser.add_argument("--rows", type=int, default=0, help="rows of the search (200,000)")
    parser.add_argument(
        "--segment-rows", type=int, default=20_000, help="rows of the segments runs (20,000)"
    )
    parser.add_argument("--quick", action="store_true", help="a fast smoke run on small data")
    options = parser.parse_args(argv)
    options.parts = [part.strip() for part in options.parts.split(",") if part.strip()]
    unknown = sorted(set(options.parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    return options


def main(argv: list[str] | None = None) -> int:
    options = arguments(argv)
    started = time.perf_counter()
    say(f"Scale benchmark on {os.cpu_count()} cores; parts: {', '.join(options.parts)}")
    for part in options.parts:
        PART_FUNCTIONS[part](options)
    say(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
