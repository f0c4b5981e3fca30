"""Export pipeline runs and registered model versions into an MLflow tracking store.

=============================  ================================================================
mlops-nb                       MLflow
=============================  ================================================================
pipeline run                   a run of the experiment (``mlops-nb`` unless told), named by
                               its id, with status FINISHED / FAILED / KILLED and its times
pipeline params                params (text: JSON for anything but text)
``stage.metric`` values        metrics ``stage.metric``; a stage's tracking-run history keeps
                               its steps and times; flags that are not numbers are tags
id, pipeline, status, git,     tags ``mlops_nb.run_id``, ``mlops_nb.pipeline``, ...,
data versions, notes           ``mlflow.source.git.commit``, ``mlops_nb.data_version.<name>``,
                               ``note.<stage>.<key>``
the run folder                 the run's artifacts: run.json, index.html, every stage's
                               executed notebook, report.html and saved files
registry version NAME:N        a version of registered model NAME, logged by its own run as
                               an MLflow pyfunc (``model/``, see
                               :mod:`~mlops_nb.interop.mlflow_pyfunc`) with its signature,
                               the model card as its description, lineage and metrics as tags
aliases                        the same aliases on the matching MLflow versions
=============================  ================================================================

Export is idempotent: each MLflow run and version carries the tag naming what
it came from (:data:`~mlops_nb.interop.mlflow_client.OUR_RUN_TAG`,
:data:`~mlops_nb.interop.mlflow_client.OUR_MODEL_TAG`), a second export finds
them and writes only what is new, and aliases are moved only where they differ.
A run or version whose export fails is deleted again (the MLflow run soft-deleted,
the version removed) and the error says so; one left half-written by a killed
process lacks the ``mlops_nb.export`` tag and is replaced by the next export.
"""

from __future__ import annotations

import json
import math
import numbers
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_nb.config import Settings
from mlops_nb.errors import InteropError, MlopsNbError
from mlops_nb.interop.mlflow_client import (
    MLFLOW_STATUS,
    OUR_MODEL_TAG,
    OUR_RUN_TAG,
    client_for,
    display_uri,
    import_mlflow,
    quiet,
    sqlite_path,
)
from mlops_nb.pipeline import index
from mlops_nb.store import open_backend

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    from mlops_nb.registry import Registry

__all__ = ["DEFAULT_EXPERIMENT", "EXPORT_TAG", "ExportReport", "export_mlflow"]

DEFAULT_EXPERIMENT = "mlops-nb"
EXPORT_TAG = "mlops_nb.export"
"""Set last on an exported run: ``complete``. A run without it was left half-written."""
PARAM_LIMIT, TAG_LIMIT, DESCRIPTION_LIMIT = 6000, 8000, 5000
"""MLflow's longest param value, tag value and model version description."""
BATCH_METRICS, BATCH_PARAMS = 1000, 100
_NOT_KEY = re.compile(r"[^\w./\- :]")


@dataclass
class ExportReport:
    """What an export wrote, found already there, and skipped.

    Attributes:
        tracking_uri: Where it exported to (without a password).
        experiment: The MLflow experiment's name and ``experiment_id``.
        runs: One entry per pipeline run: ``run_id``, ``mlflow_run_id``, ``action``
            (``exported``, ``already exported``, ``replaced an incomplete export``,
            ``skipped``), and ``artifacts`` (files uploaded) or ``reason``.
        models: One entry per registry version: ``model``, ``version``,
            ``mlflow_version``, ``mlflow_run_id`` and ``action``.
        aliases: One entry per alias: ``model``, ``alias``, ``version`` (ours),
            ``mlflow_version`` and ``action`` (``set``, ``unchanged``, ``removed``).
        seconds: How long the export took.
    """

    tracking_uri: str
    experiment: str
    experiment_id: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    aliases: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        """How many runs, versions and aliases each action touched."""
        counted: dict[str, int] = {}
        for kind, entries in (("runs", self.runs), ("models", self.models)):
            for entry in entries:
                key = f"{kind} {entry['action']}"
                counted[key] = counted.get(key, 0) + 1
        for entry in self.aliases:
            key = f"aliases {entry['action']}"
            counted[key] = counted.get(key, 0) + 1
        return counted

    def to_dict(self) -> dict[str, Any]:
        return {
            "tracking_uri": self.tracking_uri,
            "experiment": self.experiment,
            "experiment_id": self.experiment_id,
            "counts": self.counts(),
            "runs": self.runs,
            "models": self.models,
            "aliases": self.aliases,
            "seconds": round(self.seconds, 3),
        }


