"""``mlops-nb export mlflow`` and ``mlops-nb import mlflow``: the bridge to an MLflow store."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from mlops_nb.cli.output import console, print_json, say
from mlops_nb.config import load_settings

__all__ = ["export_app", "import_app"]

export_app = typer.Typer(
    help="Write runs and registered models into another tool's store.", no_args_is_help=True
)
import_app = typer.Typer(
    help="Bring another tool's runs into the tracking store.", no_args_is_help=True
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
TrackingUri = Annotated[
    str,
    typer.Option(
        "--tracking-uri",
        help="The MLflow tracking URI: sqlite:///PATH, http://HOST:PORT, postgresql://...",
    ),
]


@export_app.command("mlflow")
def export_mlflow(
    tracking_uri: TrackingUri,
    run: Annotated[
        list[str] | None,
        typer.Option("--run", help="A pipeline run id (prefix, 'latest'); repeat for more."),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="A registered model name; repeat for more."),
    ] = None,
    experiment: Annotated[
        str, typer.Option(help="The MLflow experiment the runs go to (created if missing).")
    ] = "mlops-nb",
    artifact_root: Annotated[
        str | None,
        typer.Option(
            help="Where a new experiment keeps artifacts (default: mlartifacts/ beside a "
            "sqlite store, else the server's)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Export runs (params, metrics, tags, run folders) and model versions (pyfunc, aliases).

    With neither --run nor --model, every finished run and every model is exported.
    Exporting again adds only what is new: what was exported before is found by its tags.
    """
    from mlops_nb.interop.mlflow_export import export_mlflow as export

    report = export(
        load_settings(),
        tracking_uri,
        runs=run or (),
        models=model or (),
        experiment=experiment,
        artifact_root=artifact_root,
    )
    if as_json:
        print_json(report.to_dict())
        return
    console.print(
        f"exported to {escape(report.tracking_uri)}, experiment {escape(report.experiment)} "
        f"(id {report.experiment_id}) in {report.seconds:.1f} s",
        soft_wrap=True,
    )
    for entry in report.runs:
        _line(f"run {entry['run_id']}", entry, entry.get("mlflow_run_id"))
    for entry in report.models:
        target = entry.get("mlflow_version")
        _line(f"model {entry['model']}:{entry['version']}", entry, f"MLflow version {target}")
    for entry in report.aliases:
        console.print(
            f"  alias {escape(entry['model'])}@{escape(entry['alias'])}: {entry['action']} "
            f"(MLflow version {entry['mlflow_version']})",
            soft_wrap=True,
        )
    _counts(report.counts())


@import_app.command("mlflow")
def import_mlflow(
    tracking_uri: TrackingUri,
    experiment: Annotated[
        list[str] | None,
        typer.Option("--experiment", help="An MLflow experiment name; repeat for more."),
    ] = None,
    run: Annotated[
        list[str] | None, typer.Option("--run", help="An MLflow run id; repeat for more.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Import MLflow runs (params, metric histories, tags, status, times) as tracking runs.

    With neither --experiment nor --run, every run of every active experiment is imported.
    Importing again skips runs already imported (found by their origin tags).
    """
    from mlops_nb.interop.mlflow_import import import_mlflow_runs

    report = import_mlflow_runs(
        load_settings(), tracking_uri, experiments=experiment or (), runs=run or ()
    )
    if as_json:
        print_json(report.to_dict())
        return
    console.print(
        f"imported from {escape(report.tracking_uri)} into {escape(report.store)} "
        f"in {report.seconds:.1f} s",
        soft_wrap=True,
    )
    for entry in report.runs:
        _line(f"MLflow run {entry['mlflow_run_id']}", entry, entry.get("run_id"))
    _counts(report.counts())
    say("see them with TrackingStore.search_runs(\"tags.origin = 'mlflow'\")")


def _line(what: str, entry: dict[str, Any], target: Any) -> None:
    """One line per run or version: what happened to it, and where it is now."""
    action = entry["action"]
    detail = f": {entry['reason']}" if entry.get("reason") else f" → {target}"
    console.print(f"  {escape(what)}: {escape(action)}{escape(detail)}", soft_wrap=True)


def _counts(counts: dict[str, int]) -> None:
    shown = ", ".join(f"{number} {kind}" for kind, number in sorted(counts.items()))
    console.print(f"[bold]{escape(shown or 'nothing to do')}[/]", soft_wrap=True)
