"""Fitted scikit-learn steps as plain numpy functions of a 2-D array.

Each supported step becomes a :class:`Step`: the array kind it reads
(``float``, ``object`` or ``any``, as the step's own input check would convert
it) and a function computing exactly what its ``transform`` computes, without
the input checks, feature-name bookkeeping and pandas wrapping that cost
scikit-learn several milliseconds per call whatever the number of rows. A
step that is not listed, or fitted with options not handled here, compiles to
None: the model is then scored by scikit-learn as before.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops_nb.features.select import FeatureSelector
from mlops_nb.features.steps import MissingFlags, TextCategories, to_text
from mlops_nb.prep.outliers import OutlierClipper

__all__ = ["Step", "as_kind", "compile_step"]

Transform = Callable[[np.ndarray], np.ndarray]
UNKNOWN = "\x00mlops-nb: a category no fit has seen\x00"
"""Probed to learn what a one-hot encoder does with an unknown value."""


@dataclass(frozen=True)
class Step:
    """A compiled step: ``run(as_kind(x, kind))`` equals the fitted step's ``transform(x)``."""

    kind: str
    run: Transform


def as_kind(values: np.ndarray, kind: str) -> np.ndarray:
    """``values`` as the step's input check would convert them."""
    if kind == "float" and values.dtype != np.float64:
        return values.astype(np.float64)
    if kind == "object" and values.dtype != object:
        return values.astype(object)
    return values


def _chain(steps: list[Step]) -> Step:
    def run(values: np.ndarray) -> np.ndarray:
        for step in steps:
            values = step.run(as_kind(values, step.kind))
        return values

    return Step(steps[0].kind, run)


def _pipeline(pipeline: Pipeline) -> Step | None:
    steps = [compile_step(step) for _, step in pipeline.steps if step != "passthrough"]
    if not steps or any(step is None for step in steps):
        return None
    return _chain([step for step in steps if step is not None])


def _missing(values: np.ndarray) -> np.ndarray:
    """scikit-learn's mask of ``missing_values=np.nan``: NaN, also in object arrays."""
    mask: np.ndarray = np.not_equal(values, values) if values.dtype == object else np.isnan(values)
    return mask.astype(bool, copy=False)


def _imputer(imputer: SimpleImputer) -> Step | None:
    missing = imputer.missing_values
    if imputer.add_indicator or not (isinstance(missing, float) and math.isnan(missing)):
        return None
    statistics = np.asarray(imputer.statistics_)
    keep = None
    if imputer.strategy != "constant" and not imputer.keep_empty_features:
        valid = ~_missing(statistics)
        if not valid.all():
            keep, statistics = np.flatnonzero(valid), statistics[valid]
    numeric = imputer.strategy in ("mean", "median")
    kind = "float" if numeric else ("object" if statistics.dtype == object else "any")

    def run(values: np.ndarray) -> np.ndarray:
        if keep is not None:
            values = values[:, keep]
        mask = _missing(values)
        if not mask.any():
            return values
        return np.where(mask, statistics.astype(values.dtype, copy=False), values)

    return Step(kind, run)


def _scaler(scaler: StandardScaler) -> Step:
    mean = scaler.mean_ if scaler.with_mean else None
    scale = scaler.scale_ if scaler.with_std else None

    def run(values: np.ndarray) -> np.ndarray:
        out = values.copy()
        if mean is not None:
            out -= mean
        if scale is not None:
            out /= scale
        return out

    return Step("float", run)


def _clipper(clipper: OutlierClipper) -> Step:
    lower, upper = clipper.lower_, clipper.upper_
    return Step("float", lambda values: np.clip(values, lower, upper))


def _text(_: TextCategories) -> Step:
    return Step("object", lambda values: to_text(values).astype(object))


def _flags(flags: MissingFlags) -> Step:
    features = flags.features_
    return Step("object", lambda values: pd.isna(values[:, features]).astype(np.float64))


def _selector(selector: FeatureSelector) -> Step:
    support = np.flatnonzero(selector.support_)
    return Step("any", lambda values: values[:, support])


LOOKUP_ROWS = 512
"""Up to this many rows a one-hot column is looked up value by value; beyond, vectorized."""


@dataclass(frozen=True)
class _Categories:
    """One encoded column: where each value's output row is (unknown: the last row)."""

    index: pd.Index
    positions: dict[Any, int]
    nan: int
    table: np.ndarray

    def encode(self, values: np.ndarray) -> np.ndarray:
        if len(values) > LOOKUP_ROWS:
            rows = self.index.get_indexer(values)
        else:
            get, nan = self.positions.get, self.nan
            rows = np.array([nan if _is_nan(v) else get(v, -1) for v in values.tolist()], np.intp)
        encoded: np.ndarray = self.table[rows]
        return encoded


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _categories(cats: np.ndarray, table: np.ndarray) -> _Categories:
    positions = {value: i for i, value in enumerate(cats.tolist()) if not _is_nan(value)}
    nan = next((i for i, value in enumerate(cats.tolist()) if _is_nan(value)), -1)
    return _Categories(pd.Index(cats, dtype=object), positions, nan, table)


def _one_hot_tables(encoder: OneHotEncoder) -> list[_Categories] | None:
    """Per input column: its categories and the output rows (one per category, then unknown).

    The rows are the fitted encoder's own outputs for each category and for an
    unknown value, so infrequent categories, dropped columns and unknown
    values come out exactly as ``transform`` gives them.
    """
    widths = getattr(encoder, "_n_features_outs", None)
    if encoder.sparse_output or widths is None or encoder.handle_unknown == "error":
        return None
    categories = [np.asarray(cats, dtype=object) for cats in encoder.categories_]
    longest = max(len(cats) for cats in categories)
    probe = np.empty((longest + 1, len(categories)), dtype=object)
    for column, cats in enumerate(categories):
        probe[:longest, column] = [cats[min(i, len(cats) - 1)] for i in range(longest)]
        probe[longest, column] = UNKNOWN
    names = getattr(encoder, "feature_names_in_", None)
    frame = pd.DataFrame(probe, columns=names, dtype=object) if names is not None else probe
    encoded = np.asarray(encoder.transform(frame))
    tables, start = [], 0
    for cats, width in zip(categories, widths, strict=True):
        block = encoded[:, start : start + width]
        rows = [*range(len(cats)), longest]
        tables.append(_categories(cats, np.ascontiguousarray(block[rows])))
        start += width
    return tables


def _one_hot(encoder: OneHotEncoder) -> Step | None:
    try:
        tables = _one_hot_tables(encoder)
    except Exception:  # an encoder that refuses the probe: leave it to scikit-learn
        return None
    if tables is None:
        return None

    def run(values: np.ndarray) -> np.ndarray:
        parts = [table.encode(values[:, column]) for column, table in enumerate(tables)]
        return np.hstack(parts) if parts else np.empty((len(values), 0))

    return Step("object", run)


COMPILERS: dict[type, Callable[[Any], Step | None]] = {
    Pipeline: _pipeline,
    SimpleImputer: _imputer,
    StandardScaler: _scaler,
    OutlierClipper: _clipper,
    TextCategories: _text,
    MissingFlags: _flags,
    FeatureSelector: _selector,
    OneHotEncoder: _one_hot,
}


def compile_step(step: Any) -> Step | None:
    """The compiled form of a fitted step, or None when it is not one handled here.

    Only these exact classes compile (not subclasses, which may change what they compute).
    """
    compiler = COMPILERS.get(type(step))
    return None if compiler is None else compiler(step)
