"""Benchmark the runner on the train pipeline's own templates and default parameters.

Run from the repository root::

    .venv/bin/python bench/runner.py

Four ways of executing the same notebooks, each in its own empty outputs folder,
measured in one session (wall-clock seconds):

a. a plain papermill chain: ``papermill.execute_notebook`` once per template, in
   pipeline order, with the same parameters (a fresh kernel each, as papermill does);
b. ``mlops-nb run train`` with an empty cache (a subprocess, as a user runs it);
c. ``mlops-nb run train`` again with nothing changed (every stage a cache hit);
d. the floor: the same notebooks' code (parameters cell, injected parameters,
   then the code cells) executed one after another in one fresh Python process.

It prints the ratios against the goals b/a <= 0.33, b/d <= 1.10, c/b <= 0.03, and
where the time of (b) goes (kernel wait vs cell execution per stage, from run.json).
The exit status is 0 when all goals are met.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

GOALS = {"b/a": 0.33, "b/d": 1.10, "c/b": 0.03}
PIPELINE = "train"


def stage_plan() -> list[tuple[str, Path, dict[str, Any]]]:
    """(stage folder name, template, parameters) for every stage of the pipeline."""
    from mlops_nb.config import load_settings
    from mlops_nb.pipeline.archive import stage_dirs
    from mlops_nb.pipeline.runner import plan_run

    plan = plan_run(load_settings(REPO), PIPELINE)
    return [
        (folder, stage.notebook, plan.params.per_stage[stage.name])
        for folder, stage in zip(stage_dirs(plan.stages), plan.stages, strict=True)
    ]


def papermill_chain(outputs: Path) -> float:
    """(a) one ``papermill.execute_notebook`` per template, fresh kernel each."""
    import papermill

    run_dir = outputs / "runs" / "papermill-chain"
    started = time.perf_counter()
    for folder, template, params in stage_plan():
        stage_dir = run_dir / folder
        stage_dir.mkdir(parents=True)
        papermill.execute_notebook(
            str(template),
            str(stage_dir / "executed.ipynb"),
            parameters={**params, "stage_dir": str(stage_dir)},
            kernel_name="python3",
            progress_bar=False,
            cwd=str(REPO),
        )
    return time.perf_counter() - started


def mlops_run(outputs: Path) -> tuple[float, dict[str, Any]]:
    """(b), (c) ``mlops-nb run train`` as a subprocess; the time and its run.json."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mlops_nb", "run", PIPELINE],
        cwd=REPO,
        env=_env(outputs),
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - started
    latest = sorted((outputs / "runs").iterdir())[-1]
    return seconds, json.loads((latest / "run.json").read_text())


def one_process(outputs: Path) -> float:
    """(d) all the notebooks' code in one fresh interpreter, imports paid once."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, __file__, "--floor", str(outputs)],
        cwd=REPO,
        env=_env(outputs),
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def _floor(outputs: Path) -> None:
    """Body of (d), run in the child process."""
    import matplotlib

    matplotlib.use("Agg")
    import nbformat

    run_dir = outputs / "runs" / "one-process"
    for folder, template, params in stage_plan():
        stage_dir = run_dir / folder
        stage_dir.mkdir(parents=True)
        notebook = nbformat.read(template, as_version=4)
        injected = {**params, "stage_dir": str(stage_dir)}
        namespace: dict[str, Any] = {"__name__": "__main__"}
        for cell in notebook.cells:
            if cell.cell_type != "code":
                continue
            exec(compile(cell.source, f"{template.name}", "exec"), namespace)
            if "parameters" in cell.metadata.get("tags", []):
                namespace.update(injected)


def _env(outputs: Path) -> dict[str, str]:
    env = {**os.environ, "MLOPS_NB_OUTPUTS": str(outputs)}
    env.pop("MLOPS_NB_PROJECT", None)
    return env


def _breakdown(record: dict[str, Any]) -> list[str]:
    lines = []
    for stage in record["stages"]:
        kernel, execute = stage.get("kernel_seconds"), stage.get("execute_seconds")
        if stage.get("cached"):
            detail = f"cached from {stage.get('cached_from')}"
        elif kernel is not None and execute is not None:
            detail = f"kernel {kernel:.2f} s, cells {execute:.2f} s"
        else:
            detail = ""
        lines.append(f"    {stage['name']:<10} {stage['seconds'] or 0:6.2f} s  {detail}")
    return lines


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="mlops-nb-bench-") as tmp:
        base = Path(tmp)
        os.environ["MLOPS_NB_OUTPUTS"] = str(base / "a")
        a = papermill_chain(base / "a")
        print(f"(a) plain papermill chain        {a:7.2f} s", flush=True)
        b, first = mlops_run(base / "b")
        print(f"(b) mlops-nb run, empty cache    {b:7.2f} s", flush=True)
        print("\n".join(_breakdown(first)))
        c, second = mlops_run(base / "b")
        cached = sum(bool(s.get("cached")) for s in second["stages"])
        hits = f"{cached}/{len(second['stages'])} stages cached"
        print(f"(c) mlops-nb run, nothing changed {c:6.2f} s  ({hits})")
        d = one_process(base / "d")
        print(f"(d) one Python process (floor)   {d:7.2f} s", flush=True)
    ratios = {"b/a": b / a, "b/d": b / d, "c/b": c / b}
    print()
    met = True
    for name, value in ratios.items():
        ok = value <= GOALS[name]
        met &= ok
        print(f"{name} = {value:5.2f}   goal <= {GOALS[name]:.2f}   {'met' if ok else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--floor":
        _floor(Path(sys.argv[2]))
        sys.exit(0)
    sys.exit(main())
