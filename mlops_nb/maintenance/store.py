"""``mlops-nb store info`` and ``mlops-nb store migrate``: what a store is, and moving it.

:func:`store_info` says which store and artifact location a project uses, their
schema versions and whether they answer. :func:`migrate_store` copies a
project's store (the SQLite file by default) and its outputs folder into
another store (PostgreSQL) and artifact location (object storage): every table
row, every run folder, registry package, snapshot and inference log; then it
verifies that every source row is in the target and every published file is
there with its SHA-256. It can be run again safely: rows already in the target
are kept as they are (never overwritten), files already published are not sent
again, so an interrupted migration is finished by running it once more.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlops_nb.config import Settings
from mlops_nb.errors import StoreError
from mlops_nb.store import Backend, artifact_location, backend_at, open_backend
from mlops_nb.store.base import Connection, Migration
from mlops_nb.store.files import ArtifactLocation

__all__ = ["COMPONENTS", "MigrationReport", "component_steps", "migrate_store", "store_info"]


@dataclass(frozen=True)
class Table:
    """A table to copy: its columns and the columns that identify a row."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    order: str


TABLES = (
    Table(
        "tracking_runs",
        (
            "run_id",
            "name",
            "status",
            "start_time",
            "end_time",
            "pipeline_run",
            "stage",
            "parent",
            "host",
            "pid",
            "pid_started",
        ),
        ("run_id",),
        "start_time, run_id",
    ),
    Table(
        "tracking_params",
        ("run_id", "key", "value_num", "value_text", "json"),
        ("run_id", "key"),
        "run_id, key",
    ),
    Table(
        "tracking_latest_metrics",
        ("run_id", "key", "value", "step", "timestamp"),
        ("run_id", "key"),
        "run_id, key",
    ),
    Table("tracking_tags", ("run_id", "key", "value"), ("run_id", "key"), "run_id, key"),
    Table(
        "tracking_artifacts",
        ("run_id", "path", "sha256", "bytes", "logged_at"),
        ("run_id", "path"),
        "run_id, path",
    ),
    Table(
        "registry_versions",
        (
            "name",
            "version",
            "created_at",
            "status",
            "task",
            "target",
            "metrics",
            "data_version",
            "pipeline_run",
            "training_run",
            "path",
            "sha256",
            "retired_at",
            "retired_by",
            "retired_reason",
            "files",
        ),
        ("name", "version"),
        "name, version",
    ),
    Table(
        "registry_aliases",
        ("name", "alias", "version", "updated_at"),
        ("name", "alias"),
        "name, alias",
    ),
    Table(
        "registry_alias_history",
        ("name", "alias", "from_version", "to_version", "actor", "reason", "run", "at"),
        ("name", "alias", "at"),
        "id",
    ),
    Table("cache_entries", ("fingerprint", "run", "dir", "stored_at"), ("fingerprint",), "1"),
)
"""Keyed tables, in an order that satisfies their foreign keys."""


def component_steps() -> dict[str, Sequence[Migration]]:
    """Each store component and its schema steps (their count is this mlops-nb's version)."""
    from mlops_nb.pipeline.cache import CACHE_STEPS
    from mlops_nb.registry import schema as registry_schema
    from mlops_nb.serving import inference_log
    from mlops_nb.store.runs import COMPONENT as RUNS
    from mlops_nb.store.runs import STEPS as RUN_STEPS
    from mlops_nb.tracking import schema

    return {
        schema.COMPONENT: schema.STEPS,
        registry_schema.COMPONENT: registry_schema.STEPS,
        "cache": CACHE_STEPS,
        RUNS: RUN_STEPS,
        inference_log.COMPONENT: inference_log.STEPS,
    }


COMPONENTS = ("tracking", "registry", "cache", "runs", "inference")


# -- info ----------------------------------------------------------------------------------------


def store_info(settings: Settings) -> dict[str, Any]:
    """Which store and artifact location the project uses, their versions and reachability."""
    backend = open_backend(settings)
    location = artifact_location(settings)
    info: dict[str, Any] = {
        "store": {"url": backend.display_url, "kind": backend.dialect.name},
        "artifacts": {
            "url": location.display_url,
            "publishes": location.publishes,
        },
    }
    if backend.dialect.name == "sqlite" and not backend.exists():  # never create it here
        info["store"].update(reachable=True, schema=dict.fromkeys(COMPONENTS, 0))
        info["store"]["latest_schema"] = {name: len(s) for name, s in component_steps().items()}
        info["artifacts"].update(_reachable(location))
        return info
    try:
        conn = backend.connect()
    except StoreError as exc:
        info["store"].update(reachable=False, error=exc.message)
    else:
        try:
            with backend.translated("read the schema versions of"):
                info["store"]["reachable"] = True
                info["store"]["schema"] = {
                    name: backend.schema_version(conn, name) for name in COMPONENTS
                }
                info["store"]["latest_schema"] = {
                    name: len(steps) for name, steps in component_steps().items()
                }
        except StoreError as exc:
            info["store"].update(reachable=False, error=exc.message)
        finally:
            conn.close()
    info["artifacts"].update(_reachable(location))
    return info


