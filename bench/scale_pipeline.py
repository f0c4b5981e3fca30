"""Benchmark the whole train pipeline as the data grows: seconds per stage, peak memory, the metric.

Run from the repository root::

    .venv/bin/python bench/scale_pipeline.py                  # 10,000 / 100,000 / 1,000,000 rows
    .venv/bin/python bench/scale_pipeline.py --rows 10000000  # add sizes (repeatable)
    .venv/bin/python bench/scale_pipeline.py --quick          # 2,000 and 20,000 rows
    .venv/bin/python bench/scale_pipeline.py --csv            # the sample as a CSV file

Each size is one ``mlops-nb run train -p data_source=sample:churn?rows=N --no-cache`` in a
fresh outputs folder (so every stage executes), with the template defaults otherwise.
With ``--csv`` the same rows are first written to a CSV file (not timed) and the run
reads that, so ingest streams it into the snapshot a million rows at a time.
While it runs, the resident memory of the whole process tree (the runner, its fork
server, the stage kernels, the deploy stage's server worker) is sampled every 0.2 s;
the peak of that sum is printed with the seconds of every stage (from run.json), the
whole run's wall seconds and the holdout metric the evaluate stage logged. The last
lines give the growth factor of the run time per 10x rows, then the goals of issue 16
where the sizes they need were run: 1,000,000 rows in at most 4x the time of 100,000,
and 10,000,000 rows completing with a peak of at most 16 GiB. The exit status is 0
when every run succeeded and every goal measured was met.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import table

ROOT = Path(__file__).resolve().parent.parent
GROWTH_GOAL = 4.0  # 1,000,000 rows against 100,000
PEAK_GOAL = 16 * 2**30  # bytes, at 10,000,000 rows
STAGES = ("ingest", "validate", "prepare", "features", "train", "evaluate", "register", "deploy")


class TreeMemory:
    """Samples the summed RSS of a process and all of its descendants until stopped."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.root = psutil.Process(pid)
        self.every = every
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                tree = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = 0
            for process in tree:
                try:
                    total += process.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            self.peak = max(self.peak, total)
            self._stop.wait(self.every)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def write_csv(rows: int, folder: Path) -> Path:
    """The churn sample's ``rows`` rows as a CSV file in ``folder``, a million at a time."""
    from mlops_nb.data import generate_churn

    path = folder / f"churn-{rows}.csv"
    whole = generate_churn(rows, seed=0)
    for start in range(0, rows, 1_000_000):
        part = whole.iloc[start : start + 1_000_000]
        part.to_csv(path, mode="a" if start else "w", header=not start, index=False)
    return path


def one_run(rows: int, keep: bool, csv: bool = False) -> dict[str, Any]:
    outputs = Path(tempfile.mkdtemp(prefix=f"mlops-nb-scale-{rows}-"))
    env = {**os.environ, "MLOPS_NB_OUTPUTS": str(outputs)}
    source = f"sample:churn?rows={rows}"
    if csv:
        print(f"{rows:,} rows: writing the sample as CSV ...", flush=True)
        source = str(write_csv(rows, outputs))
    command = [
        str(ROOT / ".venv" / "bin" / "mlops-nb"),
        "run",
        "train",
        "--no-cache",
        "-p",
        f"data_source={source}",
    ]
    print(f"{rows:,} rows: {' '.join(command[1:])} ...", flush=True)
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    memory = TreeMemory(process.pid)
    output, _ = process.communicate()
    peak = memory.stop()
    wall = time.perf_counter() - started
    runs = sorted((outputs / "runs").glob("*/run.json"))
    record = json.loads(runs[-1].read_text()) if runs else {}
    if not keep:
        shutil.rmtree(outputs, ignore_errors=True)
    if process.returncode != 0:
        print(output[-3000:], flush=True)
    seconds = {stage["name"]: stage.get("seconds") for stage in record.get("stages", [])}
    metrics = record.get("metrics", {})
    metric = next(
        (
            f"{key.split('.', 1)[1]} {value:.4f}"
            for key, value in metrics.items()
            if key in ("evaluate.roc_auc", "evaluate.f1", "evaluate.rmse")
        ),
        "-",
    )
    return {
        "rows": rows,
        "status": record.get("status", f"exit {process.returncode}"),
        "wall": wall,
        "stages": seconds,
        "peak": peak,
        "metric": metric,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, action="append", help="another size (repeatable)")
    parser.add_argument("--only", action="store_true", help="only the --rows sizes")
    parser.add_argument("--quick", action="store_true", help="2,000 and 20,000 rows")
    parser.add_argument("--keep", action="store_true", help="keep the outputs folders")
    parser.add_argument("--csv", action="store_true", help="read the sample from a CSV file")
    args = parser.parse_args(argv)
    sizes = [2_000, 20_000] if args.quick else [10_000, 100_000, 1_000_000]
    sizes = (args.rows or []) if args.only else sorted({*sizes, *(args.rows or [])})
    results = [one_run(rows, args.keep, args.csv) for rows in sizes]
    header = ["rows", "status", "wall s", *STAGES, "peak RSS", "holdout"]
    lines = []
    for result in results:
        stages = result["stages"]
        lines.append(
            [
                f"{result['rows']:,}",
                result["status"],
                f"{result['wall']:.1f}",
                *(f"{stages[s]:.1f}" if stages.get(s) is not None else "-" for s in STAGES),
                f"{result['peak'] / 2**20:,.0f} MB",
                result["metric"],
            ]
        )
    table(header, lines)
    growth = [
        f"{b['rows'] // a['rows']}x rows ({a['rows']:,} -> {b['rows']:,}): "
        f"{b['wall'] / a['wall']:.2f}x time, {b['peak'] / max(a['peak'], 1):.2f}x memory"
        for a, b in itertools.pairwise(results)
    ]
    for line in growth:
        print(line)
    met = goals({result["rows"]: result for result in results})
    return 0 if met and all(r["status"] == "succeeded" for r in results) else 1


def goals(by_rows: dict[int, dict[str, Any]]) -> bool:
    """Print the goals whose sizes were run, each with PASS or FAIL; True when all are met."""
    checks = []
    small, large = by_rows.get(100_000), by_rows.get(1_000_000)
    if small and large:
        ratio = large["wall"] / small["wall"]
        ok = ratio <= GROWTH_GOAL and large["status"] == "succeeded"
        text = f"1,000,000 rows in {ratio:.2f}x the time of 100,000 <= {GROWTH_GOAL:g}x"
        checks.append((text, ok))
    huge = by_rows.get(10_000_000)
    if huge:
        peak = huge["peak"] / 2**30
        ok = huge["status"] == "succeeded" and huge["peak"] <= PEAK_GOAL
        checks.append((f"10,000,000 rows {huge['status']}, peak {peak:.1f} GiB <= 16 GiB", ok))
    if checks:
        print("\ngoals:")
    for text, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    return all(ok for _, ok in checks)


if __name__ == "__main__":
    raise SystemExit(main())
