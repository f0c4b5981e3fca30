"""The drift figures build without pyplot."""

from __future__ import annotations

import io
from collections.abc import Iterator

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mlops_nb.data import generate_churn
from mlops_nb.monitoring import DriftDetector, drift_figure, drift_overview_figure
from mlops_nb.monitoring.plots import MAX_RATIO_SHOWN
from tests.monitoring.conftest import REGION_P, REGIONS, make_frame


@pytest.fixture(autouse=True)
def no_pyplot_figures() -> Iterator[None]:
    plt.close("all")
    yield
    assert plt.get_fignums() == []


def rendered(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def test_numeric_figure_shows_cdfs_and_bins(detector: DriftDetector) -> None:
    current = make_frame(3_000, 1, shift=0.5)
    report = detector.test(current)

    figure = drift_figure(detector, current, "income", report=report)
    cdf, bins = figure.axes
    assert cdf.get_title() == "Empirical CDF" and len(cdf.get_lines()) == 2
    assert bins.get_title().startswith("Rows per reference quantile bin")
    assert len(bins.patches) == 2 * 20
    assert figure.get_suptitle().startswith("income: DRIFT\nmean 50,0")
    assert rendered(figure).startswith(b"\x89PNG")


def test_categorical_figure_marks_new_categories(detector: DriftDetector) -> None:
    regions = np.array([*REGIONS, "moon"])
    current = make_frame(3_000, 1, regions=regions, region_p=np.r_[REGION_P * 0.93, 0.07])

    figure = drift_figure(detector.profile_, current, "region")
    (ax,) = figure.axes
    labels = [tick.get_text() for tick in ax.get_xticklabels()]
    assert labels[-1] == "moon\n(new)" and labels[0] == "north"
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == "current, new category"
    assert figure.get_suptitle().startswith("region: DRIFT\nnew category 'moon'")
    assert rendered(figure).startswith(b"\x89PNG")


def test_column_without_report_is_tested_alone(detector: DriftDetector) -> None:
    figure = drift_figure(detector, make_frame(3_000, 2), "age")
    assert figure.get_suptitle().startswith("age: no drift\nno drift: KS p=")


def test_skipped_column_figure_says_so() -> None:
    reference = generate_churn(2_000, seed=0)
    detector = DriftDetector().fit(reference)
    figure = drift_figure(detector, generate_churn(500, seed=1), "customer_id")
    assert figure.get_suptitle().startswith("customer_id: skipped\nskipped: ")


def test_overview_has_a_bar_per_column_and_the_verdict(detector: DriftDetector) -> None:
    reference = make_frame(5_000, 0).assign(prediction=np.linspace(0, 1, 5_000))
    with_prediction = DriftDetector().fit(reference)
    current = make_frame(2_000, 1, shift=0.5).assign(prediction=np.linspace(0, 1, 2_000))
    report = with_prediction.test(current)

    figure = drift_overview_figure(report)
    (ax,) = figure.axes
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels == [
        "income",
        "age",
        "score",
        "children",
        "region",
        "member",
        "prediction (prediction)",
    ]
    assert ax.get_title() == (
        "no dataset drift: 1 of 6 checked features drifted (17%; threshold 50%)"
    )
    assert "capped" not in ax.get_xlabel()
    assert ax.patches[0].get_facecolor()[:3] == pytest.approx((0.839, 0.153, 0.157), abs=0.01)
    assert rendered(figure).startswith(b"\x89PNG")


def test_overview_marks_capped_bars_and_keeps_labels_inside_the_frame(
    detector: DriftDetector,
) -> None:
    report = detector.test(make_frame(2_000, 1, shift=8.0))  # income: ~80 × its threshold
    income = report.features.set_index("column").loc["income"]
    assert income["effect"] / income["threshold"] > MAX_RATIO_SHOWN

    figure = drift_overview_figure(report)
    (ax,) = figure.axes
    names = [label.get_text() for label in ax.get_yticklabels()]
    bars = dict(zip(names, ax.patches, strict=True))
    assert bars["income"].get_width() == MAX_RATIO_SHOWN
    assert bars["income"].get_hatch() == "//" and bars["age"].get_hatch() is None
    assert f"bars capped at {MAX_RATIO_SHOWN:g} are hatched" in ax.get_xlabel()
    labels = [t.get_text() for t in ax.texts]
    capped = [text for text in labels if "capped" in text]
    assert len(capped) == 1 and capped[0].startswith("wasserstein")
    ratio = round(income["effect"] / income["threshold"])
    assert f"({ratio}× threshold, capped)" in capped[0]

    canvas = FigureCanvasAgg(figure)
    canvas.draw()  # lays the texts out
    frame = ax.get_window_extent()
    renderer = canvas.get_renderer()
    for text in ax.texts:
        box = text.get_window_extent(renderer)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, f"{text.get_text()!r} leaves the frame"


def test_unknown_column_is_refused(detector: DriftDetector) -> None:
    from mlops_nb.monitoring import MonitoringError

    with pytest.raises(MonitoringError, match="salary"):
        drift_figure(detector, make_frame(100, 1), "salary")
    with pytest.raises(MonitoringError, match="not in the current data"):
        drift_figure(detector, make_frame(100, 1).drop(columns=["age"]), "age")