def _reachable(location: ArtifactLocation) -> dict[str, Any]:
    if not location.publishes:
        return {"reachable": location.outputs.parent.exists()}
    try:
        location.has("0" * 64)
    except StoreError as exc:
        return {"reachable": False, "error": exc.message}
    return {"reachable": True}


# -- migrate -------------------------------------------------------------------------------------


@dataclass
class MigrationReport:
    """What :func:`migrate_store` copied and verified.

    Attributes:
        rows: Table → (rows in the source, rows copied now).
        files: Published files (run folders, packages, snapshots) checked.
        runs: Run folders indexed in the target.
        problems: What the verification found missing (empty when all is there).
    """

    source: str
    target: str
    artifacts: str
    rows: dict[str, tuple[int, int]] = field(default_factory=dict)
    files: int = 0
    runs: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "artifacts": self.artifacts,
            "rows": {table: {"source": a, "copied": b} for table, (a, b) in self.rows.items()},
            "files": self.files,
            "runs": self.runs,
            "problems": list(self.problems),
            "ok": self.ok,
        }


def migrate_store(
    settings: Settings,
    to: str,
    *,
    artifacts: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> MigrationReport:
    """Copy the project's store and outputs into the store ``to`` (and ``artifacts``).

    Args:
        settings: The project (its current store and outputs folder are the source).
        to: The target store URL (``postgresql://...`` or ``sqlite:///...``).
        artifacts: The target artifact location; None keeps files where they are
            (only the rows move).
        progress: Called with a line of text as each part is done.

    Raises:
        StoreError: a store or location cannot be reached or written.
    """
    say = progress or (lambda text: None)
    source, target = open_backend(settings), backend_at(to)
    if source.display_url == target.display_url:
        raise StoreError(
            f"the target store {target.display_url} is the project's own store; name another "
            f"one with --to.",
            store=target.display_url,
        )
    location = ArtifactLocation(artifacts, settings.outputs) if artifacts else None
    report = MigrationReport(
        source.display_url,
        target.display_url,
        location.display_url if location else artifact_location(settings).display_url,
    )
    src, dst = source.connect(), target.connect()
    try:
        for component, steps in component_steps().items():
            with source.translated("open"):
                source.migrate(src, component, steps)
            with target.translated("create the tables of"):
                target.migrate(dst, component, steps)
        manifests = {}
        if location is not None and location.publishes:
            manifests = _publish_packages(settings, source, src, location, say)
        for table in TABLES:
            report.rows[table.name] = _copy_table(source, src, target, dst, table)
            say(f"{table.name}: {report.rows[table.name][1]} of {report.rows[table.name][0]}")
        _record_manifests(target, dst, manifests)
        report.rows["tracking_metrics"] = _copy_metrics(source, src, target, dst)
        report.rows["inference_log"] = _copy_inference(settings, target, dst)
        report.runs = _index_runs(settings, to, artifacts)
        say(f"runs indexed: {report.runs}")
        report.problems = _verify(source, src, target, dst)
        report.files = _verify_files(target, dst, location, report.problems)
    finally:
        src.close()
        dst.close()
    return report


def _select(table: Table, columns: Sequence[str]) -> str:
    return f"SELECT {', '.join(columns)} FROM {table.name} ORDER BY {table.order}"


def _copy_table(
    source: Backend, src: Connection, target: Backend, dst: Connection, table: Table
) -> tuple[int, int]:
    with source.translated(f"read {table.name} from"):
        rows = src.rows(_select(table, table.columns))
    with target.translated(f"read {table.name} from"):
        present = {tuple(row) for row in dst.rows(_select(table, table.key))}
    positions = [table.columns.index(column) for column in table.key]
    missing = [row for row in rows if tuple(row[i] for i in positions) not in present]
    if missing:
        placeholders = ", ".join("?" for _ in table.columns)
        with target.translated(f"write {table.name} to"), target.transaction(dst):
            dst.executemany(
                f"INSERT INTO {table.name} ({', '.join(table.columns)}) VALUES ({placeholders})",
                missing,
            )
    return len(rows), len(missing)


def _copy_metrics(
    source: Backend, src: Connection, target: Backend, dst: Connection
) -> tuple[int, int]:
    """Metric histories have no key: a run's history is copied whole, once."""
    columns = "run_id, key, value, step, timestamp"
    with source.translated("read tracking_metrics from"):
        rows = src.rows(
            f"SELECT {columns} FROM tracking_metrics ORDER BY run_id, {source.dialect.insert_order}"
        )
    with target.translated("read tracking_metrics from"):
        done = {row[0] for row in dst.rows("SELECT DISTINCT run_id FROM tracking_metrics")}
    missing = [row for row in rows if row[0] not in done]
    if missing:
        with target.translated("write tracking_metrics to"), target.transaction(dst):
            dst.executemany(
                f"INSERT INTO tracking_metrics ({columns}) VALUES (?, ?, ?, ?, ?)", missing
            )
    return len(rows), len(missing)


def _copy_inference(settings: Settings, target: Backend, dst: Connection) -> tuple[int, int]:
    """Each model's SQLite inference log into the target's table (a model once)."""
    from mlops_nb.store.sqlite import SQLiteBackend

    folder = settings.outputs / "inference"
    total = copied = 0
    columns = "at, model, version, request_id, rows, inputs, outputs"
    for path in sorted(folder.glob("*.db")) if folder.is_dir() else []:
        log = SQLiteBackend(path)
        conn = log.connect()
        try:
            with log.translated("read the inference log"):
                rows = conn.rows(f"SELECT {columns} FROM inference_log ORDER BY at, id")
        finally:
            conn.close()
        total += len(rows)
        models = {row[1] for row in rows}
        with target.translated("read inference_log from"):
            present = {
                model
                for model in models
                if dst.rows("SELECT 1 FROM inference_log WHERE model = ? LIMIT 1", (model,))
            }
        missing = [row for row in rows if row[1] not in present]
        if missing and target.display_url != log.display_url:
            with target.translated("write inference_log to"), target.transaction(dst):
                dst.executemany(
                    f"INSERT INTO inference_log ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    missing,
                )
            copied += len(missing)
    return total, copied


def _publish_packages(
    settings: Settings,
    source: Backend,
    src: Connection,
    location: ArtifactLocation,
    say: Callable[[str], None],
) -> dict[tuple[str, int], dict[str, str]]:
    """Publish each registry package (and snapshot): (name, version) → its manifest."""
    with source.translated("read the registry of"):
        rows = src.rows("SELECT name, version, path FROM registry_versions")
    manifests = {}
    for name, version, path in rows:
        folder = settings.registry_dir / path
        if folder.is_dir():
            manifests[(name, int(version))] = location.put_folder(folder)
    for snapshot in sorted(settings.snapshots_dir.glob("*.parquet")):
        location.put(snapshot)
    say(f"registry packages published: {len(manifests)}")
    return manifests


def _record_manifests(
    target: Backend, dst: Connection, manifests: dict[tuple[str, int], dict[str, str]]
) -> None:
    """Give the target's registry rows the manifests of their published packages."""
    if not manifests:
        return
    with target.translated("record published packages in"), target.transaction(dst):
        dst.executemany(
            "UPDATE registry_versions SET files = ? WHERE name = ? AND version = ? "
            "AND files IS NULL",
            [
                (json.dumps(manifest, sort_keys=True), name, version)
                for (name, version), manifest in manifests.items()
            ],
        )


def _index_runs(settings: Settings, to: str, artifacts: str | None) -> int:
    """Index every archived run folder in the target store, its files published."""
    from mlops_nb.pipeline.archive import list_runs
    from mlops_nb.store.runs import RunIndex

    target = Settings(settings.root, settings.outputs, store=to, artifacts=artifacts)
    count = 0
    with RunIndex(target) as index:
        for record in list_runs(settings.runs_dir):
            run_dir = settings.runs_dir / str(record["id"])
            folders = [str(stage.get("dir")) for stage in record.get("stages", [])]
            index.save(record, run_dir, [f for f in folders if (run_dir / f).is_dir()])
            count += 1
    return count


def _verify(source: Backend, src: Connection, target: Backend, dst: Connection) -> list[str]:
    problems = []
    for table in TABLES:
        with source.translated("read"), target.translated("read"):
            keys = {tuple(row) for row in src.rows(_select(table, table.key))}
            present = {tuple(row) for row in dst.rows(_select(table, table.key))}
        lost = keys - present
        if lost:
            problems.append(f"{table.name}: {len(lost)} source row(s) are not in the target")
    with source.translated("read"), target.translated("read"):
        counted = dict(src.rows("SELECT run_id, count(*) FROM tracking_metrics GROUP BY run_id"))
        there = dict(dst.rows("SELECT run_id, count(*) FROM tracking_metrics GROUP BY run_id"))
    short = [run for run, count in counted.items() if there.get(run, 0) < count]
    if short:
        problems.append(f"tracking_metrics: {len(short)} run(s) lack metric history rows")
    return problems


def _verify_files(
    target: Backend, dst: Connection, location: ArtifactLocation | None, problems: list[str]
) -> int:
    if location is None or not location.publishes:
        return 0
    with target.translated("read the manifests of"):
        manifests = [text for (text,) in dst.rows("SELECT files FROM pipeline_runs")]
        manifests += [text for (text,) in dst.rows("SELECT files FROM registry_versions") if text]
    digests = {sha for text in manifests for sha in json.loads(text).values()}
    missing = [sha for sha in sorted(digests) if not location.has(sha)]
    if missing:
        problems.append(f"{len(missing)} published file(s) are missing from {location.display_url}")
    return len(digests)
