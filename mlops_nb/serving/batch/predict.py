"""Batch inference: score a CSV or Parquet file with a registered model, chunk by chunk.

>>> result = predict_file(registry, "churn@production", "customers.csv", "scores.parquet")
>>> result.scored, result.invalid, result.invalid_output
(99412, 588, PosixPath('.../scores.invalid.parquet'))

Every chunk is validated against the model's signature. Valid rows are scored
and written with their input values (coerced to the signature's dtypes), a
``row`` column (the 0-based position of the row in the input file, to join
back) and the model's output: ``prediction``, plus one ``proba_<class>``
column per class for classifiers. Invalid rows are never scored: they go to a
separate file with their ``row`` and ``_reasons``. Files are written under a
temporary name and renamed at the end, so a failure leaves no partial output.

:func:`score_frame` does the same for a frame in memory.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from sklearn.pipeline import Pipeline

from mlops_nb.errors import DataSourceError, DataValidationError, ServingError
from mlops_nb.registry import LoadedModel, Registry
from mlops_nb.serving.batch.files import (
    InputFile,
    TableWriter,
    default_invalid_path,
    iter_chunks,
    open_input,
    output_kind,
)
from mlops_nb.validation import validate
from mlops_nb.validation.report import REASONS_COLUMN

__all__ = [
    "PREDICTION_COLUMN",
    "PROBA_PREFIX",
    "ROW_COLUMN",
    "BatchResult",
    "Progress",
    "check_columns",
    "check_reserved",
    "chunk_size",
    "invalid_rows",
    "numbered_rows",
    "predict_file",
    "predict_rows",
    "score_frame",
]

ROW_COLUMN = "row"
PREDICTION_COLUMN = "prediction"
PROBA_PREFIX = "proba_"
CHUNK_VALUES = 2_000_000
"""Values (rows x columns) per chunk when ``chunk_rows`` is not given."""
MIN_CHUNK_ROWS = 10_000

Progress = Callable[[int, int | None], object]
"""A progress callback: ``(rows_done, total_rows)``; the total is None when unknown."""


@dataclass(frozen=True)
class BatchResult:
    """What a batch prediction did.

    Attributes:
        rows: Rows read from the input file.
        scored: Valid rows, scored and written to :attr:`output`.
        invalid: Rows that break the model's signature, written to
            :attr:`invalid_output` with their reasons and not scored.
        seconds: Wall-clock time of the whole prediction.
        output: The scored file (for a dataset: its folder, or URL).
        invalid_output: The file of invalid rows (written even when there
            are none, so it always reflects the latest run).
        model: The model name.
        version: The model version used.
    """

    rows: int
    scored: int
    invalid: int
    seconds: float
    output: Path | str
    invalid_output: Path | str
    model: str
    version: int

    @property
    def rows_per_second(self) -> float:
        """Input rows processed per second."""
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    def summary(self) -> dict[str, Any]:
        """The result as JSON-ready values (for ``--json`` output and run metadata)."""
        return {
            "model": self.model,
            "version": self.version,
            "rows": self.rows,
            "scored": self.scored,
            "invalid": self.invalid,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "output": str(self.output),
            "invalid_output": str(self.invalid_output),
        }


# -- scoring a frame ------------------------------------------------------------


def _reserved(name: str) -> bool:
    return name in (ROW_COLUMN, PREDICTION_COLUMN, REASONS_COLUMN) or name.startswith(PROBA_PREFIX)


def check_reserved(columns: Sequence[object], where: str) -> None:
    """Refuse input columns whose names the output uses (``row``, ``prediction``, ...).

    Raises:
        ServingError: Naming the clashing columns.
    """
    clashes = [str(name) for name in columns if _reserved(str(name))]
    if clashes:
        raise ServingError(
            f"{where} has column(s) {', '.join(clashes)}, names that the predictions use "
            f"('{ROW_COLUMN}', '{PREDICTION_COLUMN}', '{PROBA_PREFIX}<class>', "
            f"'{REASONS_COLUMN}'); rename or drop them before scoring.",
            columns=clashes,
        )


def _split_pipeline(model: Any) -> tuple[Pipeline | None, Any]:
    """The transforming steps of a pipeline (or None) and its final estimator."""
    if isinstance(model, Pipeline) and len(model.steps) > 1:
        return model[:-1], model.steps[-1][1]
    return None, model


def _model_input(model: Any, frame: pd.DataFrame, ref: str) -> pd.DataFrame:
    """The columns the model was fitted on, in the order it saw them."""
    names = getattr(model, "feature_names_in_", None)
    if names is None or list(frame.columns) == list(names):
        return frame
    missing = [str(name) for name in names if name not in frame.columns]
    if missing:
        raise ServingError(
            f"model {ref} was fitted on column(s) {', '.join(missing)} that its signature "
            f"does not provide; register the model again with a signature that lists every "
            f"column it was trained on.",
            model=ref,
            columns=missing,
        )
    return frame[list(names)]


def _empty_predictions(final: Any) -> dict[str, np.ndarray]:
    """The output columns, without rows, in the dtypes the model would give them."""
    classes = getattr(final, "classes_", None)
    columns = {
        PREDICTION_COLUMN: np.empty(0, dtype=classes.dtype if classes is not None else "float64")
    }
    if classes is not None and hasattr(final, "predict_proba"):
        columns.update({f"{PROBA_PREFIX}{label}": np.empty(0) for label in classes})
    return columns


def _predictions(final: Any, features: Any) -> dict[str, np.ndarray]:
    columns = {PREDICTION_COLUMN: np.asarray(final.predict(features))}
    classes = getattr(final, "classes_", None)
    if classes is not None and hasattr(final, "predict_proba"):
        proba = np.asarray(final.predict_proba(features))
        columns.update({f"{PROBA_PREFIX}{label}": proba[:, i] for i, label in enumerate(classes)})
    return columns


def predict_rows(loaded: LoadedModel, valid: pd.DataFrame) -> pd.DataFrame:
    """Predict rows that already passed the signature; keep their index.

    A pipeline's transforming steps run once, then its final estimator gives
    both ``prediction`` (exactly what ``model.predict`` returns) and, for a
    classifier, the ``proba_<class>`` columns.

    Raises:
        ServingError: The model fails on the rows.
    """
    model, ref = loaded.model, loaded.version.ref
    head, final = _split_pipeline(model)
    if len(valid) == 0:
        return pd.DataFrame(_empty_predictions(final), index=valid.index)
    features = _model_input(model, valid, ref)
    try:
        if head is not None:
            features = head.transform(features)
        columns = _predictions(final, features)
    except Exception as exc:  # any estimator error: say which model and rows
        raise ServingError(
            f"model {ref} failed to predict {len(valid)} valid rows: "
            f"{type(exc).__name__}: {exc}. The rows passed its signature, so the model "
            f"and its signature disagree; register it again with the contract of its "
            f"training data.",
            model=ref,
        ) from exc
    return pd.DataFrame(columns, index=valid.index)


def score_frame(
    loaded: LoadedModel, df: pd.DataFrame, *, source: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate ``df`` against the model's signature and score its valid rows.

    Args:
        loaded: The model, from :meth:`Registry.load`.
        df: Input rows (the target column, if present, breaks a strict signature).
        source: What to call the rows in messages, e.g. a file name.

    Returns:
        ``(scored, invalid)``: the valid rows coerced to the signature's
        dtypes plus ``prediction`` (and ``proba_<class>`` per class for a
        classifier); the invalid rows as they came, plus ``_reasons``. Both
        keep ``df``'s index, so they can be joined back.

    Raises:
        DataValidationError: ``df`` has no rows, or a problem no row can be
            blamed for (a missing or unexpected column).
        ServingError: A column is named like an output column, or the model fails.
    """
    check_reserved(list(df.columns), source or "the input")
    result = validate(
        df, loaded.signature, on_invalid="quarantine", max_invalid_fraction=1.0, source=source
    )
    predictions = predict_rows(loaded, result.valid)
    return pd.concat([result.valid, predictions], axis=1), result.quarantined


