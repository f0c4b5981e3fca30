"""RunBrowser driven from code: filters, selection, side-by-side table, metric plot."""

from __future__ import annotations

from mlops_nb.widgets import RunBrowser
from tests.pipeline.test_compare import ID_1, ID_2, ID_3, make_record, write_run

PNG = b"\x89PNG"


def test_an_empty_project_says_no_runs_yet(settings):
    browser = RunBrowser(settings)
    assert "no runs yet" in browser.message.value
    assert browser.runs.options == () and browser.table.value == ""
    assert browser.plot.value == b"" and browser.metric.options == ()
    assert not settings.database.exists(), "browsing must not create the stores"
    bundle = browser._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_the_latest_two_runs_are_compared_side_by_side(settings, runs):
    browser = RunBrowser(settings)
    assert "3 of 3 runs match" in browser.message.value
    assert [value for _, value in browser.runs.options] == [ID_3, ID_2, ID_1]
    assert browser.selected == [ID_2, ID_3]
    assert set(browser.pipeline.options) == {"(all)", "train", "monitor"}

    browser.runs.value = (ID_1, ID_2)
    table = browser.table.value
    assert "seed" in table and "train.cv_roc_auc" in table and "0.84" in table
    assert "background: #fff4c2" in table  # differing rows are highlighted
    assert f"{ID_1}/index.html" in browser.links.value
    assert browser.metric.value == "train.cv_roc_auc"
    assert bytes(browser.plot.value).startswith(PNG)

    browser.only_differences.value = True
    assert "train.trials" not in browser.table.value and "seed" in browser.table.value

    browser.metric.value = "train.trials"
    assert bytes(browser.plot.value).startswith(PNG)


def test_filters_by_pipeline_status_text_and_tracking_expression(settings, runs):
    browser = RunBrowser(settings)
    browser.pipeline.value = "monitor"
    assert [v for _, v in browser.runs.options] == [ID_3]
    browser.pipeline.value = "(all)"
    browser.status.value = "succeeded"
    assert [v for _, v in browser.runs.options] == [ID_2, ID_1]
    browser.status.value = "(any)"

    browser.query.value = "logistic"
    assert [v for _, v in browser.runs.options] == [ID_2]
    browser.query.value = "metrics.cv_roc_auc > 0.82"
    assert [v for _, v in browser.runs.options] == [ID_2]
    assert "1 of 3 runs match" in browser.message.value

    browser.query.value = "metrics.cv_roc_auc >"
    assert "filter:" in browser.message.value and "mlops-nb-error" in browser.message.value
    assert browser.runs.options == ()

    browser.query.value = "nothing like this"
    assert "no run matches" in browser.message.value
    assert "select one or more runs" in browser.table.value


def test_refresh_finds_new_runs_and_keeps_the_selection(settings, runs):
    browser = RunBrowser(settings)
    browser.runs.value = (ID_1,)
    newer = "20261123T160000.000000Z-ffff"
    write_run(settings.runs_dir, make_record(newer, "evaluate<script>"))
    browser.refresh_button.click()
    assert newer in [v for _, v in browser.runs.options]
    assert browser.selected == [ID_1]
    browser.runs.value = (newer,)
    assert "evaluate&lt;script&gt;" in browser.table.value and "<script>" not in browser.table.value
