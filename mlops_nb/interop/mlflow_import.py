"""Import MLflow runs into the project's tracking store.

===============================  =============================================================
MLflow                           mlops-nb tracking run
===============================  =============================================================
run name, start and end time     name, ``start_time``, ``end_time`` (as MLflow recorded them)
status FINISHED / FAILED /       ``finished`` / ``failed`` / ``interrupted`` (a run still
KILLED                           RUNNING or SCHEDULED is skipped until it ends)
params (text)                    params: a number written as text comes back as a number, so
                                 ``params.max_depth <= 5`` filters work; the rest stays text
metrics and their history        metrics with every logged value, step and time
tags                             tags, as they are (``mlflow.runName``, ``mlflow.user``, ...)
``mlflow.parentRunId``           ``parent``, when the parent run is imported too
where it came from               tags ``origin`` = ``mlflow``, ``origin.mlflow_run_id``,
                                 ``origin.mlflow_tracking_uri``, ``origin.mlflow_experiment``,
                                 ``origin.mlflow_artifact_uri``
===============================  =============================================================

Artifacts are not copied: the tracking store records files by path and checksum,
and MLflow's stay where MLflow keeps them (``origin.mlflow_artifact_uri``).

Each run is written in one transaction, so a run lands whole or not at all.
Importing is idempotent: a run whose origin tags are already in the store is
reported as ``already imported``; runs that were exported from mlops-nb (they
carry ``mlops_nb.run_id``) are skipped, their record is the pipeline run itself.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_nb.config import Settings
from mlops_nb.errors import InteropError, closest
from mlops_nb.ids import tracking_run_id
from mlops_nb.interop.mlflow_client import (
    ORIGIN_RUN_TAG,
    ORIGIN_URI_TAG,
    OUR_RUN_TAG,
    client_for,
    display_uri,
    quiet,
)
from mlops_nb.tracking import TrackingStore
from mlops_nb.tracking.owner import current_owner
from mlops_nb.tracking.values import check_key, metric_step, metric_value, param_value, tag_value
from mlops_nb.tracking.writes import Batch, end_run, insert_run, write_batch

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run as MlflowRun

__all__ = ["ImportReport", "import_mlflow_runs"]

OUR_STATUS = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "interrupted"}
_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


@dataclass
class ImportReport:
    """What an import brought in, found already there, and skipped.

    Attributes:
        tracking_uri: Where it imported from (without a password).
        store: The tracking store it wrote to.
        runs: One entry per MLflow run: ``mlflow_run_id``, ``experiment``,
            ``run_id`` (ours), ``action`` (``imported``, ``already imported``,
            ``skipped``), and ``metrics`` (values written) or ``reason``.
        seconds: How long the import took.
    """

    tracking_uri: str
    store: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = {}
        for entry in self.runs:
            counted[f"runs {entry['action']}"] = counted.get(f"runs {entry['action']}", 0) + 1
        return counted

    def to_dict(self) -> dict[str, Any]:
        return {
            "tracking_uri": self.tracking_uri,
            "store": self.store,
            "counts": self.counts(),
            "runs": self.runs,
            "seconds": round(self.seconds, 3),
        }


def import_mlflow_runs(
    settings: Settings,
    tracking_uri: str,
    *,
    experiments: Sequence[str] = (),
    runs: Sequence[str] = (),
) -> ImportReport:
    """Bring MLflow runs into the tracking store of the project ``settings``.

    Args:
        settings: The project whose tracking store receives the runs.
        tracking_uri: The MLflow tracking URI to read.
        experiments: Experiment names to import every run of.
        runs: MLflow run ids to import. With neither, every run of every
            active experiment is imported.

    Returns:
        What was imported, found already there, or skipped.

    Raises:
        InteropError: MLflow missing or unreachable, an unknown experiment or run id.
        StoreError: the tracking store cannot be written.
    """
    started = time.perf_counter()
    shown = display_uri(tracking_uri)
    client = client_for(tracking_uri, must_exist=True)
    with quiet():
        names = _experiment_names(client)
        chosen = _chosen_runs(client, shown, names, experiments, runs)
        with TrackingStore.from_settings(settings) as store:
            report = ImportReport(shown, store.location)
            imported = _imported(store, shown)
            for run in sorted(chosen, key=lambda r: (r.info.start_time or 0, r.info.run_id)):
                entry = _import_run(client, store, shown, names, run, imported)
                report.runs.append(entry)
    report.seconds = time.perf_counter() - started
    return report


def _experiment_names(client: MlflowClient) -> dict[str, str]:
    """Every experiment's name by id (deleted ones included: a run may still name one)."""
    from mlflow.entities import ViewType

    names: dict[str, str] = {}
    token: str | None = None
    while True:
        page = client.search_experiments(view_type=ViewType.ALL, max_results=1000, page_token=token)
        names.update({str(e.experiment_id): str(e.name) for e in page})
        token = page.token
        if not token:
            return names


