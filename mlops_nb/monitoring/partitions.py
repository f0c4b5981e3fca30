"""Monitoring a partitioned dataset: each partition scanned on its own, the scans merged.

The monitor stage's current data may be a Parquet dataset too large for one
process: a folder (``data/current/``, read recursively), a glob
(``data/current/*.parquet``) or an fsspec URL of either
(``s3://bucket/current/``). :func:`dataset_files` lists its partition files;
:func:`scan_partitions` runs :func:`scan_partition` on each -- read the file,
check its rows against the model's input contract, score the rows the contract
accepts, and reduce the input columns and the scores to a mergeable
:class:`~mlops_nb.monitoring.summary.CurrentSummary` -- and merges the scans:

* **on a Dask cluster** when the run uses the Dask executor (it sets
  ``MLOPS_NB_PARALLEL=dask`` and ``MLOPS_NB_DASK_SCHEDULER`` in the stage's
  kernel; ``parallel="dask"`` asks for it), the profile, contract and model
  scattered once to every worker and the partitions mapped over them;
* otherwise **one partition at a time** in this process (memory: one partition
  and the merged scan).

What is exact and what is not: the drift report (features and predictions),
the row, invalid-row and labelled-row counts and the contract failures are
merged exactly -- the same as one process given all the rows. Performance
metrics (ROC AUC, F1, RMSE ...) do not add up over partitions, so they, the
distribution plots and the rows a retraining run adds are computed on a
**uniform random sample** of at most ``sample_rows`` rows (bottom-k keys, so the
sample is the same whichever order the partitions finish in), and
:attr:`PartitionScan.sampled` says so. Partition files must each hold every
column (hive-style folder names are not read as columns).
"""

from __future__ import annotations

import glob as globbing
import os
import re
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_nb.clusters import INSTALL_HINT, connect, distributed_module
from mlops_nb.config import SCHEDULER_ENV
from mlops_nb.monitoring._checks import check_choice, check_types
from mlops_nb.monitoring.errors import MonitoringError
from mlops_nb.monitoring.loop import (
    INFERENCE_SOURCE,
    PREDICTION_COLUMN,
    CurrentData,
    prediction_scores,
)
from mlops_nb.monitoring.profile import ReferenceProfile
from mlops_nb.monitoring.summary import CurrentSummary, merge, summarize

__all__ = [
    "INSTALL_HINT",
    "PARALLEL",
    "PARALLEL_ENV",
    "PartitionPlan",
    "PartitionScan",
    "dataset_files",
    "scan_partition",
    "scan_partitions",
]

PARALLEL: tuple[str, ...] = ("auto", "local", "dask")
PARALLEL_ENV = "MLOPS_NB_PARALLEL"
"""Set to ``dask`` in a stage's kernel by the Dask executor."""
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")
MAX_FAILURE_EXAMPLES = 5
_GLOB = re.compile(r"[*?\[]")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_KEY = "_sample_key"
_VALID = "_valid"


# --- finding the partitions ---------------------------------------------------------------------


def dataset_files(spec: str, base_dir: Path | None = None) -> list[str] | None:
    """The Parquet files of a partitioned dataset, or None when ``spec`` is not one.

    A partitioned dataset is a folder (its ``.parquet``/``.pq`` files, recursively,
    names starting with ``_`` or ``.`` left out, as Spark and Dask write them), a
    glob, or an fsspec URL (``s3://``, ``gs://``, ``file://``, ``memory://`` ...)
    of a folder or glob. A single file, a SQL URL, ``sample:`` or ``inference``
    is not (None: read it with :func:`~mlops_nb.monitoring.load_current_data`).

    Args:
        spec: The current-data parameter.
        base_dir: What relative paths are relative to (the project root).

    Raises:
        MonitoringError: A folder or glob without Parquet files.
    """
    text = spec.strip()
    if _URL.match(text):
        return _remote_files(text)
    head = text.split("?", 1)[0].split(":", 1)[0].strip().lower()
    if head == INFERENCE_SOURCE or (":" in text.split("/", 1)[0] and not Path(text).drive):
        return None  # inference[:model][?since=], sample:...
    path = Path(text).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = Path(base_dir) / path
    if _GLOB.search(text):
        found = sorted(globbing.glob(str(path), recursive=True))
    elif path.is_dir():
        found = sorted(str(p) for p in path.rglob("*") if p.is_file())
    else:
        return None
    return _parquet_only(found, text)


