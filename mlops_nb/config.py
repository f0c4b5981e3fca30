"""Where things live: the project root, its outputs and the stores.

One typed, immutable object, :class:`Settings`, resolved once from the
environment and the file system and passed explicitly to whatever needs it.

Resolution of the project root, first match wins:

1. the ``MLOPS_NB_PROJECT`` environment variable;
2. the nearest folder, from the current directory upwards, that holds a
   ``pipeline.yaml`` (so a template opened in JupyterLab from ``templates/``
   finds its project).

``MLOPS_NB_OUTPUTS`` moves the outputs folder (runs, development runs, stores)
elsewhere, which tests use to keep each case in its own temporary folder.

``MLOPS_NB_STORE`` (or ``store:`` in pipeline.yaml) names the store database:
unset, the embedded SQLite file ``outputs/mlops.db``; ``postgresql://...`` for a
team store (see :mod:`mlops_nb.store`). ``MLOPS_NB_ARTIFACTS`` (or ``artifacts:``)
names where runs, packages and snapshots are published: unset, ``outputs/``
itself; a shared folder or ``s3://bucket/prefix`` for a team.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from mlops_nb.errors import ConfigError
from mlops_nb.yamlio import load_yaml

PIPELINE_FILE = "pipeline.yaml"
PROJECT_ENV = "MLOPS_NB_PROJECT"
OUTPUTS_ENV = "MLOPS_NB_OUTPUTS"
STORE_ENV = "MLOPS_NB_STORE"
ARTIFACTS_ENV = "MLOPS_NB_ARTIFACTS"
EXECUTOR_ENV = "MLOPS_NB_EXECUTOR"
SCHEDULER_ENV = "MLOPS_NB_DASK_SCHEDULER"


@dataclass(frozen=True)
class Settings:
    """Paths of one mlops-nb project, and where its store is.

    Attributes:
        root: The project folder (holding pipeline.yaml).
        outputs: Runs, development runs and the embedded stores.
        store: The store database URL; None = the SQLite file ``database``.
        artifacts: The artifact location (a folder or an fsspec URL such as
            ``s3://bucket/prefix``); None = ``outputs`` itself.
        executor: ``local`` (None) or ``dask``: what executes the stages.
        scheduler: The Dask scheduler's address, for the ``dask`` executor.
    """

    root: Path
    outputs: Path
    store: str | None = None
    artifacts: str | None = None
    executor: str | None = None
    scheduler: str | None = None

    @property
    def pipeline_file(self) -> Path:
        return self.root / PIPELINE_FILE

    @property
    def runs_dir(self) -> Path:
        return self.outputs / "runs"

    @property
    def dev_dir(self) -> Path:
        """The development run folder used by templates run by hand."""
        return self.outputs / "dev"

    @property
    def database(self) -> Path:
        return self.outputs / "mlops.db"

    @property
    def registry_dir(self) -> Path:
        return self.outputs / "registry"

    @property
    def snapshots_dir(self) -> Path:
        """Content-addressed data snapshots, shared by all runs."""
        return self.outputs / "snapshots"

    def contracts(self) -> dict[str, str]:
        """The ``contracts:`` mapping of pipeline.yaml (data source → contract file).

        Raises:
            ConfigError: pipeline.yaml cannot be read, or ``contracts:`` is not a mapping.
        """
        mapping = _project_file(self.pipeline_file).get("contracts") or {}
        if not isinstance(mapping, dict):
            raise ConfigError(
                f"{self.pipeline_file}: 'contracts' must map data sources to files",
                path=self.pipeline_file,
            )
        return {str(key): str(value) for key, value in mapping.items()}


MAX_PROJECT_FILE_BYTES = 1024 * 1024
"""A larger pipeline.yaml is not read here (the spec reports it, with its size)."""


_PARSED: dict[Path, tuple[str, dict[str, object]]] = {}
"""pipeline.yaml files parsed by this process, by path: the text and its mapping."""


def _project_file(path: Path) -> dict[str, object]:
    """pipeline.yaml as a mapping (empty when it holds none); a copy the caller may keep.

    Parsed once per text of the file (read each time, which is cheap), since
    loading the settings asks it for several keys.
    """
    try:
        status = path.stat()
        if status.st_size > MAX_PROJECT_FILE_BYTES:
            raise ConfigError(
                f"{path} is larger than {MAX_PROJECT_FILE_BYTES:,} bytes; is it the right file?",
                path=path,
            )
        text = path.read_text()
        known = _PARSED.get(path)
        if known is None or known[0] != text:
            raw = load_yaml(text) or {}
            known = _PARSED[path] = (text, raw if isinstance(raw, dict) else {})
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", path=path) from exc
    return dict(known[1])


def project_mapping(path: Path) -> dict[str, object]:
    """The pipeline file at ``path`` as a mapping (a copy), for sections other modules own.

    Raises:
        ConfigError: the file cannot be read or parsed.
    """
    return _project_file(path)


def _setting(project: Path, env: str, key: str) -> str | None:
    """``$env``, else ``key:`` of pipeline.yaml, else None."""
    value = os.environ.get(env, "").strip()
    if not value and (project / PIPELINE_FILE).is_file():
        try:
            value = str(_project_file(project / PIPELINE_FILE).get(key) or "").strip()
        except ConfigError:  # a malformed pipeline.yaml is reported, with its line, by the spec
            value = ""
    return value or None


def find_root(start: Path | None = None) -> Path:
    """Return the project root: ``$MLOPS_NB_PROJECT`` or the nearest ``pipeline.yaml``."""
    env = os.environ.get(PROJECT_ENV)
    if env:
        root = Path(env).expanduser().resolve()
        if not (root / PIPELINE_FILE).is_file():
            raise ConfigError(
                f"{PROJECT_ENV}={env} has no {PIPELINE_FILE}; point it at a project folder "
                f"or unset it.",
                path=root,
            )
        return root
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PIPELINE_FILE).is_file():
            return folder
    raise ConfigError(
        f"no {PIPELINE_FILE} found in {here} or any folder above it; run from inside an "
        f"mlops-nb project (create one with `mlops-nb new PATH`) or set {PROJECT_ENV}.",
        path=here,
    )


def load_settings(root: Path | None = None) -> Settings:
    """Resolve the settings of the project at ``root`` (found when omitted)."""
    project = root.resolve() if root is not None else find_root()
    env_outputs = os.environ.get(OUTPUTS_ENV)
    outputs = Path(env_outputs).expanduser().resolve() if env_outputs else project / "outputs"
    artifacts = _setting(project, ARTIFACTS_ENV, "artifacts")
    if artifacts and "://" not in artifacts:  # a folder: relative to the project
        artifacts = str((project / Path(artifacts).expanduser()).resolve())
    return Settings(
        root=project,
        outputs=outputs,
        store=_setting(project, STORE_ENV, "store"),
        artifacts=artifacts,
        executor=_setting(project, EXECUTOR_ENV, "executor"),
        scheduler=_setting(project, SCHEDULER_ENV, "scheduler"),
    )
