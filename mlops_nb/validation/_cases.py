"""Turn pandera's failure cases into our own table of failures.

pandera's ``SchemaErrors.failure_cases`` has one row per failing value, with
``schema_context, column, check, failure_case, index``. We rename it to
``pos, column, check, value, kind`` where ``pos`` is the row position in the
validated frame and ``kind`` says what can be done about it:

* ``row``: the failure names a row; setting that row aside fixes it.
* ``presence``: a column is missing or unexpected (``strict``); pandera puts
  the column's name in ``failure_case``.
* ``frame``: a check of the whole data frame failed.
* ``column``: a failure of a whole column (no row named): a dtype that cannot
  be coerced, a check that returned one value or could not run.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

CASE_COLUMNS = ["pos", "column", "check", "value", "kind"]
PRESENCE_CHECKS = frozenset({"column_in_dataframe", "column_in_schema"})
FRAME_COLUMN = "(dataframe)"


def _position(label: Any, labels: pd.Index) -> int | None:
    if label is None or isinstance(label, (list, tuple)) or pd.isna(label):
        return None
    try:
        pos = int(label)
    except (TypeError, ValueError):
        return None
    return pos if pos == label and pos in labels else None


def _case(case: dict[str, Any], labels: pd.Index) -> dict[str, Any]:
    check = str(case["check"])
    if check in PRESENCE_CHECKS:
        return {
            "pos": None,
            "column": str(case["failure_case"]),
            "check": check,
            "value": None,
            "kind": "presence",
        }
    pos = _position(case["index"], labels)
    if case["schema_context"] == "DataFrameSchema":
        column, kind = FRAME_COLUMN, "frame"
    else:
        column, kind = str(case["column"]), "row" if pos is not None else "column"
    return {
        "pos": pos,
        "column": column,
        "check": check,
        "value": case["failure_case"],
        "kind": kind,
    }


def _drop_echoes(cases: pd.DataFrame) -> pd.DataFrame:
    """Keep one reason per bad value.

    A value that cannot be coerced also fails ``dtype(...)``; a null in a
    non-nullable int column also fails ``coerce_dtype(...)``. Keep
    ``coerce_dtype`` and ``not_nullable`` respectively.
    """
    key = cases["column"] + "\x1f" + cases["pos"].astype(str)
    coerced = set(key[cases["check"].str.startswith("coerce_dtype(")])
    nulls = set(key[cases["check"] == "not_nullable"])
    echo = (cases["check"].str.startswith("dtype(") & key.isin(coerced)) | (
        cases["check"].str.startswith("coerce_dtype(") & key.isin(nulls) & cases["value"].isna()
    )
    return cases[~echo]


def _uncoercible_columns(cases: pd.DataFrame, work: pd.DataFrame) -> pd.DataFrame:
    """Mark coercion failures as ``column`` when no value of the column could be converted."""
    coerce = (cases["kind"] == "row") & cases["check"].str.startswith("coerce_dtype(")
    for column, group in cases[coerce & cases["value"].notna()].groupby("column"):
        if column in work.columns and group["pos"].nunique() == work[column].notna().sum():
            cases.loc[coerce & (cases["column"] == column), "kind"] = "column"
    return cases


def failure_cases(raw: pd.DataFrame, work: pd.DataFrame, first_pass: bool) -> pd.DataFrame:
    """Convert pandera's ``failure_cases`` for ``work``, whose index holds row positions.

    On the first pass, a column none of whose values can be coerced is a
    column failure rather than a failure of every row.
    """
    records = [_case(case, work.index) for case in raw.to_dict("records")]
    cases = pd.DataFrame(records, columns=CASE_COLUMNS).astype(
        {"pos": "Int64", "column": "str", "check": "str", "value": "object"}
    )
    cases = _drop_echoes(cases).copy()
    if first_pass:
        cases = _uncoercible_columns(cases, work)
    return cases


def order_cases(cases: pd.DataFrame, columns: pd.Index) -> pd.DataFrame:
    """Sort ``cases`` by row, then by the position of their column among ``columns``."""
    rank = {str(name): number for number, name in enumerate(columns)}
    ranks = cases["column"].map(rank).fillna(len(rank))
    return (
        cases.assign(_rank=ranks).sort_values(["pos", "_rank"], kind="stable").drop(columns="_rank")
    )