def export_mlflow(
    settings: Settings,
    tracking_uri: str,
    *,
    runs: Sequence[str] = (),
    models: Sequence[str] = (),
    experiment: str = DEFAULT_EXPERIMENT,
    artifact_root: str | None = None,
) -> ExportReport:
    """Export runs and model versions of the project ``settings`` into MLflow.

    Args:
        settings: The project whose runs and registry are exported.
        tracking_uri: The MLflow tracking (and registry) URI.
        runs: Pipeline run ids (unique prefixes, ``latest``); none given and no
            ``models`` given: every finished run.
        models: Registered model names; none given and no ``runs`` given: every model.
        experiment: The MLflow experiment the runs go to (created if missing).
        artifact_root: Where a new experiment keeps its artifacts; by default,
            for a ``sqlite:///`` store the folder ``mlartifacts`` beside it, else
            the server's default.

    Returns:
        What was exported, found already there, or skipped.

    Raises:
        InteropError: MLflow missing or unreachable, nothing to export, a deleted
            experiment, or a run or version MLflow refused (it is deleted again).
        RunNotFoundError: a run id matches no run.
        ModelNotFoundError: a model name is not registered.
    """
    started = time.perf_counter()
    everything = not runs and not models
    records = _records(settings, runs, everything)
    names = _model_names(settings, models, everything)
    if not records and not names:
        raise InteropError(
            f"nothing to export: the project {settings.root} has no pipeline runs (in "
            f"{settings.runs_dir} or its store) and no registered models; run a pipeline "
            f"first (mlops-nb run), or pass --run / --model",
        )
    client = client_for(tracking_uri, must_exist=False)
    with quiet():
        experiment_id = _experiment(client, experiment, tracking_uri, artifact_root)
        report = ExportReport(display_uri(tracking_uri), experiment, experiment_id)
        exported = _exported_runs(client, experiment_id)
        history = _histories(settings, [str(record["id"]) for record in records])
        for record in records:
            report.runs.append(
                _export_run(client, settings, experiment_id, record, exported, history)
            )
        if names:
            from mlops_nb.registry import Registry

            with Registry.from_settings(settings) as registry:
                for name in names:
                    _export_model(client, registry, experiment_id, name, report)
    report.seconds = time.perf_counter() - started
    return report


# -- what to export ----------------------------------------------------------------------


def _records(settings: Settings, refs: Sequence[str], everything: bool) -> list[dict[str, Any]]:
    """The records of the runs asked for (all of them when ``everything``), checked first."""
    if refs:
        chosen = {str(r["id"]): r for r in (index.find_record(settings, ref) for ref in refs)}
        return [chosen[run_id] for run_id in sorted(chosen)]
    return index.all_runs(settings) if everything else []


def _model_names(settings: Settings, names: Sequence[str], everything: bool) -> list[str]:
    """The registered model names asked for (all when ``everything``), each checked."""
    if not names and not everything:
        return []
    if not open_backend(settings).exists():  # reading never creates a store
        if names:
            raise InteropError(
                f"cannot export model {names[0]!r}: the project {settings.root} has no store "
                f"yet, so no registered models; register one first (the register stage)",
            )
        return []
    from mlops_nb.registry import Registry

    with Registry.from_settings(settings) as registry:
        known = [str(name) for name in registry.list_models()["name"]]
        for name in names:
            registry.versions(name)  # ModelNotFoundError names what exists
    return list(dict.fromkeys(names)) if names else known


def _histories(settings: Settings, run_ids: list[str]) -> dict[str, list[tuple[str, Any]]]:
    """Per pipeline run: its stages' tracking runs as (stage, metric history frame)."""
    if not run_ids or not open_backend(settings).exists():
        return {}
    from mlops_nb.tracking import TrackingStore

    wanted = set(run_ids)
    found: dict[str, list[tuple[str, Any]]] = {}
    with TrackingStore.from_settings(settings) as store:
        frame = store.search_runs(order_by="attributes.start_time")
        for row in frame.itertuples(index=False):
            pipeline_run, stage = getattr(row, "pipeline_run", None), getattr(row, "stage", None)
            if pipeline_run in wanted and isinstance(stage, str):
                found.setdefault(pipeline_run, []).append(
                    (stage, store.metric_history(str(row.run_id)))
                )
    return found


