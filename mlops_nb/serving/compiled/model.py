"""A fitted scikit-learn pipeline compiled for scoring: the same outputs, without the per-call cost.

On this project's churn pipeline (a column transformer of imputers, clipper,
scaler, flags and one-hot encoder, a feature selector, a logistic regression)
scikit-learn spends about 25-40 ms per call on input checks, feature-name
bookkeeping and pandas wrapping, whether the call scores 1 row or 30; the
arithmetic itself takes microseconds. :func:`compile_model` turns the fitted
steps into numpy functions (see ``steps``) and the final estimator, when it is
linear, into its decision function, from which predictions and probabilities
are derived as scikit-learn derives them (other final estimators are called
as they are, on the compiled features).

A compiled model is only used once it agrees with the fitted one:
:func:`compile_model` scores probe rows both ways (see ``probes``) and gives
None, so that scikit-learn scores as before, unless the predictions are equal
and the probabilities (or a regression's values) equal to 1e-9.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.utils.extmath import softmax

from mlops_nb.serving.compiled.steps import Step, as_kind, compile_step

__all__ = ["CompiledModel", "Outputs", "Reader", "compile_model", "reference_outputs"]

logger = logging.getLogger(__name__)

Outputs = tuple[np.ndarray, np.ndarray | None]
"""Predictions, and class probabilities (rows x classes) or None."""
FrameStep = Callable[["Reader"], np.ndarray]
Final = Callable[[np.ndarray], Outputs]
RTOL, ATOL = 1e-9, 1e-12


class Reader:
    """The pipeline's input columns as 2-D arrays, as scikit-learn's input check makes them.

    Args:
        column: ``name -> (values, numeric, missing)``: a 1-D array or list,
            whether the column's dtype is numeric, and what stands for a
            missing value once the column is made of Python objects.
        rows: Number of rows.
    """

    def __init__(self, column: Callable[[str], tuple[Any, bool, Any]], rows: int) -> None:
        self.column, self.rows = column, rows

    @classmethod
    def of_frame(cls, frame: pd.DataFrame) -> Reader:
        def column(name: str) -> tuple[Any, bool, Any]:
            series = frame[name]
            if pd.api.types.is_numeric_dtype(series.dtype):
                return series, True, None
            return series.astype(object).to_numpy(), False, None

        return cls(column, len(frame))

    def read(self, names: list[str], kind: str) -> np.ndarray:
        """Columns ``names`` as one array of ``kind`` (``any``: float if all are numeric)."""
        columns = [self.column(name) for name in names]
        if kind == "any":
            kind = "float" if all(numeric for _, numeric, _ in columns) else "object"
        if kind == "float":
            parts = [_floats(values) for values, _, _ in columns]
            return np.column_stack(parts) if parts else np.empty((self.rows, 0))
        out = np.empty((self.rows, len(names)), dtype=object)
        for position, (values, _, missing) in enumerate(columns):
            out[:, position] = _objects(values, missing)
        return out


def _floats(values: Any) -> np.ndarray:
    if isinstance(values, pd.Series):
        floats: np.ndarray = values.to_numpy(np.float64, na_value=np.nan)
        return floats
    if isinstance(values, np.ndarray):
        return values.astype(np.float64)
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _objects(values: Any, missing: Any) -> Any:
    if isinstance(values, pd.Series):
        return values.astype(object).to_numpy()
    if isinstance(values, np.ndarray):
        return values
    return [missing if v is None else v for v in values]


def _column_transformer(transformer: ColumnTransformer) -> FrameStep | None:
    if getattr(transformer, "sparse_output_", False):
        return None
    names = [str(n) for n in transformer.feature_names_in_]
    indices = transformer._transformer_to_input_indices
    branches: list[tuple[list[str], Step]] = []
    for name, step, _ in transformer.transformers_:
        if isinstance(step, str) and step == "drop":
            continue
        if not len(indices.get(name, ())):
            continue  # scikit-learn skips a transformer given no columns
        compiled = None if isinstance(step, str) else compile_step(step)
        if compiled is None:
            return None
        branches.append(([names[i] for i in indices[name]], compiled))

    def run(reader: Reader) -> np.ndarray:
        parts = [step.run(reader.read(cols, step.kind)) for cols, step in branches]
        return np.hstack([as_kind(part, "float") for part in parts])

    return run


def _head(steps: list[Any], names: list[str]) -> FrameStep | None:
    """The pipeline's transforming steps, from the input frame to the final estimator's array."""
    compiled: list[Step] = []
    first: FrameStep | None = None
    for position, step in enumerate(steps):
        if position == 0 and isinstance(step, ColumnTransformer):
            first = _column_transformer(step)
            if first is None:
                return None
            continue
        one = compile_step(step)
        if one is None:
            return None
        compiled.append(one)
    if first is None:
        if not compiled:
            return lambda reader: reader.read(names, "float")
        kind = compiled[0].kind
        first = lambda reader: reader.read(names, kind)  # noqa: E731
    entry = first

    def run(reader: Reader) -> np.ndarray:
        values = entry(reader)
        for step in compiled:
            values = step.run(as_kind(values, step.kind))
        return values

    return run


def _linear(final: Any, probabilistic: bool) -> Final | None:
    """The decision function of a fitted linear model, and what scikit-learn derives from it."""
    if type(final) not in (LogisticRegression, LinearRegression, Ridge):
        return None
    coef, intercept = np.asarray(final.coef_), final.intercept_
    coef_t = coef.T if coef.ndim == 2 else coef
    classes = getattr(final, "classes_", None)

    def decision(values: np.ndarray) -> np.ndarray:
        scores: np.ndarray = values @ coef_t + intercept
        return scores.reshape(-1) if scores.ndim > 1 and scores.shape[1] == 1 else scores

    if classes is None:
        return lambda values: (decision(values), None)

    def classify(values: np.ndarray) -> Outputs:
        scores = decision(values)
        if scores.ndim == 1:
            predictions = classes.take((scores > 0).astype(int), axis=0)
            positive = expit(scores)
            probs = np.stack([1 - positive, positive], axis=1) if probabilistic else None
        else:
            predictions = classes.take(scores.argmax(axis=1), axis=0)
            probs = softmax(scores, copy=True) if probabilistic else None
        return predictions, probs

    return classify


def _estimator(final: Any, probabilistic: bool) -> Final:
    """The final estimator called as it is, on the compiled features (named as it was fitted)."""
    names = getattr(final, "feature_names_in_", None)

    def call(values: np.ndarray) -> Outputs:
        features: Any = values if names is None else pd.DataFrame(values, columns=names)
        probs = np.asarray(final.predict_proba(features)) if probabilistic else None
        return np.asarray(final.predict(features)), probs

    return call


@dataclass(frozen=True)
class CompiledModel:
    """A fitted pipeline's scoring as numpy functions (see the module docstring).

    Attributes:
        features: Input frame -> the final estimator's input array.
        final: That array -> predictions and probabilities.
        linear: True when the final estimator is compiled too.
    """

    features: FrameStep
    final: Final
    linear: bool

    def score(self, frame: pd.DataFrame) -> Outputs:
        """Predictions and probabilities of ``frame`` (the pipeline's input columns)."""
        return self.final(self.features(Reader.of_frame(frame)))

    def score_columns(self, reader: Reader) -> Outputs:
        """Predictions and probabilities of the columns ``reader`` gives."""
        return self.final(self.features(reader))


def reference_outputs(model: Any, frame: pd.DataFrame, probabilistic: bool) -> Outputs:
    """What scikit-learn gives: ``predict`` and, if ``probabilistic``, ``predict_proba``."""
    probs = np.asarray(model.predict_proba(frame)) if probabilistic else None
    return np.asarray(model.predict(frame)), probs


def _agree(ours: Outputs, theirs: Outputs) -> bool:
    (predictions, probs), (expected, expected_probs) = ours, theirs
    if predictions.shape != expected.shape:
        return False
    if predictions.dtype.kind == "f" and expected.dtype.kind == "f":  # a regression's values
        if not np.allclose(predictions, expected, rtol=RTOL, atol=ATOL):
            return False
    elif not (predictions == expected).all():  # classes: exactly scikit-learn's
        return False
    if probs is None or expected_probs is None:
        return probs is None and expected_probs is None
    return probs.shape == expected_probs.shape and bool(
        np.allclose(probs, expected_probs, rtol=RTOL, atol=ATOL)
    )


def _build(model: Any, probabilistic: bool) -> CompiledModel | None:
    if not isinstance(model, Pipeline) or len(model.steps) < 2:
        return None
    names = [str(n) for n in getattr(model, "feature_names_in_", [])]
    head = _head([step for _, step in model.steps[:-1] if step != "passthrough"], names)
    if head is None:
        return None
    final_step = model.steps[-1][1]
    linear = _linear(final_step, probabilistic)
    final = linear if linear is not None else _estimator(final_step, probabilistic)
    return CompiledModel(head, final, linear is not None)


def compile_model(model: Any, probes: pd.DataFrame, probabilistic: bool) -> CompiledModel | None:
    """``model`` compiled, or None when a step is not supported or the outputs disagree.

    Args:
        model: A fitted scikit-learn ``Pipeline``.
        probes: Input rows (the model's columns) scored both ways; without
            rows nothing can be compared, and None is returned.
        probabilistic: Whether class probabilities are wanted.
    """
    try:
        compiled = _build(model, probabilistic)
    except Exception:  # an unexpected fitted attribute: leave the model to scikit-learn
        logger.debug("the model could not be compiled", exc_info=True)
        return None
    if compiled is None or not len(probes):
        return None
    try:
        agree = _agree(compiled.score(probes), reference_outputs(model, probes, probabilistic))
    except Exception:
        logger.debug("the compiled model failed on the probe rows", exc_info=True)
        return None
    if not agree:
        logger.warning("the compiled model disagrees with scikit-learn: scoring with scikit-learn")
        return None
    return compiled
