"""Scoring a partitioned Parquet dataset, here partition by partition or on a Dask cluster.

>>> result = predict_dataset(registry, "churn@production", "s3://lake/customers/",
...                          "s3://lake/scored/", executor="dask",
...                          scheduler="tcp://scheduler:8786")
>>> result.output, result.invalid_output
('s3://lake/scored', 's3://lake/scored.invalid')

The output is a folder with one ``part-NNNNN.parquet`` per input file, in the
input's order, and an invalid-rows folder laid out the same way (next to it by
default: ``scored/`` → ``scored.invalid/``). The columns are those of
:func:`~mlops_nb.serving.batch.predict.predict_file`, and ``row`` is the global
0-based position of the row in the dataset (files in path order): the rows
of ``predict_dataset`` and of ``predict_file`` on the same rows concatenated
match one for one. Both folders are written to temporary names and moved into
place at the end (see :mod:`~mlops_nb.serving.batch.datasets`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pyarrow.parquet as pq

from mlops_nb.errors import ServingError
from mlops_nb.registry import LoadedModel, Registry
from mlops_nb.serving.batch.datasets import (
    InputDataset,
    OutputFolder,
    dataset_invalid_url,
    open_dataset,
)
from mlops_nb.serving.batch.parts import PartResult, PartTask, score_part
from mlops_nb.serving.batch.predict import (
    BatchResult,
    Progress,
    check_columns,
    check_reserved,
    chunk_size,
)

__all__ = ["EXECUTORS", "predict_dataset"]

EXECUTORS = ("local", "dask")


def _executor(value: str) -> str:
    chosen = value.strip().lower()
    if chosen not in EXECUTORS:
        raise ServingError(
            f"unknown executor {value!r} for predict; use one of {', '.join(EXECUTORS)}."
        )
    return chosen


def _tasks(
    source: InputDataset, outputs: tuple[OutputFolder, OutputFolder], chunk_rows: int
) -> list[PartTask]:
    return [
        PartTask(
            index,
            part,
            tuple(source.columns),
            outputs[0].part(index),
            outputs[1].part(index),
            chunk_rows,
        )
        for index, part in enumerate(source.files)
    ]


def _check_outputs(source: InputDataset, outputs: tuple[OutputFolder, OutputFolder]) -> None:
    if outputs[0].location == outputs[1].location:
        raise ServingError(
            f"the invalid-rows folder and the output are both {outputs[0].location}; pass "
            f"another invalid_path.",
            path=outputs[0].location,
        )
    inputs = source.location.rstrip("/")
    for output in outputs:
        if output.location == inputs or output.location.startswith(f"{inputs}/"):
            raise ServingError(
                f"the output {output.location} is inside the input dataset {inputs}; write the "
                f"predictions to another folder.",
                path=output.location,
            )


def _fill_empty_parts(
    folder: OutputFolder, tasks: Sequence[PartTask], results: dict[int, int]
) -> None:
    """Give the parts without rows the schema of a part with rows, so the folder reads as one."""
    full = next((tasks[i].scored for i, rows in sorted(results.items()) if rows), None)
    empty = [tasks[i].scored for i, rows in results.items() if not rows]
    if full is None or not empty:
        return
    with folder.fs.open(full, "rb") as handle:
        schema = pq.read_schema(handle)
    for url in empty:
        with folder.fs.open(url, "wb") as handle:
            pq.write_table(schema.empty_table(), handle)


class _Tally:
    """Counts the rows of finished partitions; reports progress."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.progress = total, progress
        self.rows = self.scored = self.invalid = 0
        self.scored_parts: dict[int, int] = {}
        self.report(0)

    def report(self, rows: int) -> None:
        self.rows += rows
        if self.progress is not None:
            self.progress(self.rows, self.total)

    def done(self, result: PartResult, *, counted: bool = False) -> None:
        self.scored += result.scored
        self.invalid += result.invalid
        self.scored_parts[result.index] = result.scored
        if not counted:
            self.report(result.rows)


