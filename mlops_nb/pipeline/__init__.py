"""Pipelines: what they are (spec), how they run (runner), what they leave (archive, report)."""

from mlops_nb.pipeline.archive import find_run, list_runs, read_run
from mlops_nb.pipeline.runner import Runner, RunObserver, RunPlan, plan_run, run_pipeline
from mlops_nb.pipeline.spec import PipelineSpec, ProjectSpec, StageSpec, load_project

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
