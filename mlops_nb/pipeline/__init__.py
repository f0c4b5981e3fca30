"""Pipelines: what they are (spec), how they run (runner), what they leave (archive, report).

The runner hands each stage that has to execute to an executor
(:mod:`~mlops_nb.pipeline.executors`; by default papermill in kernels of this
machine, from :mod:`~mlops_nb.pipeline.kernels`).

Names are imported on first use, so reading the archive does not load papermill.
"""

from __future__ import annotations

from mlops_nb.exports import lazy_getattr

_EXPORTS = {
    "Executor": "mlops_nb.pipeline.executors",
    "LocalExecutor": "mlops_nb.pipeline.executors.local",
    "PipelineSpec": "mlops_nb.pipeline.spec",
    "ProjectSpec": "mlops_nb.pipeline.spec",
    "RunObserver": "mlops_nb.pipeline.runner",
    "RunPlan": "mlops_nb.pipeline.spec",
    "Runner": "mlops_nb.pipeline.runner",
    "StageResult": "mlops_nb.pipeline.executors",
    "StageSpec": "mlops_nb.pipeline.spec",
    "StageTask": "mlops_nb.pipeline.executors",
    "find_run": "mlops_nb.pipeline.archive",
    "list_runs": "mlops_nb.pipeline.archive",
    "load_project": "mlops_nb.pipeline.spec",
    "plan_run": "mlops_nb.pipeline.spec",
    "read_run": "mlops_nb.pipeline.archive",
    "run_pipeline": "mlops_nb.pipeline.runner",
}

__all__ = [
    "Executor",
    "LocalExecutor",
    "PipelineSpec",
    "ProjectSpec",
    "RunObserver",
    "RunPlan",
    "Runner",
    "StageResult",
    "StageSpec",
    "StageTask",
    "find_run",
    "list_runs",
    "load_project",
    "plan_run",
    "read_run",
    "run_pipeline",
]


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