def _score_here(loaded: LoadedModel, tasks: Sequence[PartTask], tally: _Tally) -> None:
    for task in tasks:
        tally.done(score_part(loaded, task, tally.report), counted=True)


def _score(
    loaded: LoadedModel,
    tasks: Sequence[PartTask],
    tally: _Tally,
    executor: str,
    scheduler: str | None,
    local_paths: Sequence[str],
) -> None:
    if executor == "local":
        _score_here(loaded, tasks, tally)
        return
    from mlops_nb.serving.batch.cluster import score_on_cluster

    score_on_cluster(loaded, tasks, scheduler, tally.done, local_paths)


def predict_dataset(
    registry: Registry,
    model_ref: str,
    input_location: str | Path,
    output_location: str | Path,
    *,
    executor: str = "local",
    scheduler: str | None = None,
    chunk_rows: int | None = None,
    progress: Progress | None = None,
    invalid_path: str | Path | None = None,
) -> BatchResult:
    """Score a Parquet dataset (folder, glob, file or URL) into a folder of Parquet parts.

    Args:
        registry: The model registry (read here only; workers get the model).
        model_ref: ``NAME``, ``NAME@ALIAS`` or ``NAME:VERSION``.
        input_location: A folder of Parquet files, a glob, one Parquet file,
            or an fsspec URL such as ``s3://bucket/prefix/``.
        output_location: The output folder (or URL); replaced if it holds a
            previous prediction, refused if it holds anything else.
        executor: ``local`` (partition after partition in this process) or
            ``dask`` (one task per partition on the cluster at ``scheduler``).
        scheduler: The Dask scheduler's address, e.g. ``tcp://127.0.0.1:8786``.
        chunk_rows: Rows read, validated and scored at a time within a
            partition (memory grows with it, not with the file).
        progress: Called as ``progress(rows_done, total_rows)``.
        invalid_path: The invalid-rows folder; default ``<output>.invalid``.

    Returns:
        The counts, the folders written and the time taken.

    Raises:
        DataSourceError: The input is missing, empty, not Parquet, or its
            files' columns differ.
        DataValidationError: The columns do not match the signature (before
            anything is scored).
        ModelNotFoundError, RegistryError: As :meth:`Registry.load`.
        ServingError: A bad output or executor, no or an unreachable scheduler,
            dask missing, or the model fails.
    """
    started = time.perf_counter()
    chosen = _executor(executor)
    if chunk_rows is not None:
        chunk_size(chunk_rows, 1)
    source = open_dataset(input_location)
    invalid_location = invalid_path or dataset_invalid_url(str(output_location))
    outputs = OutputFolder(output_location), OutputFolder(invalid_location)
    _check_outputs(source, outputs)
    loaded = registry.load(model_ref)
    where = f"input dataset {source.location}"
    check_columns(
        source.columns, loaded.signature, where, loaded.version.ref, loaded.version.target
    )
    check_reserved(source.columns, where)
    tasks = _tasks(source, outputs, chunk_size(chunk_rows, len(source.columns)))
    local = [source.files[0].url] if source.local else []
    local += [folder.temporary for folder in outputs if folder.local]
    tally = _Tally(source.total_rows, progress)
    try:
        for folder in outputs:
            folder.create()
        _score(loaded, tasks, tally, chosen, scheduler, local)
        _fill_empty_parts(outputs[0], tasks, tally.scored_parts)
        outputs[1].commit()
        outputs[0].commit()
    except BaseException:
        for folder in outputs:
            folder.abort()
        raise
    return BatchResult(
        rows=tally.rows,
        scored=tally.scored,
        invalid=tally.invalid,
        seconds=time.perf_counter() - started,
        output=_result_path(outputs[0].location),
        invalid_output=_result_path(outputs[1].location),
        model=loaded.version.name,
        version=loaded.version.version,
    )


def _result_path(location: str) -> Path | str:
    return location if "://" in location else Path(location)
