"""Small scikit-learn steps used inside the feature transformer.

* :class:`TextCategories` turns every categorical value into text, so columns
  mixing booleans, numbers and strings encode uniformly (scikit-learn's
  encoders refuse mixed types); missing values stay missing (NaN).
* :class:`MissingFlags` adds one 0/1 column per numeric column that had
  missing values in the training rows, so a model can use "was missing"
  after the imputer has filled the gap.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from mlops_nb.errors import PreparationError


def input_feature_names(estimator: BaseEstimator, input_features: Any = None) -> np.ndarray:
    """Return the input names of a fitted ``estimator`` as an object array.

    Names come from ``input_features`` when given (its length must match),
    else from ``feature_names_in_``, else they are ``x0, x1, ...`` as in
    scikit-learn.
    """
    count = estimator.n_features_in_
    if input_features is not None:
        names = np.asarray(input_features, dtype=object)
        if len(names) != count:
            raise PreparationError(
                f"{type(estimator).__name__}: got {len(names)} input feature names "
                f"but {count} columns were seen in fit; pass the same columns.",
            )
        return names
    if hasattr(estimator, "feature_names_in_"):
        return np.asarray(estimator.feature_names_in_, dtype=object)
    return np.asarray([f"x{i}" for i in range(count)], dtype=object)


def check_input(estimator: BaseEstimator, X: Any, *, reset: bool) -> np.ndarray:
    """Validate ``X`` (2-D, not empty, not sparse; any values) and return it as an array.

    Sets or checks ``n_features_in_`` / ``feature_names_in_`` like every
    scikit-learn estimator. DataFrames become object arrays column by column,
    because scikit-learn would cast a frame holding a nullable column
    (``boolean``, ``Int64``) to float as a whole, which fails on text.
    """
    values: np.ndarray
    if isinstance(X, pd.DataFrame):
        validate_data(estimator, X, skip_check_array=True, reset=reset)
        values = check_array(X.astype(object).to_numpy(), dtype=None, ensure_all_finite=False)
    else:
        values = validate_data(estimator, X, dtype=None, ensure_all_finite=False, reset=reset)
    return values


def _as_text(value: Any) -> Any:
    if pd.isna(value):
        return np.nan
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_to_text = np.frompyfunc(_as_text, 1, 1)


class TextCategories(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Convert categorical values to text; missing values become NaN.

    ``True`` becomes ``"True"``, ``2`` and ``2.0`` both become ``"2"``. The
    output is an object array with the input's columns.
    """

    def fit(self, X: Any, y: Any = None) -> TextCategories:
        """Record the input columns (nothing else is learned)."""
        check_input(self, X, reset=True)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Return ``X`` with every value as text (NaN where missing)."""
        check_is_fitted(self)
        text: np.ndarray = _to_text(check_input(self, X, reset=False)).astype(object)
        return text

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.transformer_tags.preserves_dtype = []
        return tags


class MissingFlags(TransformerMixin, BaseEstimator):
    """One 0/1 column per input column that had missing values in ``fit``.

    Columns without missing training values get no flag, even if later rows
    miss them (their imputed value is still used). Output names are the input
    column names.

    Kept instead of scikit-learn's ``MissingIndicator(features="missing-only")``,
    which flags the same values but names its outputs ``missingindicator_<column>``
    and returns booleans: the feature names (``missing__<column>``, shown by
    ``feature_table`` and in model cards) and the float flags are what registered
    models were fitted and saved with (their skops files hold ``features_``).

    Attributes:
        features_: Indices of the flagged input columns.
    """

    def fit(self, X: Any, y: Any = None) -> MissingFlags:
        """Find the columns with missing values."""
        values = check_input(self, X, reset=True)
        self.features_ = np.flatnonzero(pd.isna(values).any(axis=0))
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Return the 0/1 (float) flags of the flagged columns."""
        check_is_fitted(self, "features_")
        values = check_input(self, X, reset=False)
        flags: np.ndarray = pd.isna(values[:, self.features_]).astype(np.float64)
        return flags

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the flag columns: the flagged input columns' names."""
        check_is_fitted(self, "features_")
        return input_feature_names(self, input_features)[self.features_]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        return tags
