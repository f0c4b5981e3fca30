"""Each executed stage, recorded as a run of the tracking store.

The archive (run.json) is the primary record; the tracking store makes stages
searchable across runs (``metrics.validate.invalid_rows > 0``…). A tracking
database that cannot be written is logged and does not fail the pipeline run.
"""

from __future__ import annotations

import logging
import numbers
from pathlib import Path
from typing import Any

from mlops_nb.config import Settings
from mlops_nb.errors import MlopsNbError
from mlops_nb.tracking import TrackingStore

log = logging.getLogger(__name__)
_STATUS = {"succeeded": "finished", "failed": "failed", "interrupted": "interrupted"}


def track_stage(
    settings: Settings, record: dict[str, Any], entry: dict[str, Any], stage_dir: Path
) -> None:
    """Write one tracking run for a finished stage: params, numeric metrics, artifacts."""
    try:
        with TrackingStore.from_settings(settings) as store:
            _write(store, record, entry, stage_dir)
    except (MlopsNbError, OSError) as exc:
        log.warning("stage %s was not recorded in the tracking store: %s", entry["name"], exc)


def _write(
    store: TrackingStore, record: dict[str, Any], entry: dict[str, Any], stage_dir: Path
) -> None:
    tags = {"pipeline": record["pipeline"], "kind": "stage", "notebook": entry["notebook"]}
    run = store.start_run(entry["name"], pipeline_run=record["id"], stage=entry["name"], tags=tags)
    run.log_params({k: v for k, v in entry["params"].items() if v is not None})
    numeric = {
        k: float(v)
        for k, v in entry.get("metrics", {}).items()
        if isinstance(v, numbers.Real) and not isinstance(v, bool)
    }
    run.log_metrics(numeric)
    run.log_metric("seconds", float(entry["seconds"] or 0))
    flags = {k: v for k, v in entry.get("metrics", {}).items() if k not in numeric}
    run.set_tags({f"metric.{k}": v for k, v in flags.items()})  # booleans, as before
    run.set_tags({f"note.{k}": v for k, v in entry.get("notes", {}).items()})
    for artifact in entry.get("artifacts", {}).values():
        run.log_artifact(stage_dir / artifact["file"])
    run.end(_STATUS.get(entry["status"], "failed"))