# -- MLflow side -------------------------------------------------------------------------


def _experiment(client: MlflowClient, name: str, uri: str, artifact_root: str | None) -> str:
    """The id of experiment ``name``, created (with its artifact root) when missing."""
    if not isinstance(name, str) or not name.strip():
        raise InteropError("the MLflow experiment name is empty; pass --experiment NAME")
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            raise InteropError(
                f"the MLflow experiment {name!r} in {display_uri(uri)} is deleted; restore it "
                f"(mlflow experiments restore --experiment-id {found.experiment_id}) or pass "
                f"another --experiment",
                uri=display_uri(uri),
            )
        return str(found.experiment_id)
    root = artifact_root
    database = sqlite_path(uri)
    if root is None and database is not None:
        root = (database.resolve().parent / "mlartifacts").as_uri()
    elif root is not None and "://" not in root:
        root = Path(root).expanduser().resolve().as_uri()
    created: str = client.create_experiment(
        name, artifact_location=root, tags={"mlops_nb.exported_from": "mlops-nb"}
    )
    return created


def _search_all(client: MlflowClient, experiment_id: str) -> Iterator[Any]:
    """Every active run of the experiment, page by page."""
    token: str | None = None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def _exported_runs(client: MlflowClient, experiment_id: str) -> dict[str, Any]:
    """The experiment's runs exported from pipeline runs, by our run id."""
    return {
        run.data.tags[OUR_RUN_TAG]: run
        for run in _search_all(client, experiment_id)
        if OUR_RUN_TAG in run.data.tags
    }


@contextmanager
def _or_deleted(client: MlflowClient, run_id: str, what: str) -> Iterator[None]:
    """Delete MLflow run ``run_id`` if the block fails, and say so in an InteropError."""
    try:
        yield
    except BaseException as exc:
        try:
            client.delete_run(run_id)
            fate = f"the half-written MLflow run {run_id} was deleted"
        except Exception as problem:
            fate = f"the half-written MLflow run {run_id} could not be deleted ({problem})"
        if not isinstance(exc, Exception):
            raise
        detail = exc.message if isinstance(exc, MlopsNbError) else f"{type(exc).__name__}: {exc}"
        raise InteropError(
            f"exporting {what} failed: {detail}; {fate}; fix the cause and export again",
        ) from exc


# -- runs --------------------------------------------------------------------------------


def _export_run(
    client: MlflowClient,
    settings: Settings,
    experiment_id: str,
    record: dict[str, Any],
    exported: dict[str, Any],
    histories: dict[str, list[tuple[str, Any]]],
) -> dict[str, Any]:
    run_id = str(record["id"])
    status = MLFLOW_STATUS.get(str(record.get("status")))
    if status is None:
        return {"run_id": run_id, "action": "skipped", "reason": f"{record.get('status')}"}
    action = "exported"
    earlier = exported.get(run_id)
    if earlier is not None:
        if earlier.data.tags.get(EXPORT_TAG) == "complete":
            return {
                "run_id": run_id,
                "mlflow_run_id": earlier.info.run_id,
                "action": "already exported",
            }
        client.delete_run(earlier.info.run_id)
        action = "replaced an incomplete export"
    run = client.create_run(
        experiment_id,
        start_time=_millis(record.get("started_at")),
        tags=_run_tags(record),
        run_name=run_id,
    )
    mlflow_id = run.info.run_id
    with _or_deleted(client, mlflow_id, f"run {run_id}"):
        metrics, flags = _run_metrics(record, histories.get(run_id, []))
        params = _params(record.get("params") or {})
        _log_batches(client, mlflow_id, metrics, params)
        tags = {f"metric.{key}": _text(value, TAG_LIMIT) for key, value in flags.items()}
        folder = _run_folder(settings, run_id)
        files = 0
        if folder is not None:
            client.log_artifacts(mlflow_id, str(folder))
            files = sum(1 for path in folder.rglob("*") if path.is_file())
        tags["mlops_nb.artifacts"] = str(files) if folder is not None else "not on this machine"
        for key, value in {**tags, EXPORT_TAG: "complete"}.items():
            client.set_tag(mlflow_id, key, value)
        client.set_terminated(mlflow_id, status, end_time=_millis(record.get("finished_at")))
    return {"run_id": run_id, "mlflow_run_id": mlflow_id, "action": action, "artifacts": files}