# -- checking a file before scoring -----------------------------------------------


def _declared(signature: pa.DataFrameSchema) -> dict[str, pa.Column]:
    return {str(name): column for name, column in signature.columns.items() if not column.regex}


def _matches_regex(name: str, signature: pa.DataFrameSchema) -> bool:
    return any(
        column.regex and re.fullmatch(str(pattern), name) is not None
        for pattern, column in signature.columns.items()
    )


def check_columns(
    columns: Sequence[str], signature: pa.DataFrameSchema, where: str, ref: str, target: str
) -> None:
    """Refuse an input whose columns cannot match the signature, before anything is scored.

    Args:
        columns: The input's column names.
        signature: The model's input contract.
        where: The input, named in the message.
        ref: The model reference, named in the message.
        target: The model's target column, named when the input carries it.

    Raises:
        DataValidationError: A required column is missing, or a strict
            signature meets an unexpected column; ``.columns``, ``.missing``
            and ``.extra`` list them.
    """
    declared = _declared(signature)
    missing = [name for name, column in declared.items() if column.required and name not in columns]
    extra = []
    if signature.strict is True:
        extra = [n for n in columns if n not in declared and not _matches_regex(n, signature)]
    if not missing and not extra:
        return
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected column(s) {', '.join(extra)}")
    hint = f" Drop the target column '{target}': the model predicts it." if target in extra else ""
    raise DataValidationError(
        f"{where} does not have the columns model {ref} expects: {'; '.join(problems)}."
        f"{hint} The signature lists: {', '.join(declared)}; add the missing columns and "
        f"remove the others, then run again.",
        columns=missing + extra,
        missing=missing,
        extra=extra,
    )