def _chosen_runs(
    client: MlflowClient,
    shown: str,
    names: dict[str, str],
    experiments: Sequence[str],
    run_ids: Sequence[str],
) -> list[MlflowRun]:
    """The MLflow runs asked for, every one checked before anything is written."""
    from mlflow.exceptions import MlflowException

    chosen: dict[str, MlflowRun] = {}
    for run_id in run_ids:
        try:
            run = client.get_run(run_id)
        except MlflowException as exc:
            raise InteropError(
                f"no MLflow run {run_id!r} in {shown} ({exc.error_code}); find run ids with "
                f"`mlflow runs list --experiment-id ID` or in the MLflow UI",
                uri=shown,
            ) from exc
        chosen[run.info.run_id] = run
    ids: list[str] = []
    by_name = {name: experiment_id for experiment_id, name in names.items()}
    for name in experiments:
        if name not in by_name:
            near = closest(name, by_name)
            hint = f"did you mean {near[0]!r}? " if near else ""
            raise InteropError(
                f"no MLflow experiment {name!r} in {shown}; {hint}it has: "
                f"{', '.join(sorted(by_name)) or 'none'}",
                uri=shown,
            )
        ids.append(by_name[name])
    if not run_ids and not experiments:
        from mlflow.entities import ViewType

        ids = [
            str(e.experiment_id)
            for e in client.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=50000)
        ]
    for run in _search_all(client, ids):
        chosen.setdefault(run.info.run_id, run)
    return list(chosen.values())


def _search_all(client: MlflowClient, experiment_ids: list[str]) -> Iterator[MlflowRun]:
    if not experiment_ids:
        return
    token: str | None = None
    while True:
        page = client.search_runs(experiment_ids, max_results=1000, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def _imported(store: TrackingStore, shown: str) -> dict[str, str]:
    """MLflow run id → our run id, for the runs already imported from ``shown``."""
    literal = shown.replace("'", "''")
    frame = store.search_runs(f"tags.`{ORIGIN_URI_TAG}` = '{literal}'")
    column = f"tags.{ORIGIN_RUN_TAG}"
    if column not in frame.columns:
        return {}
    return {
        str(mlflow_id): str(ours)
        for mlflow_id, ours in zip(frame[column], frame["run_id"], strict=True)
    }


def _import_run(
    client: MlflowClient,
    store: TrackingStore,
    shown: str,
    names: dict[str, str],
    run: MlflowRun,
    imported: dict[str, str],
) -> dict[str, Any]:
    info, tags = run.info, dict(run.data.tags)
    experiment = names.get(str(info.experiment_id), str(info.experiment_id))
    entry: dict[str, Any] = {"mlflow_run_id": info.run_id, "experiment": experiment}
    if info.run_id in imported:
        return {**entry, "run_id": imported[info.run_id], "action": "already imported"}
    if OUR_RUN_TAG in tags:
        reason = f"exported from mlops-nb pipeline run {tags[OUR_RUN_TAG]}"
        return {**entry, "action": "skipped", "reason": reason}
    status = OUR_STATUS.get(str(info.status))
    if status is None:
        reason = f"{str(info.status).lower()} in MLflow; import it once it has ended"
        return {**entry, "action": "skipped", "reason": reason}
    batch = Batch(
        params={check_key(k, "param"): param_value(_param(v)) for k, v in run.data.params.items()},
        tags={check_key(k, "tag"): tag_value(k, v) for k, v in tags.items()},
    )
    batch.tags.update(
        {
            "origin": "mlflow",
            ORIGIN_RUN_TAG: info.run_id,
            ORIGIN_URI_TAG: shown,
            "origin.mlflow_experiment": experiment,
            "origin.mlflow_artifact_uri": str(info.artifact_uri),
        }
    )
    for key in run.data.metrics:
        for point in client.get_metric_history(info.run_id, key):
            batch.metrics.append(
                (
                    check_key(key, "metric"),
                    metric_value(key, point.value),
                    metric_step(key, point.step),
                    point.timestamp / 1000,
                )
            )
    ours = tracking_run_id()
    parent = imported.get(tags.get("mlflow.parentRunId", ""))
    begun = (info.start_time or info.end_time or time.time() * 1000) / 1000
    ended = begun if info.end_time is None else info.end_time / 1000
    name = str(info.run_name or tags.get("mlflow.runName") or "mlflow-run")
    backend = store.backend
    conn = backend.connect()
    try:
        with backend.translated("write imported MLflow runs to"), backend.transaction(conn):
            insert_run(conn, ours, name, begun, (None, None, parent), current_owner())
            write_batch(conn, ours, batch)
            end_run(conn, ours, status, ended)
    finally:
        conn.close()
    imported[info.run_id] = ours
    return {**entry, "run_id": ours, "action": "imported", "metrics": len(batch.metrics)}


def _param(text: str) -> Any:
    """An MLflow param (always text) as a number when it is one written as text."""
    if _NUMBER.fullmatch(text):
        return json.loads(text)
    return text