def _run_tags(record: dict[str, Any]) -> dict[str, str]:
    """The tags of an exported run: where it came from, its status, git and data versions."""
    tags = {
        OUR_RUN_TAG: str(record["id"]),
        "mlops_nb.pipeline": str(record.get("pipeline")),
        "mlops_nb.status": str(record.get("status")),
        "mlops_nb.partial": str(bool(record.get("partial"))).lower(),
        "mlflow.source.name": f"mlops-nb run {record.get('pipeline')}",
        "mlflow.source.type": "PROJECT",
        "mlflow.note.content": _summary(record),
    }
    for key in ("until", "trigger", "resumed_from", "host", "seconds", "decision"):
        if record.get(key) is not None:
            tags[f"mlops_nb.{key}"] = _text(record[key], TAG_LIMIT)
    git = record.get("git") or {}
    if git.get("commit"):
        tags["mlflow.source.git.commit"] = str(git["commit"])
    for key, value in git.items():
        tags[f"mlops_nb.git.{key}"] = _text(value, TAG_LIMIT)
    for name, version in (record.get("data_versions") or {}).items():
        tags[f"mlops_nb.data_version.{_key(str(name))}"] = _text(version, TAG_LIMIT)
    for stage in record.get("stages") or []:
        tags[f"mlops_nb.stage.{_key(str(stage['name']))}"] = str(stage.get("status"))
        for key, value in (stage.get("notes") or {}).items():
            tags[f"note.{_key(str(stage['name']))}.{_key(str(key))}"] = _text(value, TAG_LIMIT)
    return tags


def _summary(record: dict[str, Any]) -> str:
    """The run's description in MLflow: what it was, and its stages."""
    lines = [
        f"mlops-nb pipeline run `{record['id']}` of pipeline **{record.get('pipeline')}**: "
        f"{record.get('status')}.",
        "",
    ]
    for stage in record.get("stages") or []:
        seconds = stage.get("seconds")
        took = f", {seconds:.1f} s" if isinstance(seconds, (int, float)) else ""
        lines.append(f"- {stage['name']}: {stage.get('status')}{took}")
    return _text("\n".join(lines), TAG_LIMIT)


def _run_metrics(
    record: dict[str, Any], histories: list[tuple[str, Any]]
) -> tuple[list[Metric], dict[str, Any]]:
    """The run's metrics (tracked histories with their steps) and its non-numeric flags."""
    from mlflow.entities import Metric

    finished = _millis(record.get("finished_at")) or int(time.time() * 1000)
    metrics: dict[str, list[Metric]] = {}
    for stage, frame in histories:
        for key, value, step, at in frame.itertuples(index=False):
            name = _key(f"{stage}.{key}")
            moment = int(at.timestamp() * 1000)
            metrics.setdefault(name, []).append(Metric(name, float(value), moment, int(step)))
    flags: dict[str, Any] = {}
    latest = {**record.get("metrics", {})}
    for stage in record.get("stages") or []:
        if isinstance(stage.get("seconds"), (int, float)):
            latest.setdefault(f"{stage['name']}.seconds", stage["seconds"])
    if isinstance(record.get("seconds"), (int, float)):
        latest.setdefault("seconds", record["seconds"])
    for key, value in latest.items():
        name = _key(str(key))
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            if name not in metrics:  # a tracked history already ends with this value
                metrics[name] = [Metric(name, float(value), finished, 0)]
        else:
            flags[name] = value
    return [metric for values in metrics.values() for metric in values], flags


def _params(params: dict[str, Any]) -> list[Param]:
    from mlflow.entities import Param

    return [Param(_key(str(key)), _text(value, PARAM_LIMIT)) for key, value in params.items()]


def _log_batches(
    client: MlflowClient, run_id: str, metrics: list[Metric], params: list[Param]
) -> None:
    """Log metrics and params in batches of MLflow's limits."""
    for start in range(0, len(params), BATCH_PARAMS):
        client.log_batch(run_id, params=params[start : start + BATCH_PARAMS])
    for start in range(0, len(metrics), BATCH_METRICS):
        client.log_batch(run_id, metrics=metrics[start : start + BATCH_METRICS])


