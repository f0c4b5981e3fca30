"""Data access for mlops-nb: sources, the churn sample, snapshots, profiles, tasks.

* :func:`parse_source`, :func:`check_source`, :func:`load_source` and
  :func:`require_target` read the ``data_source`` parameter (CSV, TSV,
  Parquet, SQLAlchemy URLs, ``sample:churn``);
* :func:`generate_churn` builds the deterministic churn sample;
* :func:`snapshot` stores a frame as a content-addressed Parquet file;
  :func:`snapshot_source` snapshots a source (a large CSV a chunk at a time)
  and :func:`read_snapshot` reads one back;
* :func:`profile` and :func:`summary` describe a frame;
* :func:`infer_task` picks binary, multiclass or regression from the target.

Names are imported on first use (PEP 562): ``mlops_nb.data.preflight``, which
the runner uses before any kernel starts, does not pay for pandas through here.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from mlops_nb.exports import lazy_getattr

_EXPORTS = {
    "CHUNK_ROWS": "mlops_nb.data.ingest",
    "read_snapshot": "mlops_nb.data.ingest",
    "snapshot_source": "mlops_nb.data.ingest",
    "profile": "mlops_nb.data.profile",
    "summary": "mlops_nb.data.profile",
    "CHURN_COLUMNS": "mlops_nb.data.sample",
    "SAMPLE_NAMES": "mlops_nb.data.sample",
    "generate_churn": "mlops_nb.data.sample",
    "generate_sample": "mlops_nb.data.sample",
    "Snapshot": "mlops_nb.data.snapshot",
    "content_hash": "mlops_nb.data.snapshot",
    "file_sha256": "mlops_nb.data.snapshot",
    "snapshot": "mlops_nb.data.snapshot",
    "SourceSpec": "mlops_nb.data.sources",
    "check_source": "mlops_nb.data.sources",
    "load_source": "mlops_nb.data.sources",
    "parse_source": "mlops_nb.data.sources",
    "redact": "mlops_nb.data.sources",
    "require_target": "mlops_nb.data.sources",
    "TASK_CHOICES": "mlops_nb.data.task",
    "TASKS": "mlops_nb.data.task",
    "infer_task": "mlops_nb.data.task",
}

__all__ = [
    "CHUNK_ROWS",
    "CHURN_COLUMNS",
    "SAMPLE_NAMES",
    "TASKS",
    "TASK_CHOICES",
    "Snapshot",
    "SourceSpec",
    "check_source",
    "content_hash",
    "file_sha256",
    "generate_churn",
    "generate_sample",
    "infer_task",
    "load_source",
    "parse_source",
    "profile",
    "read_snapshot",
    "redact",
    "require_target",
    "snapshot",
    "snapshot_source",
    "summary",
]


__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


class _Package(types.ModuleType):
    """This package, keeping ``snapshot`` and ``profile`` the functions of those names.

    Importing the submodule ``mlops_nb.data.snapshot`` sets the package's attribute
    ``snapshot`` to that module; done lazily (after this file ran), it would hide
    the function. The submodules stay importable as usual (``sys.modules``).
    """

    def __setattr__(self, name: str, value: Any) -> None:
        submodule = isinstance(value, types.ModuleType) and value.__name__ == f"{__name__}.{name}"
        if not (submodule and name in _EXPORTS):
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

if TYPE_CHECKING:
    from mlops_nb.data.ingest import CHUNK_ROWS, read_snapshot, snapshot_source
    from mlops_nb.data.profile import profile, summary
    from mlops_nb.data.sample import CHURN_COLUMNS, SAMPLE_NAMES, generate_churn, generate_sample
    from mlops_nb.data.snapshot import Snapshot, content_hash, file_sha256, snapshot
    from mlops_nb.data.sources import (
        SourceSpec,
        check_source,
        load_source,
        parse_source,
        redact,
        require_target,
    )
    from mlops_nb.data.task import TASK_CHOICES, TASKS, infer_task
