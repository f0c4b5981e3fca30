"""Outlier fences and the transformer that clips values to them.

Fences follow Tukey's rule: ``[Q1 - factor * IQR, Q3 + factor * IQR]``. A
column without spread (IQR of 0, such as a 0/1 flag or a mostly-zero count)
gets infinite fences, because finite ones would clip every non-typical value.

:func:`outlier_fences` only *reports* (it is used by
:func:`mlops_nb.prep.cleanse.cleanse` on the whole data set);
:class:`OutlierClipper` *learns* fences on the training rows and applies them
to any later rows, so nothing about the test rows leaks into the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from mlops_nb.errors import PreparationError

CLIP_METHODS = ("iqr", "quantile")


def iqr_fences(values: ArrayLike, factor: float = 3.0) -> tuple[float, float]:
    """Return Tukey's ``(lower, upper)`` fences of ``values``, ignoring NaN.

    Args:
        values: Numbers of one column.
        factor: How many inter-quartile ranges beyond the quartiles a value
            may lie before it counts as an outlier (1.5 is the textbook
            "mild" rule, 3.0 the "extreme" one).

    Returns:
        The fences, or ``(-inf, inf)`` when the column has no values or no
        spread.
    """
    data = np.asarray(values, dtype=float)
    data = data[~np.isnan(data)]
    if data.size == 0:
        return -np.inf, np.inf
    q1, q3 = np.quantile(data, [0.25, 0.75])
    spread = q3 - q1
    if spread == 0:
        return -np.inf, np.inf
    return float(q1 - factor * spread), float(q3 + factor * spread)


def outlier_fences(df: pd.DataFrame, columns: Sequence[str], factor: float = 3.0) -> pd.DataFrame:
    """Tabulate fences and how many values fall outside them, per column.

    Args:
        df: The data.
        columns: Numeric columns to examine.
        factor: Passed to :func:`iqr_fences`.

    Returns:
        One row per column: ``column``, ``lower``, ``upper``, ``below``,
        ``above`` (counts of values outside the fences).
    """
    rows = []
    for column in columns:
        values = df[column].astype(float)
        lower, upper = iqr_fences(values, factor)
        rows.append(
            {
                "column": column,
                "lower": lower,
                "upper": upper,
                "below": int((values < lower).sum()),
                "above": int((values > upper).sum()),
            }
        )
    return pd.DataFrame(rows, columns=["column", "lower", "upper", "below", "above"])


class OutlierClipper(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Clip each numeric column to bounds learned on the training rows.

    Missing values pass through untouched. Works on DataFrames and arrays.

    Args:
        method: ``"iqr"`` (Tukey fences, see :func:`iqr_fences`) or
            ``"quantile"`` (the ``quantiles`` of the training values).
        factor: IQR multiplier for ``method="iqr"``.
        quantiles: ``(low, high)`` probabilities for ``method="quantile"``.

    Attributes:
        lower_: Lower bound per column.
        upper_: Upper bound per column.
        n_features_in_: Number of columns seen in ``fit``.
        feature_names_in_: Column names seen in ``fit`` (DataFrames only).
    """

    def __init__(
        self,
        method: str = "iqr",
        factor: float = 3.0,
        quantiles: tuple[float, float] = (0.01, 0.99),
    ) -> None:
        self.method = method
        self.factor = factor
        self.quantiles = quantiles

    def fit(self, X: Any, y: Any = None) -> OutlierClipper:
        """Learn the clip bounds of every column of ``X``."""
        self._check_params()
        data = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        if self.method == "iqr":
            bounds = [iqr_fences(data[:, i], self.factor) for i in range(data.shape[1])]
        else:
            bounds = [self._quantile_bounds(data[:, i]) for i in range(data.shape[1])]
        self.lower_ = np.array([low for low, _ in bounds], dtype=float)
        self.upper_ = np.array([high for _, high in bounds], dtype=float)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Return ``X`` with every value clipped to the learned bounds."""
        check_is_fitted(self, ["lower_", "upper_"])
        data = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)
        clipped: np.ndarray = np.clip(data, self.lower_, self.upper_)
        return clipped

    def bounds(self) -> pd.DataFrame:
        """Return the learned bounds as a table (``column``, ``lower``, ``upper``)."""
        check_is_fitted(self, ["lower_", "upper_"])
        return pd.DataFrame(
            {"column": self.get_feature_names_out(), "lower": self.lower_, "upper": self.upper_}
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _quantile_bounds(self, values: np.ndarray) -> tuple[float, float]:
        present = values[~np.isnan(values)]
        if present.size == 0:
            return -np.inf, np.inf
        low, high = np.quantile(present, self.quantiles)
        return float(low), float(high)

    def _check_params(self) -> None:
        if self.method not in CLIP_METHODS:
            raise PreparationError(
                f"OutlierClipper: unknown method {self.method!r}; "
                f"use one of {', '.join(CLIP_METHODS)}.",
                parameter="method",
            )
        if self.method == "iqr" and not self.factor > 0:
            raise PreparationError(
                f"OutlierClipper: factor must be > 0, got {self.factor!r}; 1.5 or 3.0 are usual.",
                parameter="factor",
            )
        if self.method == "quantile" and not _valid_quantiles(self.quantiles):
            raise PreparationError(
                f"OutlierClipper: quantiles must satisfy 0 <= low < high <= 1, "
                f"got {self.quantiles!r}; for example (0.01, 0.99).",
                parameter="quantiles",
            )


def _valid_quantiles(quantiles: Any) -> bool:
    try:
        low, high = quantiles
        return bool(0 <= low < high <= 1)
    except (TypeError, ValueError):
        return False
