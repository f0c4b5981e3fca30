"""DriftExplorer driven from code: a registered profile against current data."""

from __future__ import annotations

from mlops_nb.widgets import DriftExplorer
from mlops_nb.widgets._base import PLOT_DPI, png_size

PNG = b"\x89PNG"


def test_an_empty_project_says_no_models_yet(settings):
    explorer = DriftExplorer(settings)
    assert "no models yet" in explorer.message.value
    assert explorer.model.value == ""
    explorer.check_button.click()
    assert "type a model reference" in explorer.message.value
    assert explorer.report is None and not settings.database.exists()


def test_check_drift_shows_the_features_table_and_plots(models, current_csv):
    explorer = DriftExplorer(models, data=current_csv)
    assert explorer.model.value == "churn@production"
    assert {"churn@production", "churn@staging", "churn:latest"} <= set(explorer.model.options)
    explorer.check_button.click()

    assert "mlops-nb-ok" in explorer.message.value, explorer.message.value
    assert "churn:1 against 400 rows" in explorer.message.value
    report = explorer.report
    assert "tenure" in report.drifted_columns
    assert "DRIFT" in explorer.summary.value or "tenure" in explorer.summary.value
    table = explorer.table.value
    assert "tenure" in table and "charges" in table and "prediction" in table
    assert "background: #fbdada" in table  # the drifted row
    overview = bytes(explorer.overview.value)
    assert overview.startswith(PNG)
    width, _ = png_size(overview)
    assert width == 9 * PLOT_DPI  # the overview is 9 inches wide, shown pixel for pixel
    assert explorer.overview.layout.width == f"{width}px"
    assert explorer.overview.layout.max_width == "100%"
    assert explorer.plot.layout.width == f"{png_size(bytes(explorer.plot.value))[0]}px"
    assert explorer.feature.value == "tenure"  # the largest effect first
    first = bytes(explorer.plot.value)
    assert first.startswith(PNG)
    explorer.feature.value = "plan"
    assert bytes(explorer.plot.value).startswith(PNG) and bytes(explorer.plot.value) != first


def test_same_distribution_and_errors(models, current_csv):
    explorer = DriftExplorer(models, model="churn:2", data="same.csv")
    assert explorer.check() is True
    assert explorer.report.drifted_columns == []

    explorer.model.value = "churn@nowhere"
    assert explorer.check() is False
    assert "mlops-nb-error" in explorer.message.value and "nowhere" in explorer.message.value
    assert explorer.report is None and explorer.table.value == ""
    assert explorer.feature.options == ()

    explorer.model.value = "churn@production"
    explorer.data.value = "missing.csv"
    explorer.check_button.click()
    assert "mlops-nb-error" in explorer.message.value and "missing.csv" in explorer.message.value

    explorer.data.value = "sample:churn?rows=200"  # other columns than the model's
    explorer.check_button.click()
    assert "lacks the model" in explorer.message.value and "tenure" in explorer.message.value