def _run_folder(settings: Settings, run_id: str) -> Path | None:
    """The run's local folder with every file (fetched when published), None if nowhere."""
    try:
        folder = index.run_folder(settings, run_id, report_only=False)
    except MlopsNbError:
        return None
    return folder if folder.is_dir() else None


# -- models ------------------------------------------------------------------------------


def _export_model(
    client: MlflowClient,
    registry: Registry,
    experiment_id: str,
    name: str,
    report: ExportReport,
) -> None:
    """Export every version of ``name`` not yet in MLflow, then set its aliases there."""
    _registered_model(client, name, registry)
    ours: dict[int, str] = {}
    for version in client.search_model_versions(f"name = '{name}'"):
        ref = (version.tags or {}).get(OUR_MODEL_TAG)
        if ref and ref.startswith(f"{name}:"):
            ours[int(ref.rsplit(":", 1)[1])] = str(version.version)
    frame = registry.versions(name)
    for number in (int(v) for v in frame["version"]):
        if number in ours:
            entry = {"action": "already exported", "mlflow_version": ours[number]}
        else:
            entry = _export_version(client, registry, experiment_id, name, number)
            ours[number] = entry["mlflow_version"]
        report.models.append({"model": name, "version": number, **entry})
    _sync_aliases(client, registry, name, ours, report)


def _registered_model(client: MlflowClient, name: str, registry: Registry) -> None:
    """Create registered model ``name`` in MLflow unless it exists."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
        return
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise InteropError(
                f"cannot read the registered model {name!r} in MLflow: {exc.message}",
            ) from exc
    client.create_registered_model(
        name,
        tags={"mlops_nb.model": name},
        description=f"Exported from the mlops-nb registry at {registry.location}.",
    )


def _export_version(
    client: MlflowClient, registry: Registry, experiment_id: str, name: str, number: int
) -> dict[str, Any]:
    """Log version ``number`` as a pyfunc in a run of its own and register it in MLflow."""
    mlflow = import_mlflow()
    from mlops_nb.interop.mlflow_pyfunc import MODEL_CODE, PACKAGE_ARTIFACT, mlflow_signature
    from mlops_nb.registry.package import CARD_HTML, CARD_MD

    loaded = registry.load(name, number)  # verified: checksum and trusted types
    version, metadata = loaded.version, loaded.metadata
    tags = _version_tags(loaded.version, metadata)
    run = client.create_run(
        experiment_id,
        start_time=int(version.created_at.timestamp() * 1000),
        tags={**tags, "mlflow.source.name": "mlops-nb registry", "mlflow.source.type": "LOCAL"},
        run_name=version.ref,
    )
    mlflow_id = run.info.run_id
    created: str | None = None
    try:
        with _or_deleted(client, mlflow_id, f"model version {version.ref}"):
            metrics = {k: v for k, v in version.metrics.items() if v is not None}
            _log_batches(
                client, mlflow_id, _metrics(metrics), _params(metadata.get("params") or {})
            )
            with tempfile.TemporaryDirectory(prefix="mlops-nb-pyfunc-") as scratch:
                code = Path(scratch) / "mlops_nb_model.py"
                code.write_text(MODEL_CODE, encoding="utf-8")
                staged = shutil.copytree(version.path, Path(scratch) / PACKAGE_ARTIFACT)
                saved = Path(scratch) / "model"
                mlflow.pyfunc.save_model(
                    str(saved),
                    python_model=str(code),
                    artifacts={PACKAGE_ARTIFACT: str(staged)},
                    signature=mlflow_signature(loaded.signature, loaded.model, version.task),
                    pip_requirements=_requirements(metadata, mlflow.__version__),
                    metadata={OUR_MODEL_TAG: version.ref},
                )
                client.log_artifacts(mlflow_id, str(saved), "model")
            for card in (CARD_MD, CARD_HTML):
                if (version.path / card).is_file():
                    client.log_artifact(mlflow_id, str(version.path / card))
            card_text = (version.path / CARD_MD).read_text(encoding="utf-8")
            registered = client.create_model_version(
                name,
                f"runs:/{mlflow_id}/model",
                run_id=mlflow_id,
                tags=tags,
                description=_card(card_text),
            )
            created = str(registered.version)
            client.set_tag(mlflow_id, EXPORT_TAG, "complete")
            client.set_terminated(mlflow_id, "FINISHED")
    except InteropError:
        if created is not None:
            client.delete_model_version(name, created)
        raise
    return {"mlflow_version": created, "mlflow_run_id": mlflow_id, "action": "exported"}


def _version_tags(version: Any, metadata: dict[str, Any]) -> dict[str, str]:
    tags = {
        OUR_MODEL_TAG: version.ref,
        "mlops_nb.status": version.status,
        "mlops_nb.task": version.task,
        "mlops_nb.target": version.target,
        "mlops_nb.created_at": version.created_at.isoformat(),
        "mlops_nb.sha256": str((metadata.get("model") or {}).get("sha256")),
        "mlops_nb.class": str((metadata.get("model") or {}).get("class")),
    }
    for key, value in version.lineage.items():
        if value is not None:
            tags[f"mlops_nb.{key}"] = str(value)
    for key, value in version.metrics.items():
        tags[f"metric.{_key(str(key))}"] = "NaN" if value is None else repr(float(value))
    return tags


def _metrics(values: dict[str, float]) -> list[Metric]:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    return [Metric(_key(key), float(value), now, 0) for key, value in values.items()]


def _requirements(metadata: dict[str, Any], mlflow_version: str) -> list[str]:
    """mlops-nb and MLflow, and the versions of the packages the model was trained with."""
    from mlops_nb.environment import installed_version

    ours = installed_version("mlops-nb")
    packages = ((metadata.get("environment") or {}).get("packages")) or {}
    pinned = [f"{package}=={version}" for package, version in packages.items() if version]
    return [
        f"mlops-nb=={ours}" if ours else "mlops-nb",
        f"mlflow=={mlflow_version}",
        *(p for p in pinned if not p.startswith(("mlops-nb==", "mlflow=="))),
    ]


def _card(markdown: str) -> str:
    """The model card as a version description, within MLflow's length limit."""
    if len(markdown) <= DESCRIPTION_LIMIT:
        return markdown
    note = "\n\n… (the whole card: model_card.md in the version's run artifacts)"
    return markdown[: DESCRIPTION_LIMIT - len(note)] + note


