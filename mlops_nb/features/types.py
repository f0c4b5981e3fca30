"""Decide which columns are numeric features, categorical features or dropped.

Rules, in order, for every column but the target (explicit lists win over
all of them):

* all values missing -> dropped, reason ``"empty"``;
* one distinct value -> dropped, reason ``"constant"``;
* datetime / timedelta -> dropped, reason ``"datetime"`` / ``"timedelta"``.
  They are not expanded automatically: which parts matter (age, weekday,
  month...) depends on the domain, so derive numeric columns in a notebook
  step and they will be picked up as features;
* identifiers -> dropped, reason ``"identifier"``: text columns whose values
  are unique in at least 95% of the rows (only judged from 20 rows up, so a
  tiny sample does not lose its categories), or columns named like an id
  (``id``, ``customer_id``, ``customerId``, ``uuid``...) with at least half
  their values distinct (data gathered over time repeats customers, and a
  category with that many values carries no pattern a model can reuse);
* bool, category, str and object columns -> categorical;
* other numeric columns -> numeric;
* anything else -> dropped, reason ``"unsupported dtype <dtype>"``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_numeric_dtype,
    is_timedelta64_dtype,
)

from mlops_nb.dtypes import is_text
from mlops_nb.errors import PreparationError
from mlops_nb.prep.cleanse import require_column

UNIQUE_SHARE = 0.95
ID_DISTINCT_SHARE = 0.5
MIN_ROWS_FOR_SHARE = 20
ID_WORDS = {"id", "uuid", "guid"}


@dataclass(frozen=True)
class FeatureTypes:
    """Feature columns by kind, and the columns left out with the reason.

    Attributes:
        numeric: Numeric feature columns, in data order.
        categorical: Categorical feature columns, in data order.
        dropped: Column -> reason it is not a feature.
    """

    numeric: list[str]
    categorical: list[str]
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        """All feature columns: numeric then categorical."""
        return [*self.numeric, *self.categorical]

    def to_frame(self) -> pd.DataFrame:
        """One row per column: ``column``, ``kind`` and ``reason`` (for dropped ones)."""
        rows = [(c, "numeric", "") for c in self.numeric]
        rows += [(c, "categorical", "") for c in self.categorical]
        rows += [(c, "dropped", why) for c, why in self.dropped.items()]
        return pd.DataFrame(rows, columns=["column", "kind", "reason"])


def infer_feature_types(
    df: pd.DataFrame,
    target: str,
    *,
    numeric: Iterable[str] | None = None,
    categorical: Iterable[str] | None = None,
    drop: Iterable[str] | None = None,
) -> FeatureTypes:
    """Classify the columns of ``df`` (see the module docstring for the rules).

    Args:
        df: Data holding the features and the target.
        target: Target column, never a feature.
        numeric: Columns to treat as numeric whatever the rules say.
        categorical: Columns to treat as categorical whatever the rules say.
        drop: Columns to leave out (reason ``"requested"``).

    Raises:
        PreparationError: a listed name is not a column, is the target, is
            listed twice, or is listed as numeric while holding text.
    """
    require_column(df, target)
    lists = {"numeric": _names(numeric), "categorical": _names(categorical), "drop": _names(drop)}
    _check_lists(df, target, lists)
    kinds: dict[str, list[str]] = {"numeric": [], "categorical": []}
    dropped: dict[str, str] = {}
    for column in df.columns:
        if column == target:
            continue
        kind = _explicit_kind(df[column], lists)
        kind = kind if kind is not None else _infer_kind(df[column])
        if kind in kinds:
            kinds[kind].append(column)
        else:
            dropped[column] = kind
    return FeatureTypes(kinds["numeric"], kinds["categorical"], dropped)


def _names(values: Iterable[str] | None) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        return [values]
    return list(values)


def _check_lists(df: pd.DataFrame, target: str, lists: dict[str, list[str]]) -> None:
    seen: dict[str, str] = {}
    for option, names in lists.items():
        unknown = [n for n in names if n not in df.columns]
        if unknown:
            raise PreparationError(
                f"{option}= names {unknown} that are not columns; "
                f"available columns: {', '.join(map(str, df.columns))}.",
                column=unknown[0],
            )
        for name in names:
            if name == target:
                raise PreparationError(
                    f"{option}= lists the target {target!r}; the target is never a feature.",
                    column=name,
                )
            if name in seen:
                raise PreparationError(
                    f"Column {name!r} is listed in both {seen[name]}= and {option}=; keep one.",
                    column=name,
                )
            seen[name] = option


def _explicit_kind(series: pd.Series, lists: dict[str, list[str]]) -> str | None:
    name = series.name
    if name in lists["drop"]:
        return "requested"
    if name in lists["categorical"]:
        return "categorical"
    if name not in lists["numeric"]:
        return None
    if not is_numeric_dtype(series):
        raise PreparationError(
            f"Column {name!r} is listed as numeric but has dtype {series.dtype}; "
            "convert it first (standardize() turns numeric text into numbers) "
            "or list it as categorical.",
            column=name,
        )
    return "numeric"


def _infer_kind(series: pd.Series) -> str:
    present = series.dropna()
    if present.empty:
        return "empty"
    if present.nunique() <= 1:
        return "constant"
    if is_datetime64_any_dtype(series):
        return "datetime"
    if is_timedelta64_dtype(series):
        return "timedelta"
    if _is_identifier(series, present):
        return "identifier"
    if is_bool_dtype(series) or isinstance(series.dtype, pd.CategoricalDtype):
        return "categorical"
    if is_numeric_dtype(series):
        return "numeric"
    if is_text(series):
        return "categorical"
    return f"unsupported dtype {series.dtype}"


def _is_identifier(series: pd.Series, present: pd.Series) -> bool:
    distinct = present.nunique()
    if _looks_like_id(str(series.name)) and distinct >= ID_DISTINCT_SHARE * len(series):
        return True
    labels = is_bool_dtype(series) or isinstance(series.dtype, pd.CategoricalDtype)
    text = is_text(series) and not labels
    return text and len(series) >= MIN_ROWS_FOR_SHARE and distinct >= UNIQUE_SHARE * len(series)


def _looks_like_id(name: str) -> bool:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    words = re.split(r"[^a-zA-Z0-9]+", spaced.lower())
    return any(word in ID_WORDS for word in words)
