"""One partition of a scaled batch prediction: read, validate, score, write its parts.

:func:`score_part` is what runs on a Dask worker (or in this process, for the
local executor): it reads its input file ``chunk_rows`` at a time, checks each
chunk against the model's signature and scores the valid rows with
:func:`~mlops_nb.serving.batch.predict.score_frame` — the same code as a file
prediction — and writes one scored part and one invalid-rows part. Rows keep
their global position in the dataset as ``row``.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from mlops_nb.registry import LoadedModel
from mlops_nb.serving.batch.datasets import DatasetFile, PartWriter, read_part
from mlops_nb.serving.batch.predict import ROW_COLUMN, invalid_rows, numbered_rows, score_frame
from mlops_nb.validation.report import REASONS_COLUMN

__all__ = ["PartResult", "PartTask", "invalid_schema", "score_part"]


@dataclass(frozen=True)
class PartTask:
    """What a worker needs to score one partition (picklable, no model inside).

    Attributes:
        index: The partition's position in the dataset.
        source: The input file and its global row offset.
        columns: The input columns to read.
        scored: Where the scored part goes (in the temporary output folder).
        invalid: Where the invalid-rows part goes.
        chunk_rows: Rows read, validated and scored at a time.
    """

    index: int
    source: DatasetFile
    columns: tuple[str, ...]
    scored: str
    invalid: str
    chunk_rows: int


@dataclass(frozen=True)
class PartResult:
    """What scoring one partition did: its rows, scored and invalid counts."""

    index: int
    rows: int
    scored: int
    invalid: int


def invalid_schema(columns: Sequence[str]) -> pa.Schema:
    """The invalid rows' schema: ``row``, every input column as text, ``_reasons``."""
    fields = [pa.field(ROW_COLUMN, pa.int64())]
    fields += [pa.field(name, pa.string()) for name in columns]
    return pa.schema([*fields, pa.field(REASONS_COLUMN, pa.string())])


def score_part(
    loaded: LoadedModel, task: PartTask, progress: Callable[[int], object] | None = None
) -> PartResult:
    """Score the partition ``task`` names with ``loaded``; write its two parts.

    Args:
        loaded: The model (on a worker: the copy broadcast to it once).
        task: The partition.
        progress: Called with the rows of each chunk once it is written.

    Raises:
        DataSourceError: The file cannot be read.
        ServingError: The model fails, or a chunk's types differ from the first one's.
    """
    scored_out = PartWriter(task.scored)
    invalid_out = PartWriter(task.invalid, invalid_schema(task.columns))
    rows = 0
    for chunk in read_part(task.source, task.columns, task.chunk_rows):
        first = int(chunk.index[0])
        where = f"{task.source.name} rows {first}-{first + len(chunk) - 1}"
        scored, invalid = score_frame(loaded, chunk, source=where)
        scored_out.write(numbered_rows(scored))
        invalid_out.write(invalid_rows(invalid, task.columns).reindex(columns=_names(task)))
        count = len(chunk)
        rows += count
        del chunk, scored, invalid
        gc.collect()  # frames in reference cycles hold Arrow buffers: keep the peak flat
        if progress is not None:
            progress(count)
    scored_out.close()
    invalid_out.close()
    return PartResult(task.index, rows, scored_out.rows, invalid_out.rows)


def _names(task: PartTask) -> list[str]:
    return [ROW_COLUMN, *task.columns, REASONS_COLUMN]