def _remote_files(url: str) -> list[str] | None:
    try:
        import fsspec
    except ImportError:  # pragma: no cover - fsspec comes with dask and pandas' extras
        return None
    protocol = url.split("://", 1)[0].lower()
    if protocol not in fsspec.available_protocols():
        return None  # a SQLAlchemy URL, say
    try:
        fs, path = fsspec.core.url_to_fs(url)
        if _GLOB.search(path):
            found = fs.glob(path)
        elif fs.isdir(path):
            found = fs.find(path)
        else:
            return None
    except (ImportError, OSError, ValueError) as exc:
        raise MonitoringError(
            f"current_data {url!r}: the dataset cannot be listed ({type(exc).__name__}: {exc}); "
            "check the URL and its credentials.",
            source=url,
        ) from exc
    return _parquet_only(sorted(fs.unstrip_protocol(p) for p in found), url)


def _parquet_only(found: Sequence[str], spec: str) -> list[str]:
    def name(path: str) -> str:
        return path.rstrip("/").rsplit("/", 1)[-1].rsplit(os.sep, 1)[-1]

    files = [
        path
        for path in found
        if path.lower().endswith(PARQUET_SUFFIXES) and not name(path).startswith(("_", "."))
    ]
    if not files:
        raise MonitoringError(
            f"current_data {spec!r} names a folder or glob without Parquet files "
            f"({len(found)} other file(s)); point it at a Parquet dataset "
            "(e.g. data/current/ or data/current/*.parquet).",
            source=spec,
        )
    return files


# --- scanning one partition ----------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionPlan:
    """What every partition scan needs (picklable; scattered once to each Dask worker).

    Attributes:
        profile: The reference profile (input columns and the prediction column).
        columns: The model's input columns.
        contract: The model's input contract (a pandera schema: its signature).
        model: The fitted model that scores the rows the contract accepts.
        task: The model's task (``binary``, ``multiclass``, ``regression``).
        target: The label column, if the data may carry labels.
        sample_rows: Rows kept in the uniform sample (plots, performance, retraining).
        seed: Seed of the sample's keys.
    """

    profile: ReferenceProfile
    columns: list[str]
    contract: Any
    model: Any
    task: str
    target: str | None = None
    sample_rows: int = 100_000
    seed: int = 0


@dataclass
class PartitionScan:
    """One partition scanned, or several merged (:meth:`merge`).

    Attributes:
        summary: The drift summary of the input columns and the predictions.
        rows: Rows read.
        invalid_rows: Rows the contract refuses (counted for drift, not scored).
        labelled_rows: Rows with a label.
        failures: The contract failures: ``column, check, failures, examples``.
        sample: A uniform random sample of at most ``sample_rows`` rows: the
            input columns, the label (when present), the prediction, and
            whether the contract accepted the row.
        partitions: Partitions merged into it.
        source: Where the data came from, fit for messages (set by :func:`scan_partitions`).
        sample_rows: The most rows :attr:`sample` keeps.
        target: The label column, when a partition had it.
    """

    summary: CurrentSummary
    rows: int
    invalid_rows: int
    labelled_rows: int
    failures: pd.DataFrame
    sample: pd.DataFrame
    partitions: int = 1
    source: str = ""
    sample_rows: int = field(default=100_000, repr=False)
    target: str | None = field(default=None, repr=False)

    @property
    def invalid_fraction(self) -> float:
        """``invalid_rows / rows`` (0 without rows)."""
        return self.invalid_rows / self.rows if self.rows else 0.0

    @property
    def sampled(self) -> bool:
        """Whether :attr:`sample` holds fewer rows than the dataset."""
        return len(self.sample) < self.rows

    @property
    def _extra_columns(self) -> set[str]:
        return {_VALID, _KEY, PREDICTION_COLUMN, *([self.target] if self.target else [])}

    @property
    def frame(self) -> pd.DataFrame:
        """The sample's input columns and prediction (what the drift plots draw)."""
        extra = self._extra_columns - {PREDICTION_COLUMN}
        return self.sample.drop(columns=[c for c in self.sample if c in extra])

    @property
    def valid(self) -> pd.DataFrame:
        """The inputs of the sample rows the contract accepts (same index as :attr:`frame`)."""
        rows = self.sample[self.sample[_VALID]]
        return rows.drop(columns=[c for c in rows if c in self._extra_columns])

    def current_data(self, target: str | None) -> CurrentData:
        """The sample as :class:`CurrentData` (labelled when any row of the dataset is)."""
        frame = self.sample.drop(columns=[_VALID, _KEY, PREDICTION_COLUMN])
        labelled = bool(target) and self.labelled_rows > 0 and target in frame.columns
        return CurrentData(frame, self.source, labelled)

    def merge(self, other: PartitionScan) -> PartitionScan:
        """The scan of both partitions' rows (the sample: the smallest keys of both)."""
        sample = _smallest_keys(pd.concat([self.sample, other.sample]), self.sample_rows)
        return PartitionScan(
            summary=merge(self.summary, other.summary),
            rows=self.rows + other.rows,
            invalid_rows=self.invalid_rows + other.invalid_rows,
            labelled_rows=self.labelled_rows + other.labelled_rows,
            failures=_merge_failures(self.failures, other.failures),
            sample=sample,
            partitions=self.partitions + other.partitions,
            source=self.source or other.source,
            sample_rows=self.sample_rows,
            target=self.target or other.target,
        )