def _sync_aliases(
    client: MlflowClient,
    registry: Registry,
    name: str,
    ours: dict[int, str],
    report: ExportReport,
) -> None:
    """Point each alias of ``name`` at the matching MLflow version; drop ones we no longer hold."""
    held = {str(k): str(v) for k, v in client.get_registered_model(name).aliases.items()}
    frame = registry.versions(name)
    wanted: dict[str, int] = {}
    for number, aliases in zip(frame["version"], frame["aliases"], strict=True):
        for alias in str(aliases or "").split(", "):
            if alias:
                wanted[alias] = int(number)
    for alias, number in sorted(wanted.items()):
        target = ours[number]
        action = "unchanged" if held.get(alias) == target else "set"
        if action == "set":
            try:
                client.set_registered_model_alias(name, alias, target)
            except Exception as exc:  # MLflow refuses some alias names ours accepts
                raise InteropError(
                    f"MLflow refused alias {alias!r} of model {name!r}: {exc}; rename the "
                    f"alias in mlops-nb (models promote) and export again",
                ) from exc
        report.aliases.append(
            {
                "model": name,
                "alias": alias,
                "version": number,
                "mlflow_version": target,
                "action": action,
            }
        )
    exported = set(ours.values())
    for alias, target in sorted(held.items()):
        if alias not in wanted and target in exported:  # an alias we set, since moved away
            client.delete_registered_model_alias(name, alias)
            report.aliases.append(
                {
                    "model": name,
                    "alias": alias,
                    "version": None,
                    "mlflow_version": target,
                    "action": "removed",
                }
            )


# -- values ------------------------------------------------------------------------------


def _millis(text: Any) -> int | None:
    """An ISO time of a record as Unix milliseconds (None when absent or unreadable)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp() * 1000)


def _text(value: Any, limit: int) -> str:
    """A param or tag value as text: text as it is, the rest as JSON; cut at ``limit``."""
    if isinstance(value, float) and not math.isfinite(value):
        text = repr(value)
    else:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _key(name: str) -> str:
    """``name`` with the characters MLflow refuses in keys replaced by ``_``."""
    return _NOT_KEY.sub("_", name)[:250]
