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

from mlops_nb import artifacts
from mlops_nb.config import Settings, load_settings
from mlops_nb.errors import MlopsNbError, StageInputError
from mlops_nb.tracking import Run, TrackingStore

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
            self.is_dev = True
            _reset(self.dir)
        else:
            self.dir = Path(stage_dir).resolve()
            self.is_dev = False
            self.dir.mkdir(parents=True, exist_ok=True)
        self.name = _stage_name(self.dir) if not self.is_dev else name
        self.run_dir = self.dir.parent
        self._tracking: TrackingStore | None = None
        self._manifest = {
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
        """The manifest (artifacts, metrics, data versions) of an upstream stage."""
        folder = self._upstream_dir(stage)
        return json.loads((folder / MANIFEST).read_text())

    def log_metrics(self, metrics: dict[str, Any]) -> None:
        """Record headline metrics of this stage (numbers or short text)."""
        clean = {str(k): artifacts.to_jsonable(v) for k, v in metrics.items()}
        self._manifest["metrics"].update(clean)
        self._flush()

    def log_data_version(self, name: str, version: str) -> None:
        """Record the content hash of a data set this stage read or produced."""
        self._manifest["data_versions"][name] = version
        self._flush()

    def note(self, key: str, value: Any) -> None:
        """Record a fact for the run report (e.g. the contract used)."""
        self._manifest["notes"][key] = artifacts.to_jsonable(value)
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
        self._manifest["outcome"][key] = artifacts.to_jsonable(value)
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
        candidates = [self.run_dir / stage, *sorted(self.run_dir.glob(f"[0-9][0-9]_{stage}"))]
        for folder in candidates:
            if (folder / MANIFEST).is_file():
                return folder
        hint = (
            f"run the '{stage}' template first (Run All), then this one"
            if self.is_dev
            else f"the run has no finished '{stage}' stage"
        )
        raise StageInputError(
            f"stage '{self.name}' needs the output of stage '{stage}', which has not run in "
            f"{self.run_dir}: {hint} (or `mlops-nb run --until {self.name}`)",
            stage=stage,
        )

    def _flush(self) -> None:
        artifacts.write_json(self.dir / MANIFEST, self._manifest)


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
