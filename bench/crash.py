"""The crash campaign: SIGKILL a train run at random times, then doctor, repair and resume.

    .venv/bin/python bench/crash.py [--points 20] [--seed 0] [--kernel-every 4]

A first, complete run of the cheap train pipeline (``tests/reliability/crashes.py``,
``--no-cache``) measures how long a run takes. Then, at each point, a new
``--no-cache`` run is killed after a random time drawn uniformly over that
duration: SIGKILL of the runner, or (every ``--kernel-every``-th point) of the
kernel executing a stage at that moment. After each crash the table says what
was killed, which of the runner's processes outlived it (after a grace of
15 s), what ``mlops-nb doctor`` found before and after ``--repair``, and whether
``mlops-nb run --resume`` completed the run. The last line sums it up.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.reliability.crashes import CHEAP, cli, crash, recover, summary

RUN = [*CHEAP, "--no-cache"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kernel-every", type=int, default=4)
    options = parser.parse_args()
    rng = random.Random(options.seed)
    with tempfile.TemporaryDirectory(prefix="mlops-crash-") as folder:
        outputs = Path(folder) / "outputs"
        started = time.perf_counter()
        first = cli(outputs, "run", "train", *RUN)
        duration = time.perf_counter() - started
        if first.returncode != 0:
            sys.exit(f"the first run failed:\n{first.stdout}{first.stderr}")
        print(f"a run takes {duration:.1f} s; killing {options.points} runs over that time\n")
        header = f"{'#':>2} {'at s':>5}  {'killed':<14} {'orphans':>7}  "
        print(header + f"{'doctor before':<40} {'after repair':<14} resume")
        totals = {"orphans": 0, "left": 0, "resumed": 0, "resumes": 0, "found": 0}
        for point in range(1, options.points + 1):
            at = rng.uniform(0.5, duration)
            target = "kernel" if point % options.kernel_every == 0 else "runner"
            crashed = crash(outputs, *RUN, delay=at, target=target)
            orphans = crashed.survivors()
            recovery = recover(outputs, crashed.run_id)
            resumed = recovery.resumed
            ok = "not needed" if resumed is None else ("ok" if resumed.returncode == 0 else "FAIL")
            totals["orphans"] += len(orphans)
            totals["left"] += len(recovery.after)
            totals["found"] += len(recovery.before)
            totals["resumes"] += resumed is not None
            totals["resumed"] += resumed is not None and resumed.returncode == 0
            killed = crashed.killed.split(" ")[0] if crashed.returncode else "(finished)"
            print(
                f"{point:>2} {at:>5.1f}  {killed:<14} {len(orphans):>7}  "
                f"{summary(recovery.before)[:40]:<40} {summary(recovery.after):<14} {ok}",
                flush=True,
            )
            for line in orphans:
                print(f"     orphan: {line}")
        print(
            f"\n{options.points} crashes: {totals['orphans']} orphan processes, "
            f"{totals['found']} doctor findings before repair, {totals['left']} left after "
            f"--repair, {totals['resumed']}/{totals['resumes']} resumes completed"
        )


if __name__ == "__main__":
    main()