def scan_partition(path: str, plan: PartitionPlan) -> PartitionScan:
    """Read one partition file and scan it (see the module docstring).

    Raises:
        MonitoringError: The file cannot be read, lacks the model's input
            columns, or a column's type differs from the reference's (naming
            the partition).
    """
    frame = _read_partition(path, plan)
    missing = [c for c in plan.columns if c not in frame.columns]
    if missing:
        raise MonitoringError(
            f"partition {path!r} of the current data lacks the model's input column(s) "
            f"{', '.join(missing)}; it has {', '.join(map(str, frame.columns))}. Every "
            "partition must hold the model's inputs.",
            columns=missing,
            partition=path,
        )
    return _scan_frame(frame.reset_index(drop=True), plan, path)


def _read_partition(path: str, plan: PartitionPlan) -> pd.DataFrame:
    import fsspec
    import pyarrow.parquet as pq

    wanted = {*plan.profile.columns, *plan.columns, *([plan.target] if plan.target else [])}
    try:
        with fsspec.open(path, "rb") as handle:
            file = pq.ParquetFile(handle)
            names = [n for n in file.schema_arrow.names if n in wanted]
            frame: pd.DataFrame = file.read(columns=names).to_pandas()
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        raise MonitoringError(
            f"partition {path!r} of the current data cannot be read as Parquet "
            f"({type(exc).__name__}: {exc}).",
            partition=path,
        ) from exc
    return frame


def _scan_frame(frame: pd.DataFrame, plan: PartitionPlan, name: str) -> PartitionScan:
    from mlops_nb.validation import validate

    inputs = frame[plan.columns]
    tested = [c for c in plan.profile.columns.values() if c.kind != "skipped" and c.name in inputs]
    check_types(tested, {c.name: inputs[c.name] for c in tested}, part=name)  # before the contract
    quality = validate(
        inputs, plan.contract, on_invalid="quarantine", max_invalid_fraction=1.0, source=name
    )
    scored = quality.valid.index
    drift = inputs.copy()
    drift[PREDICTION_COLUMN] = np.nan
    if len(scored):
        drift.loc[scored, PREDICTION_COLUMN] = prediction_scores(
            plan.model, inputs.loc[scored], plan.task
        ).to_numpy()
    summary = summarize(drift, plan.profile, part=name)
    has_target = bool(plan.target) and plan.target in frame.columns
    labelled = int(frame[plan.target].notna().sum()) if has_target else 0
    sample = drift.copy()
    if has_target:
        sample[plan.target] = frame[plan.target]
    sample[_VALID] = sample.index.isin(scored)
    rng = np.random.default_rng([plan.seed, zlib.crc32(name.encode())])
    sample[_KEY] = rng.random(len(sample))
    return PartitionScan(
        summary=summary,
        rows=len(frame),
        invalid_rows=quality.invalid_rows,
        labelled_rows=labelled,
        failures=quality.failures,
        sample=_smallest_keys(sample, plan.sample_rows),
        sample_rows=plan.sample_rows,
        target=plan.target if has_target else None,
    )


def _smallest_keys(sample: pd.DataFrame, rows: int) -> pd.DataFrame:
    """The ``rows`` rows of smallest key, by key: a uniform sample, however it was merged."""
    order = np.argsort(sample[_KEY].to_numpy(), kind="stable")[:rows]
    return sample.iloc[order].reset_index(drop=True)


