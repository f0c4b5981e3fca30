"""Pipelines: what they are (spec), how they run (runner), what they leave (archive, report).

Names are imported on first use, so reading the archive does not load papermill.
"""

from __future__ import annotations

from mlops_nb.exports import lazy_getattr

_EXPORTS = {
    "PipelineSpec": "mlops_nb.pipeline.spec",
    "ProjectSpec": "mlops_nb.pipeline.spec",
    "RunObserver": "mlops_nb.pipeline.runner",
    "RunPlan": "mlops_nb.pipeline.runner",
    "Runner": "mlops_nb.pipeline.runner",
    "StageSpec": "mlops_nb.pipeline.spec",
    "find_run": "mlops_nb.pipeline.archive",
    "list_runs": "mlops_nb.pipeline.archive",
    "load_project": "mlops_nb.pipeline.spec",
    "plan_run": "mlops_nb.pipeline.runner",
    "read_run": "mlops_nb.pipeline.archive",
    "run_pipeline": "mlops_nb.pipeline.runner",
}

__all__ = [
    "PipelineSpec",
    "ProjectSpec",
    "RunObserver",
    "RunPlan",
    "Runner",
    "StageSpec",
    "find_run",
    "list_runs",
    "load_project",
    "plan_run",
    "read_run",
    "run_pipeline",
]


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())
