"""The object a template notebook uses: its folder, upstream outputs, metrics.

A template's first code cell after its parameters does::

    stage = Stage("validate", stage_dir=stage_dir)
    raw = stage.input("ingest", "data")          # the ingest stage's artifact
    stage.save("valid", valid_rows)              # -> valid.parquet, hashed
    stage.log_metrics({"invalid_rows": 12})

Inside a run the runner injects ``stage_dir`` (``outputs/runs/<id>/02_validate``).
Run by hand with the default ``stage_dir = None``, the stage works in the
development run folder ``outputs/dev/<stage>/``, so templates can be run one
after another in JupyterLab.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from mlops_nb import artifacts
from mlops_nb.config import Settings, load_settings
from mlops_nb.dag import ancestors, run_order
from mlops_nb.errors import MlopsNbError, StageInputError, TrackingError
from mlops_nb.jsonvalues import jsonable
from mlops_nb.tracking import Run, TrackingStore
from mlops_nb.yamlio import load_yaml

MANIFEST = "stage.json"
RESERVED_RUN_FIELDS = frozenset(
    [
        "schema",
        "id",
        "pipeline",
        "status",
        "started_at",
        "finished_at",
        "seconds",
        "until",
        "overrides",
        "params",
        "stages",
        "metrics",
        "notes",
        "data_versions",
        "git",
        "environment",
        "run_dir",
        "project",
        "error",
        "pid",
        "pid_started",
        "host",
        "trigger",
        "resumed_from",
        "partial",
        "dev",
    ]
)
"""Keys of run.json that a stage's outcome may not overwrite."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class Stage:
    """A stage's view of its run: where to write, what upstream stages produced."""

    def __init__(
        self, name: str, stage_dir: str | Path | None = None, *, settings: Settings | None = None
    ) -> None:
        self.settings = settings or load_settings()
        if stage_dir is None:
            self.dir = self.settings.dev_dir / name
            _reset(self.dir)
        else:  # a run's folder, or the development folder filled by `mlops-nb run --dev`
            self.dir = Path(stage_dir).resolve()
            self.dir.mkdir(parents=True, exist_ok=True)
        self.is_dev = stage_dir is None or self.dir.parent == self.settings.dev_dir.resolve()
        self.name = _stage_name(self.dir) if not self.is_dev else name
        self.run_dir = self.dir.parent
        self._tracking: TrackingStore | None = None
        self._manifest: dict[str, Any] = {
            "stage": self.name,
            "artifacts": {},
            "metrics": {},
            "data_versions": {},
            "notes": {},
            "outcome": {},
        }
        self._flush()

    def __repr__(self) -> str:
        mode = "development" if self.is_dev else "run"
        return f"Stage({self.name!r}, {mode} folder {self.dir})"

    @property
    def run_id(self) -> str:
        return "dev" if self.is_dev else self.run_dir.name

    @property
    def root(self) -> Path:
        """The project root (data paths in parameters are relative to it)."""
        return self.settings.root

    def path(self, filename: str) -> Path:
        """A path inside this stage's folder for files a library writes itself."""
        _check_name(filename)
        return self.dir / filename

    def save(self, name: str, obj: Any) -> Path:
        """Save ``obj`` as artifact ``name`` (format chosen by type) and record its hash."""
        _check_name(name)
        kind, filename = artifacts.kind_of(name, obj)
        target = self.dir / filename
        artifacts.write(kind, obj, target)
        key = name if kind == "text" else Path(name).stem
        self._manifest["artifacts"][key] = {
            "file": filename,
            "kind": kind,
            "sha256": artifacts.sha256(target),
            "bytes": target.stat().st_size,
        }
        self._flush()
        return target

    def input(self, stage: str, artifact: str) -> Any:
        """Load ``artifact`` saved by the upstream ``stage`` of this run."""
        kind, path = self._locate(stage, artifact)
        return artifacts.read(kind, path)

    def input_path(self, stage: str, artifact: str) -> Path:
        """The file of ``artifact`` saved by the upstream ``stage`` of this run."""
        return self._locate(stage, artifact)[1]

    def upstream(self, stage: str) -> dict[str, Any]:
        """The manifest (artifacts, metrics, notes, data versions) of an upstream stage."""
        manifest: dict[str, Any] = json.loads((self._upstream_dir(stage) / MANIFEST).read_text())
        return manifest

    def log_metrics(self, metrics: dict[str, Any]) -> None:
        """Record headline metrics of this stage: numbers.

        A metric is an int or a float (numpy scalars too; NaN for one that could
        not be computed). A boolean is a 0/1 flag and is kept as ``true``/``false``
        (``stratified``, ``promoted``). Text (a task, a model name, a decision)
        is a fact, not a metric: record it with :meth:`note`.

        Raises:
            TrackingError: a value is not a number; nothing is recorded.
        """
        clean = {str(k): jsonable(v) for k, v in metrics.items()}
        for key, value in clean.items():
            if not isinstance(value, int | float):  # bool is an int
                raise TrackingError(
                    f"metric {key!r} of stage '{self.name}' is {value!r}, not a number: metrics "
                    f"are numbers (int, float, bool); record text with stage.note({key!r}, ...)",
                    stage=self.name,
                    key=key,
                )
        self._manifest["metrics"].update(clean)
        self._flush()

    def log_data_version(self, name: str, version: str) -> None:
        """Record the content hash of a data set this stage read or produced."""
        self._manifest["data_versions"][name] = version
        self._flush()

    def note(self, key: str, value: Any) -> None:
        """Record a fact of this stage: text such as the task, the contract, the model name.

        Notes sit beside the metrics in ``stage.json`` and in the stage's entry
        of ``run.json``; a later stage reads them with ``upstream(stage)["notes"]``.
        """
        self._manifest["notes"][key] = jsonable(value)
        self._flush()

    def set_outcome(self, key: str, value: Any) -> None:
        """Publish a result of the whole run, e.g. the monitor's ``decision``.

        The runner copies it to the top level of ``run.json``, so
        ``mlops-nb runs show RUN --json`` and the run report carry it.
        """
        if key in RESERVED_RUN_FIELDS or not _NAME.match(key):
            raise MlopsNbError(
                f"{key!r} cannot be a run outcome: it is a field of run.json already or not a "
                f"plain name; choose another key (letters, digits, '_').",
                key=key,
            )
        self._manifest["outcome"][key] = jsonable(value)
        self._flush()

    @property
    def tracking(self) -> TrackingStore:
        """The project's tracking store (opened on first use)."""
        if self._tracking is None:
            self._tracking = TrackingStore.from_settings(self.settings)
        return self._tracking

    def track(self, name: str, *, tags: dict[str, Any] | None = None) -> Run:
        """Start a tracked run tied to this pipeline run and stage; use it with ``with``."""
        return self.tracking.start_run(name, pipeline_run=self.run_id, stage=self.name, tags=tags)

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self._manifest["metrics"])

    def _locate(self, stage: str, artifact: str) -> tuple[str, Path]:
        manifest = self.upstream(stage)
        entry = manifest["artifacts"].get(artifact)
        if entry is None:
            saved = ", ".join(manifest["artifacts"]) or "nothing"
            raise StageInputError(
                f"stage '{stage}' saved no artifact '{artifact}' (it saved: {saved})",
                stage=stage,
                artifact=artifact,
            )
        return entry["kind"], self._upstream_dir(stage) / entry["file"]

    def _upstream_dir(self, stage: str) -> Path:
        folder = self._finished(stage)
        if folder is None:
            raise self._missing_upstream(stage)
        return folder

    def _finished(self, stage: str) -> Path | None:
        """The folder of ``stage`` in this run if it finished, else None."""
        candidates = [self.run_dir / stage, *sorted(self.run_dir.glob(f"[0-9][0-9]_{stage}"))]
        return next((f for f in candidates if (f / MANIFEST).is_file()), None)

    def _missing_upstream(self, stage: str) -> StageInputError:
        """The error for an upstream ``stage`` without output, saying how to make it."""
        pipeline, order, needs = _pipeline_of(self.settings, self.name)
        wanted = ancestors(self.name, needs) - {self.name}
        if not self.is_dev:
            why = (
                f"the run has no finished '{stage}' stage"
                if stage in wanted or pipeline is None
                else f"'{stage}' is not among the stages '{self.name}' needs in "
                f"{self.settings.pipeline_file.name}: add it to its `needs`"
            )
            return StageInputError(
                f"stage '{self.name}' needs the output of stage '{stage}', which has not run in "
                f"{self.run_dir}: {why}",
                stage=stage,
                missing=[stage],
            )
        missing = [s for s in order if (s in wanted or s == stage) and self._finished(s) is None]
        if pipeline is None or stage not in missing:  # a stage pipeline.yaml does not hold
            return StageInputError(
                f"stage '{self.name}' needs the output of stage '{stage}', which has not run in "
                f"the development folder {self.run_dir}: run the '{stage}' template first "
                f"(Run All), then this one",
                stage=stage,
                missing=[stage],
            )
        command = f"mlops-nb run {pipeline} --until {_until(missing, needs, self.name)} --dev"
        return StageInputError(
            _missing_in_dev(self.name, missing, self.run_dir, command),
            stage=stage,
            missing=missing,
            command=command,
        )

    def _flush(self) -> None:
        artifacts.write_json(self.dir / MANIFEST, self._manifest)


