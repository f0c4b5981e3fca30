"""Cleansing: consistent values, exact duplicates, missing targets, outlier report.

Two steps, both returning new frames (the input is never changed):

* :func:`standardize` makes values consistent -- trimmed text, one kind of
  missing value, numbers and booleans stored as such -- and says what it did.
* :func:`cleanse` removes rows that cannot be used (exact duplicates, rows
  without a target) and reports missing values and outlier fences.

Missing *feature* values are deliberately not imputed and outliers not
clipped here: both are learned by the feature transformer on the training rows
only, so the test rows cannot leak into the model. Column names are never
changed, because data contracts refer to them. Row labels (the index) are kept
so every row can be traced back to the raw data.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from mlops_nb.errors import PreparationError
from mlops_nb.prep.outliers import outlier_fences
from mlops_nb.prep.report import missing_table, numeric_columns
from mlops_nb.prep.values import standardize_column

OUTLIER_METHODS = ("iqr", "none")
REPORT_COLUMNS = ["step", "rows_before", "rows_after", "detail"]


@dataclass(frozen=True)
class CleanseResult:
    """What :func:`cleanse` produced.

    Attributes:
        data: The cleansed rows (original index kept).
        report: One row per step: ``step``, ``rows_before``, ``rows_after``,
            ``detail``.
        missing: Missing values per feature column of ``data`` (see
            :func:`mlops_nb.prep.report.missing_table`).
        fences: Outlier fences per numeric feature column (see
            :func:`mlops_nb.prep.outliers.outlier_fences`); empty when
            ``outlier_method="none"``.
    """

    data: pd.DataFrame
    report: pd.DataFrame
    missing: pd.DataFrame
    fences: pd.DataFrame


def require_column(df: pd.DataFrame, column: str, role: str = "target") -> None:
    """Raise :class:`PreparationError` unless ``df`` has unique names including ``column``."""
    duplicated = df.columns[df.columns.duplicated()].unique().tolist()
    if duplicated:
        raise PreparationError(
            f"Duplicate column names {duplicated}: every column needs a unique name; "
            "rename or drop the repeats.",
            column=duplicated[0],
        )
    if column not in df.columns:
        raise PreparationError(
            f"{role.capitalize()} column {column!r} is not in the data; "
            f"available columns: {', '.join(map(str, df.columns))}. "
            f"Check the {role} name or the data source.",
            column=column,
        )


def standardize(df: pd.DataFrame, target: str) -> tuple[pd.DataFrame, list[str]]:
    """Make values consistent without changing column names.

    Per text (``str`` / ``object``) column: strip surrounding whitespace, turn
    empty strings and ``None`` / ``pd.NA`` into NaN, then convert the column
    to numbers when every value is numeric text (but not when one has a
    leading zero, like a postcode ``"01234"``), or to booleans when every
    value is a boolean word (true/false, yes/no, y/n, t/f, any case; the
    result is ``bool``, or the nullable ``boolean`` when values are missing).
    Other text stays text (``str`` dtype). Nullable numeric columns
    (``Int64``, ``Float64``) become NumPy ones, missing values as NaN.
    Categorical, datetime and plain numeric/bool columns are left alone.

    Args:
        df: Raw data.
        target: Target column (must exist; it is standardised like the rest).

    Returns:
        The standardised copy and a list of human-readable changes such as
        ``"total_charges: numeric text -> numeric (float64)"``.
    """
    require_column(df, target)
    out = df.copy(deep=False)  # copy-on-write: columns replaced below never touch df
    changes: list[str] = []
    for column in df.columns:
        series, notes = standardize_column(df[column])
        if notes:
            out[column] = series
            changes.extend(f"{column}: {note}" for note in notes)
    return out, changes


def cleanse(
    df: pd.DataFrame,
    target: str,
    *,
    drop_duplicates: bool = True,
    outlier_method: str = "iqr",
    outlier_factor: float = 3.0,
) -> CleanseResult:
    """Drop unusable rows and report missing values and outliers.

    Args:
        df: Data, ideally passed through :func:`standardize` first.
        target: Target column; rows where it is missing are dropped.
        drop_duplicates: Drop rows identical in every column.
        outlier_method: ``"iqr"`` records Tukey fences per numeric feature
            column (values are *not* changed here); ``"none"`` skips that.
        outlier_factor: IQR multiplier for the fences.

    Returns:
        A :class:`CleanseResult`.

    Raises:
        PreparationError: unknown target or option, or no row left.
    """
    require_column(df, target)
    _check_outlier_options(outlier_method, outlier_factor)
    steps = [_step("input", len(df), len(df), f"{len(df)} rows, {df.shape[1]} columns")]
    data, step = _drop_duplicates(df, drop_duplicates)
    steps.append(step)
    data, step = _drop_missing_target(data, target)
    steps.append(step)
    if data.empty:
        raise PreparationError(
            f"No rows left after cleansing: every row lacks the target {target!r}. "
            "Check the target column or the data source.",
            column=target,
        )
    features = data.drop(columns=target)
    missing = missing_table(features)
    steps.append(_missing_step(missing, len(data)))
    fences = _fences(data, target, outlier_method, outlier_factor)
    steps.append(_outlier_step(fences, len(data), outlier_method))
    report = pd.DataFrame(steps, columns=REPORT_COLUMNS)
    return CleanseResult(data=data, report=report, missing=missing, fences=fences)


def _step(name: str, before: int, after: int, detail: str) -> dict[str, object]:
    return {"step": name, "rows_before": before, "rows_after": after, "detail": detail}


def _drop_duplicates(df: pd.DataFrame, enabled: bool) -> tuple[pd.DataFrame, dict[str, object]]:
    if not enabled:
        return df, _step("drop duplicates", len(df), len(df), "skipped (drop_duplicates=False)")
    try:
        duplicated = df.duplicated(keep="first")
    except TypeError as error:
        raise PreparationError(
            "Cannot look for duplicate rows: some cells hold unhashable values "
            "(lists, dicts). Flatten them or pass drop_duplicates=False.",
        ) from error
    removed = int(duplicated.sum())
    detail = f"removed {removed} exact duplicate row(s), first occurrence kept"
    return df[~duplicated], _step("drop duplicates", len(df), len(df) - removed, detail)


def _drop_missing_target(df: pd.DataFrame, target: str) -> tuple[pd.DataFrame, dict[str, object]]:
    missing = df[target].isna()
    removed = int(missing.sum())
    detail = f"removed {removed} row(s) without a value for {target!r}"
    return df[~missing], _step("drop missing target", len(df), len(df) - removed, detail)


def _missing_step(missing: pd.DataFrame, rows: int) -> dict[str, object]:
    affected = missing[missing["missing"] > 0]
    cells = int(affected["missing"].sum())
    detail = (
        f"{cells} missing cell(s) in {len(affected)} feature column(s); "
        "kept here, imputed by the feature transformer fitted on the training rows"
    )
    return _step("count missing features", rows, rows, detail)


def _fences(df: pd.DataFrame, target: str, method: str, factor: float) -> pd.DataFrame:
    columns = numeric_columns(df, exclude=(target,)) if method == "iqr" else []
    return outlier_fences(df, columns, factor)


def _outlier_step(fences: pd.DataFrame, rows: int, method: str) -> dict[str, object]:
    if method == "none":
        return _step("outlier fences", rows, rows, "skipped (outlier_method='none')")
    outside = fences["below"] + fences["above"]
    flagged = fences.loc[outside > 0, "column"].tolist()
    detail = (
        f"{int(outside.sum())} value(s) outside the fences in {len(flagged)} column(s)"
        f"{': ' + ', '.join(flagged) if flagged else ''}; "
        "kept here, clipped by the feature transformer fitted on the training rows"
    )
    return _step("outlier fences", rows, rows, detail)


def _check_outlier_options(method: str, factor: float) -> None:
    if method not in OUTLIER_METHODS:
        raise PreparationError(
            f"Unknown outlier_method {method!r}; use one of {', '.join(OUTLIER_METHODS)}.",
            parameter="outlier_method",
        )
    if method == "iqr" and not factor > 0:
        raise PreparationError(
            f"outlier_factor must be > 0, got {factor!r}; 1.5 (mild) or 3.0 (extreme) are usual.",
            parameter="outlier_factor",
        )
