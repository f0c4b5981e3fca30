"""Tests of the evaluation figures."""

from __future__ import annotations

import io
from collections.abc import Iterator

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from mlops_nb.modeling import (
    TuningResult,
    confusion_matrix_figure,
    evaluation_figures,
    residuals_figure,
    roc_pr_figure,
)
from tests.modeling.conftest import Problem


@pytest.fixture(autouse=True)
def no_pyplot_figures() -> Iterator[None]:
    plt.close("all")
    yield
    assert plt.get_fignums() == []


def rendered(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def test_binary_figures(binary: Problem, binary_result: TuningResult) -> None:
    figures = evaluation_figures(
        binary_result.best_estimator, binary.X_test, binary.y_test, "binary"
    )

    assert list(figures) == ["confusion_matrix", "roc_pr"]
    assert all(isinstance(f, Figure) for f in figures.values())
    assert len(figures["confusion_matrix"].axes) == 1
    roc, pr = figures["roc_pr"].axes
    assert roc.get_legend_handles_labels()[1][0].startswith("yes (AUC ")
    assert pr.get_legend_handles_labels()[1][0].startswith("yes (AP ")
    assert all(rendered(f).startswith(b"\x89PNG") for f in figures.values())


def test_multiclass_roc_pr_has_a_curve_per_class(
    multiclass: Problem, multiclass_result: TuningResult
) -> None:
    figures = evaluation_figures(
        multiclass_result.best_estimator, multiclass.X_test, multiclass.y_test, "multiclass"
    )

    roc, pr = figures["roc_pr"].axes
    assert len(roc.get_legend_handles_labels()[1]) == 3
    assert len(pr.get_legend_handles_labels()[1]) == 3
    labels = [t.get_text() for t in figures["confusion_matrix"].axes[0].get_xticklabels()]
    assert labels == ["0", "1", "2"]


def test_regression_figures(regression: Problem, regression_result: TuningResult) -> None:
    figures = evaluation_figures(
        regression_result.best_estimator, regression.X_test, regression.y_test, "regression"
    )

    assert list(figures) == ["residuals"]
    assert len(figures["residuals"].axes) == 2
    rendered(figures["residuals"])


def test_figures_from_predictions() -> None:
    y = np.array(["a", "b", "b", "a"])
    matrix = confusion_matrix_figure(y, np.array(["a", "b", "a", "a"]))
    counts = [t.get_text() for t in matrix.axes[0].texts]

    assert counts == ["2\n100%", "0\n0%", "1\n50%", "1\n50%"]
    residuals = residuals_figure([1.0, 2.0, 3.0], [1.1, 1.9, 3.5])
    assert len(residuals.axes) == 2


def test_roc_pr_with_a_single_class_says_undefined() -> None:
    figure = roc_pr_figure(["a", "a"], [[0.7, 0.3], [0.4, 0.6]], ["a", "b"])

    assert all("undefined" in ax.texts[0].get_text() for ax in figure.axes)
    rendered(figure)