def _pipeline_of(
    settings: Settings, stage: str
) -> tuple[str | None, list[str], dict[str, list[str]]]:
    """The first pipeline of pipeline.yaml holding ``stage``: its name, run order and needs.

    Read directly (not through :mod:`mlops_nb.pipeline.spec`, which sits above this
    module): only the stage names and their ``needs`` are used, for a message.
    """
    try:
        raw = load_yaml(settings.pipeline_file.read_text()) or {}
        pipelines = raw.get("pipelines") or {}
        for name, body in pipelines.items():
            stages = body.get("stages") or {}
            if stage in stages:
                needs = {str(s): _names((spec or {}).get("needs")) for s, spec in stages.items()}
                return str(name), run_order(needs), needs
    except (OSError, yaml.YAMLError, AttributeError, TypeError):
        pass  # a broken pipeline.yaml is reported when a run starts
    return None, [], {}


def _names(needs: Any) -> list[str]:
    if needs is None:
        return []
    return [str(needs)] if isinstance(needs, str) else [str(n) for n in needs]


def _until(missing: list[str], needs: dict[str, list[str]], asking: str) -> str:
    """The stage whose ``--until`` makes every missing stage: the last that covers them all.

    When none does (stages on parallel branches), the asking stage itself, which
    then runs too.
    """
    covering = [s for s in missing if set(missing) <= ancestors(s, needs)]
    return covering[-1] if covering else asking


def _missing_in_dev(asking: str, missing: list[str], folder: Path, command: str) -> str:
    quoted = ", ".join(f"'{name}'" for name in missing)
    if len(missing) == 1:
        return (
            f"stage '{asking}' needs the output of stage {quoted}, which has not run in the "
            f"development folder {folder}.\nMake it with:  {command}\n"
            f"then run this notebook again (or first Run All on the {quoted} template)."
        )
    return (
        f"stage '{asking}' needs the output of stages {quoted}, which have not run in the "
        f"development folder {folder}.\nMake them all with:  {command}\n"
        f"then run this notebook again (or first Run All on their templates, in that order)."
    )


def _stage_name(folder: Path) -> str:
    return re.sub(r"^\d+_", "", folder.name)


def _check_name(name: str) -> None:
    if not _NAME.match(name) or ".." in name:
        raise MlopsNbError(
            f"artifact name {name!r} is not allowed: use letters, digits, '_', '-', '.' "
            f"(no folders)",
            artifact=name,
        )


def _reset(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