def _merge_failures(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    if b.empty:
        return a
    if a.empty:
        return b
    both = pd.concat([a, b], ignore_index=True)
    merged = both.groupby(["column", "check"], sort=False, as_index=False).agg(
        failures=("failures", "sum"),
        examples=("examples", _first_examples),
    )
    return merged.sort_values("failures", ascending=False, kind="stable").reset_index(drop=True)


def _first_examples(lists: pd.Series) -> list[Any]:
    seen: dict[str, Any] = {}
    for values in lists:
        for value in list(values):
            seen.setdefault(repr(value), value)
    return list(seen.values())[:MAX_FAILURE_EXAMPLES]


# --- scanning them all ---------------------------------------------------------------------------


def scan_partitions(
    files: Sequence[str],
    plan: PartitionPlan,
    *,
    parallel: str = "auto",
    source: str = "",
) -> PartitionScan:
    """Scan every partition and merge the scans, on a Dask cluster or one at a time here.

    Args:
        files: The partition files (:func:`dataset_files`).
        plan: What each scan needs.
        parallel: ``"auto"`` (on the cluster when the run uses the Dask
            executor: ``MLOPS_NB_PARALLEL=dask`` and ``MLOPS_NB_DASK_SCHEDULER``
            set), ``"dask"`` (on the cluster at ``MLOPS_NB_DASK_SCHEDULER``) or
            ``"local"`` (one partition at a time in this process).
        source: Where the data came from, for messages.

    Raises:
        MonitoringError: No files, a bad ``parallel``, ``dask`` without a
            scheduler or without dask installed, or a partition's error (naming it).
    """
    check_choice("parallel", parallel, PARALLEL)
    if not files:
        raise MonitoringError(
            "the current dataset has no partition files: point current_data at a folder or "
            "glob of Parquet files.",
            source=source,
        )
    address = _scheduler(parallel)
    if address is None:
        scans: Iterator[PartitionScan] = (scan_partition(path, plan) for path in files)
    else:
        scans = _dask_scans(address, files, plan)
    merged = _merge_in_order(scans)
    merged.source = source or f"{len(files)} Parquet partitions"
    return merged


def _scheduler(parallel: str) -> str | None:
    address = os.environ.get(SCHEDULER_ENV, "").strip() or None
    if parallel == "local":
        return None
    if parallel == "auto":
        return address if os.environ.get(PARALLEL_ENV, "").strip() == "dask" else None
    if address is None:
        raise MonitoringError(
            f"parallel='dask' needs a Dask scheduler: run the pipeline with --executor dask "
            f"--scheduler ADDRESS, or set {SCHEDULER_ENV} (mlops-nb cluster local starts one).",
            parameter="parallel",
        )
    return address


def _merge_in_order(scans: Iterator[PartitionScan]) -> PartitionScan:
    merged: PartitionScan | None = None
    for scan in scans:
        merged = scan if merged is None else merged.merge(scan)
    if merged is None:  # pragma: no cover - scan_partitions refuses an empty file list
        raise MonitoringError("no partition was scanned.")
    return merged


def _dask_scans(address: str, files: Sequence[str], plan: PartitionPlan) -> Iterator[PartitionScan]:
    """The partition scans, computed on the cluster, yielded in file order as they finish."""
    distributed = _distributed()
    client = connect(
        address,
        MonitoringError,
        "monitoring a partitioned dataset on a Dask cluster",
        f"{SCHEDULER_ENV}, or use parallel='local'",
        timeout=15,
        parameter="parallel",
    )
    try:
        [shared] = client.scatter([plan], broadcast=True, hash=False)
        futures = client.map(scan_partition, list(files), plan=shared, pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        done: dict[int, PartitionScan] = {}
        next_index = 0
        try:
            for future in distributed.as_completed(futures, loop=client.loop):
                done[index[future.key]] = future.result()
                while next_index in done:
                    yield done.pop(next_index)
                    next_index += 1
        finally:
            client.cancel(futures)
    finally:
        client.close()


def _distributed() -> Any:
    return distributed_module(
        MonitoringError,
        "monitoring a partitioned dataset on a Dask cluster",
        " (or parallel='local' to scan the partitions one at a time here)",
        parameter="parallel",
    )
