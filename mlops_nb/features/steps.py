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


def checked(estimator: BaseEstimator, X: Any, *, reset: bool) -> pd.DataFrame | np.ndarray:
    """:func:`check_input`, except that a frame with values comes back as itself.

    Its column names and count are checked (or recorded) all the same; the
    caller reads it column by column in its own dtypes, which is what keeps a
    ten-million-row frame from becoming an object array of boxed values.
    """
    if isinstance(X, pd.DataFrame) and X.size:
        validate_data(estimator, X, skip_check_array=True, reset=reset)
        return X
    return check_input(estimator, X, reset=reset)


def category_text(value: Any) -> Any:
    """One categorical value as :class:`TextCategories` writes it (NaN when missing)."""
    if pd.isna(value):
        return np.nan
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


to_text = np.frompyfunc(category_text, 1, 1)
"""``category_text`` over every element of an array (an object array comes back)."""
# kinds of object column whose equal values (by hash) always have the same text: a column
# of these is converted value by distinct value; a "mixed" one (True and 1 hash alike but
# read "True" and "1") value by value
_FACTORIZABLE = frozenset(
    {"string", "empty", "boolean", "integer", "floating", "mixed-integer-float"}
)


def _column_text(values: pd.Series) -> np.ndarray:
    """One column as :func:`category_text` makes it, computed once per distinct value."""
    if (
        values.dtype == object
        and pd.api.types.infer_dtype(values, skipna=True) not in _FACTORIZABLE
    ):
        text: np.ndarray = to_text(values.to_numpy(dtype=object)).astype(object)
        return text
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    texts = np.empty(len(distinct) + 1, dtype=object)
    texts[:-1] = [category_text(value) for value in distinct]
    texts[-1] = np.nan  # code -1: missing
    converted: np.ndarray = texts[codes]
    return converted


def _missing(
    estimator: BaseEstimator, X: Any, *, reset: bool, only: np.ndarray | None = None
) -> np.ndarray:
    """Where ``X`` (checked by :func:`check_input`'s rules) is missing, in the ``only`` columns.

    A frame is tested in its own dtypes (see :func:`checked`).
    """
    values = checked(estimator, X, reset=reset)
    if isinstance(values, pd.DataFrame):
        frame = values if only is None else values.iloc[:, only]
        mask: np.ndarray = frame.isna().to_numpy()
        return mask
    array_mask: np.ndarray = pd.isna(values if only is None else values[:, only])
    return array_mask


class TextCategories(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Convert categorical values to text; missing values become NaN.

    ``True`` becomes ``"True"``, ``2`` and ``2.0`` both become ``"2"``. The
    output is an object array with the input's columns. Each distinct value of
    a column is converted once (a million rows of four columns: a fraction of a
    second, not twenty).
    """

    def fit(self, X: Any, y: Any = None) -> TextCategories:
        """Record the input columns (nothing else is learned)."""
        checked(self, X, reset=True)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Return ``X`` with every value as text (NaN where missing)."""
        check_is_fitted(self)
        values = checked(self, X, reset=False)
        if isinstance(values, pd.DataFrame):
            columns = [values.iloc[:, position] for position in range(values.shape[1])]
        else:
            columns = [pd.Series(values[:, position]) for position in range(values.shape[1])]
        text = np.empty((len(columns[0]), len(columns)), dtype=object)
        for position, column in enumerate(columns):
            text[:, position] = _column_text(column)
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
        self.features_ = np.flatnonzero(_missing(self, X, reset=True).any(axis=0))
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Return the 0/1 (float) flags of the flagged columns."""
        check_is_fitted(self, "features_")
        flags: np.ndarray = _missing(self, X, reset=False, only=self.features_)
        return flags.astype(np.float64)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the flag columns: the flagged input columns' names."""
        check_is_fitted(self, "features_")
        return input_feature_names(self, input_features)[self.features_]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        return tags
