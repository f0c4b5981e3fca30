"""Retention that keeps evidence: ``mlops-nb runs gc --older-than 30d [--dry-run]``.

Old runs take disk (executed notebooks, data, bundles) and their snapshots
more; a compliance review needs some of them forever. :func:`plan_gc` sorts
every run of the project into *remove* or *keep*, with the reasons a run is
kept:

* it is newer than the cutoff, or not finished (running runs are never touched);
* an active (non-retired) registered version was trained or registered by it;
* an alias-history row or a proposal/approval names it as its run.

Snapshots go when no kept run and no active version uses them. :func:`collect`
then removes the run folders, their run-index rows and cache entries, and the
snapshots — each a separate step, so an interrupted collection leaves only
things a next ``gc`` (or ``doctor``) finishes. Tracking rows and registry rows
are never deleted: they are the audit trail.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlops_nb.config import Settings
from mlops_nb.errors import ConfigError
from mlops_nb.pipeline import index
from mlops_nb.pipeline.cache import CacheIndex
from mlops_nb.registry import Registry
from mlops_nb.store import open_backend
from mlops_nb.store.runs import RunIndex

__all__ = ["GcPlan", "collect", "parse_age", "plan_gc"]

_AGE = re.compile(r"^\s*(\d+)\s*([hdw])\s*$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
_FINISHED = {"succeeded", "failed", "interrupted"}


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h`` or ``2w`` as a timedelta.

    Raises:
        ConfigError: anything else, with the forms accepted.
    """
    match = _AGE.match(str(text))
    if not match or int(match.group(1)) <= 0:
        raise ConfigError(
            f"--older-than {text!r} is not an age; write a positive number and a unit: "
            f"12h, 30d or 2w."
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass
class GcPlan:
    """What ``runs gc`` removes and keeps, and why.

    Attributes:
        cutoff: Runs that started before this are candidates.
        runs: One entry per run: ``id``, ``pipeline``, ``status``,
            ``started_at``, ``action`` (``remove``/``keep``), ``reasons``, ``bytes``.
        snapshots: One entry per snapshot: ``version``, ``action``, ``reasons``, ``bytes``.
        done: Whether :func:`collect` removed them (False: a dry run).
    """

    cutoff: datetime
    runs: list[dict[str, Any]] = field(default_factory=list)
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False

    @property
    def freed(self) -> int:
        """Bytes removed (or, for a dry run, that would be)."""
        gone = [*self.runs, *self.snapshots]
        return sum(int(entry["bytes"]) for entry in gone if entry["action"] == "remove")

    def to_dict(self) -> dict[str, Any]:
        """JSON values: cutoff, done, freed_bytes, runs and snapshots."""
        return {
            "cutoff": self.cutoff.isoformat(),
            "done": self.done,
            "freed_bytes": self.freed,
            "runs": self.runs,
            "snapshots": self.snapshots,
        }


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    if not path.is_dir():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _evidence(settings: Settings) -> tuple[dict[str, list[str]], set[str]]:
    """Run id → why the registry needs it; the data versions active versions use."""
    needed: dict[str, list[str]] = {}
    data: set[str] = set()
    if not open_backend(settings).exists():
        return needed, data
    with Registry.from_settings(settings) as registry:
        for name in registry.list_models()["name"]:
            for row in registry.versions(name).to_dict("records"):
                if row["status"] != "active":
                    continue
                for column in ("pipeline_run", "training_run"):
                    if row.get(column):
                        why = f"model {name} v{row['version']} (active) came from it"
                        needed.setdefault(str(row[column]), []).append(why)
                if row.get("data_version"):
                    data.add(str(row["data_version"]))
            for row in registry.audit(name).to_dict("records"):
                if row.get("run"):
                    why = f"{row['event']} of {name}@{row['alias']} in the audit history"
                    needed.setdefault(str(row["run"]), []).append(why)
    return {k: sorted(set(v)) for k, v in needed.items()}, data


def plan_gc(settings: Settings, older_than: timedelta, *, now: datetime | None = None) -> GcPlan:
    """Sort every run and snapshot into remove or keep; nothing is changed."""
    cutoff = (now or datetime.now(UTC)) - older_than
    plan = GcPlan(cutoff)
    needed, data = _evidence(settings)
    used: set[str] = set(data)
    for record in index.all_runs(settings):
        run_id = str(record["id"])
        reasons = list(needed.get(run_id, []))
        started = _time(record.get("started_at"))
        if record.get("status") not in _FINISHED:
            reasons.append(f"it is {record.get('status')}")
        if started is None or started >= cutoff:
            reasons.append("newer than the cutoff")
        folder = settings.runs_dir / run_id
        entry = {
            "id": run_id,
            "pipeline": record.get("pipeline"),
            "status": record.get("status"),
            "started_at": record.get("started_at"),
            "action": "keep" if reasons else "remove",
            "reasons": reasons,
            "bytes": _size(folder),
        }
        plan.runs.append(entry)
        if reasons:
            used.update(str(v) for v in (record.get("data_versions") or {}).values() if v)
    for path in sorted(settings.snapshots_dir.glob("data-*.parquet")):
        version = path.stem.removeprefix("data-")
        keep = version in used
        why = ["a kept run or an active version uses it"] if keep else []
        action = "keep" if keep else "remove"
        plan.snapshots.append(
            {"version": version, "action": action, "reasons": why, "bytes": _size(path)}
        )
    return plan


def collect(settings: Settings, plan: GcPlan) -> GcPlan:
    """Remove what ``plan`` marks ``remove``: run folders (index rows, cache entries), snapshots."""
    gone = [entry["id"] for entry in plan.runs if entry["action"] == "remove"]
    with contextlib.ExitStack() as stack:
        indexed = bool(gone) and open_backend(settings).exists()  # no store: no index, no cache
        runs = stack.enter_context(RunIndex(settings)) if indexed else None
        cache = CacheIndex(settings) if indexed else None
        for run_id in gone:
            if runs is not None and cache is not None:
                runs.forget(run_id)
                cache.forget_run(run_id)
            shutil.rmtree(settings.runs_dir / run_id, ignore_errors=True)
    for entry in plan.snapshots:
        if entry["action"] == "remove":
            (settings.snapshots_dir / f"data-{entry['version']}.parquet").unlink(missing_ok=True)
    plan.done = True
    return plan


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