def _text_columns(signature: pa.DataFrameSchema) -> list[str]:
    """Columns the signature declares as text: read from CSV as text, never as numbers."""
    return [
        name
        for name, column in _declared(signature).items()
        if column.dtype is not None
        and pd.api.types.is_string_dtype(getattr(column.dtype, "type", column.dtype))
    ]


def chunk_size(value: object, columns: int) -> int:
    """``value`` checked, or by default about :data:`CHUNK_VALUES` values per chunk.

    Validation has a fixed cost per chunk, so chunks of a narrow table are
    made long (200,000 rows of 10 columns) and those of a wide one shorter.
    """
    if value is None:
        return max(MIN_CHUNK_ROWS, CHUNK_VALUES // max(columns, 1))
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ServingError(
            f"chunk_rows={value!r} must be a whole number of rows >= 1, e.g. 50000; lower "
            f"it if a chunk does not fit in memory."
        )
    return value


def _check_paths(source: Path, output: Path, invalid: Path) -> None:
    if source in (output, invalid):
        raise ServingError(
            f"the output file {source} is the input file; write the predictions to another file.",
            path=source,
        )
    if invalid == output:
        raise ServingError(
            f"the invalid-rows file and the output are both {output}; pass another "
            f"invalid_path (default: {default_invalid_path(output).name}).",
            path=output,
        )


# -- scoring a file -----------------------------------------------------------------


class _Reporter:
    """Calls the progress callback; an estimated total never falls below the rows done."""

    def __init__(self, callback: Progress | None, source: InputFile) -> None:
        self.callback = callback
        self.total = source.total_rows
        self.exact = source.exact_total
        self.last: tuple[int, int | None] | None = None

    def __call__(self, done: int) -> None:
        if self.callback is None:
            return
        total = self.total if self.exact or self.total is None else max(self.total, done)
        self.last = (done, total)
        self.callback(done, total)

    def finish(self, done: int) -> None:
        if self.callback is not None and self.last != (done, done):
            self.callback(done, done)


def numbered_rows(scored: pd.DataFrame) -> pd.DataFrame:
    """``scored`` with its index (the input positions) as a first ``row`` column."""
    scored.insert(0, ROW_COLUMN, scored.index.to_numpy(dtype="int64"))
    return scored


def invalid_rows(invalid: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Invalid rows for the file: ``row``, the input values as text, ``_reasons``.

    Values are stored as text because an invalid value need not fit the
    column's dtype (``"abc"`` in a number column), and chunks must agree.
    """
    present = [name for name in columns if name in invalid.columns]
    text = invalid[present].astype("str")
    text.insert(0, ROW_COLUMN, invalid.index.to_numpy(dtype="int64"))
    text[REASONS_COLUMN] = invalid[REASONS_COLUMN].astype("str")
    return text


def _score_chunks(
    loaded: LoadedModel,
    source: InputFile,
    writers: tuple[TableWriter, TableWriter],
    chunk_rows: int,
    report: _Reporter,
) -> int:
    """Score every chunk of ``source`` into ``writers``; return the rows read."""
    scored_out, invalid_out = writers
    done = 0
    report(done)
    for chunk in iter_chunks(source, chunk_rows, _text_columns(loaded.signature)):
        chunk.index = pd.RangeIndex(done, done + len(chunk))
        where = f"{source.path.name} rows {done}-{done + len(chunk) - 1}"
        scored, invalid = score_frame(loaded, chunk, source=where)
        scored_out.write(numbered_rows(scored))
        invalid_out.write(invalid_rows(invalid, source.columns))
        done += len(chunk)
        report(done)
    if done == 0:
        raise DataSourceError(
            f"input file {source.path} is empty: it has the columns "
            f"{', '.join(source.columns)} but no rows. Check that the export that produced "
            f"it finished, or pass another file.",
            path=source.path,
        )
    return done


def predict_file(
    registry: Registry,
    model_ref: str,
    input_path: str | Path,
    output_path: str | Path,
    *,
    chunk_rows: int | None = None,
    progress: Progress | None = None,
    invalid_path: str | Path | None = None,
) -> BatchResult:
    """Score a CSV or Parquet file with a registered model, ``chunk_rows`` rows at a time.

    Args:
        registry: The model registry.
        model_ref: ``NAME``, ``NAME@ALIAS`` or ``NAME:VERSION``.
        input_path: A ``.csv`` (also ``.csv.gz``, ``.tsv``) or ``.parquet`` file.
        output_path: Where the scored rows go, ``.csv`` or ``.parquet``.
        chunk_rows: Rows read, validated and scored at a time; memory use
            grows with it, not with the file. Default: about two million
            values per chunk (200,000 rows of 10 columns, at least 10,000 rows).
        progress: Called as ``progress(rows_done, total_rows)`` first with 0
            and after each chunk; the total is exact for Parquet, estimated
            from the file size for CSV (None for compressed CSV), and the last
            call has ``rows_done == total_rows``.
        invalid_path: Where invalid rows go (``.csv`` or ``.parquet``);
            default: ``<output stem>.invalid<output suffix>`` next to the output.

    Returns:
        The counts, the files written and the time taken.

    Raises:
        DataSourceError: The input is missing, empty, unreadable or not CSV/Parquet.
        DataValidationError: The input's columns do not match the signature
            (raised before anything is written).
        ModelNotFoundError: Unknown model, version or alias.
        RegistryError: The model package fails its integrity or trust checks.
        ServingError: A bad output suffix or argument, or the model fails.
    """
    started = time.perf_counter()
    if chunk_rows is not None:
        chunk_size(chunk_rows, 1)
    output = Path(output_path).expanduser().resolve()
    invalid = Path(invalid_path).expanduser().resolve() if invalid_path else None
    invalid = invalid or default_invalid_path(output)
    kinds = output_kind(output), output_kind(invalid, "invalid-rows")
    source = open_input(Path(input_path))
    _check_paths(source.path, output, invalid)
    loaded = registry.load(model_ref)
    ref = loaded.version.ref
    check_columns(
        source.columns, loaded.signature, f"input file {source.path}", ref, loaded.version.target
    )
    check_reserved(source.columns, f"input file {source.path}")
    rows_per_chunk = chunk_size(chunk_rows, len(source.columns))
    writers = TableWriter(output, kinds[0]), TableWriter(invalid, kinds[1])
    report = _Reporter(progress, source)
    try:
        rows = _score_chunks(loaded, source, writers, rows_per_chunk, report)
        writers[1].commit()
        writers[0].commit()
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    report.finish(rows)
    return BatchResult(
        rows=rows,
        scored=writers[0].rows,
        invalid=writers[1].rows,
        seconds=time.perf_counter() - started,
        output=output,
        invalid_output=invalid,
        model=loaded.version.name,
        version=loaded.version.version,
    )
