"""Scoring: a registered model with its input checker, shared by the server and the worker.

:class:`Scorer` checks inputs against the model's signature (with
:class:`~mlops_nb.validation.fast.InputChecker`) and predicts on the valid ones.
A scikit-learn ``Pipeline`` whose steps :mod:`mlops_nb.serving.compiled` handles is
scored by its compiled form (the same outputs, checked on probe rows when the
scorer is built, without scikit-learn's cost of several milliseconds per call);
otherwise the feature steps run once and the final estimator gives both the
predictions and the class probabilities, which is exactly what ``predict`` and
``predict_proba`` would return, for half the cost.

:func:`~mlops_nb.jsonvalues.finite_list` turns model outputs into JSON values.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from mlops_nb.jsonvalues import finite_list
from mlops_nb.registry import LoadedModel
from mlops_nb.serving.compiled import CompiledModel, Reader, compile_model, probe_frame
from mlops_nb.validation.fast import Checked, InputChecker, RowError

__all__ = ["Scorer", "Scores", "merge_checked"]

logger = logging.getLogger(__name__)

REGRESSION = "regression"
NUMERIC = frozenset({"int", "float", "bool"})


@dataclass(frozen=True)
class Scores:
    """Model outputs for some rows.

    Attributes:
        predictions: One prediction per row.
        probabilities: Rows x classes, or None (regression, or no ``predict_proba``).
    """

    predictions: np.ndarray
    probabilities: np.ndarray | None

    def __len__(self) -> int:
        return len(self.predictions)

    def part(self, start: int, stop: int) -> Scores:
        """The scores of rows ``start`` to ``stop`` (exclusive)."""
        probs = None if self.probabilities is None else self.probabilities[start:stop]
        return Scores(self.predictions[start:stop], probs)


def merge_checked(items: Sequence[Checked]) -> Checked:
    """Concatenate several checked inputs (all without errors) into one."""
    if len(items) == 1:
        return items[0]
    names = list(items[0].values)
    return Checked(
        {name: list(chain.from_iterable(c.values[name] for c in items)) for name in names},
        sum(c.rows for c in items),
        [],
    )


def _split(model: Any) -> tuple[Any, Any]:
    """``(feature steps, final estimator)`` of a Pipeline, ``(None, model)`` otherwise."""
    if isinstance(model, Pipeline) and len(model.steps) > 1:
        return model[:-1], model.steps[-1][1]
    if isinstance(model, Pipeline):
        return None, model.steps[-1][1]
    return None, model


class Scorer:
    """Checks inputs against a registered model's signature and predicts.

    Args:
        loaded: The model as :meth:`mlops_nb.registry.Registry.load` returns it.
        compile: Score with the compiled pipeline when it agrees with the model
            (see :mod:`mlops_nb.serving.compiled`); False: always scikit-learn.

    Attributes:
        compiled: The compiled pipeline in use, or None.
    """

    def __init__(self, loaded: LoadedModel, *, compile: bool = True) -> None:
        self.loaded = loaded
        self.checker = InputChecker(loaded.signature)
        self._features, self._final = _split(loaded.model)
        task = str(loaded.version.task).lower()
        self.probabilistic = task != REGRESSION and hasattr(self._final, "predict_proba")
        classes = getattr(self._final, "classes_", None) if self.probabilistic else None
        self.classes: tuple[Any, ...] = (
            tuple(np.asarray(classes).tolist()) if classes is not None else ()
        )
        self.labels: tuple[str, ...] = tuple(str(c) for c in self.classes)
        self.compiled: CompiledModel | None = None
        self._plain = all(rule.kind != "any" for rule in self.checker.rules)
        self._kinds = {
            rule.name: (rule.kind in NUMERIC, getattr(rule.dtype, "na_value", np.nan))
            for rule in self.checker.rules
        }
        if compile:
            probes = probe_frame(self.checker)
            self.compiled = compile_model(loaded.model, probes, self.probabilistic)

    @property
    def name(self) -> str:
        return self.loaded.version.name

    @property
    def version(self) -> int:
        return self.loaded.version.version

    def predict(self, frame: pd.DataFrame) -> Scores:
        """Predict on ``frame``, which must already satisfy the signature."""
        if len(frame) == 0:
            width = len(self.classes) if self.probabilistic else 0
            return Scores(np.empty(0), np.empty((0, width)) if self.probabilistic else None)
        if self.compiled is not None:
            try:
                return Scores(*self.compiled.score(frame))
            except Exception:  # scikit-learn then scores, and raises its own error if any
                logger.debug("the compiled model failed; scoring with scikit-learn", exc_info=True)
        features = frame if self._features is None else self._features.transform(frame)
        predictions = np.asarray(self._final.predict(features))
        probs = np.asarray(self._final.predict_proba(features)) if self.probabilistic else None
        return Scores(predictions, probs)

    def score_checked(self, checked: Checked) -> Scores:
        """Predict on checked JSON inputs (see :meth:`InputChecker.check_records`).

        The compiled pipeline reads the checked values as they are, with no
        frame built in between (unless a column's type is left to pandera).
        """
        if self.compiled is not None and self._plain and checked.rows:
            try:
                return Scores(*self.compiled.score_columns(self._reader(checked)))
            except Exception:  # scikit-learn then scores, and raises its own error if any
                logger.debug("the compiled model failed; scoring with scikit-learn", exc_info=True)
        return self.predict(self.checker.build_frame(checked))

    def _reader(self, checked: Checked) -> Reader:
        """The checked values as the compiled pipeline reads them (None: missing)."""
        kinds, values = self._kinds, checked.values

        def column(name: str) -> tuple[Any, bool, Any]:
            numeric, missing = kinds[name]
            return values[name], numeric, missing

        return Reader(column, checked.rows)

    def score_records(self, records: Sequence[Any]) -> tuple[Scores | None, list[RowError]]:
        """Check and score JSON records: ``(scores, [])``, or ``(None, errors)`` if any fails."""
        checked = self.checker.check_records(records)
        if not checked.ok:
            return None, checked.errors
        return self.score_checked(checked), []

    def score_frame(self, df: pd.DataFrame) -> tuple[pd.DataFrame, Scores, list[RowError]]:
        """Check ``df`` and score its valid rows.

        Returns:
            The valid rows (``df``'s index kept), their scores, and the failures
            of the other rows.
        """
        valid, errors = self.checker.check_frame(df)
        return valid, self.predict(valid), errors

    def to_json(self, scores: Scores) -> dict[str, Any]:
        """``{"predictions": [...], "probabilities": [{class: p}, ...]}`` as plain values."""
        out: dict[str, Any] = {"predictions": finite_list(scores.predictions)}
        if scores.probabilities is not None:
            labels = self.labels
            out["probabilities"] = [
                dict(zip(labels, row, strict=True)) for row in finite_list(scores.probabilities)
            ]
        return out
