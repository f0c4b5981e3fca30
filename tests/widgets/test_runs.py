"""RunBrowser driven from code: filters, selection, side-by-side table, metric plot."""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg

from mlops_nb.lab.links import DIR_ENV, URL_ENV
from mlops_nb.widgets import RunBrowser
from mlops_nb.widgets._base import PLOT_DPI, png_size
from tests.pipeline.test_compare import ID_1, ID_2, ID_3, ID_4, make_record, write_run

PNG = b"\x89PNG"


def test_an_empty_project_says_no_runs_yet(settings):
    browser = RunBrowser(settings)
    assert "no runs yet" in browser.message.value
    assert browser.runs.options == () and browser.table.value == ""
    assert browser.plot.value == b"" and browser.metric.options == ()
    assert not settings.database.exists(), "browsing must not create the stores"
    bundle = browser._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_the_newest_two_runs_of_one_pipeline_are_compared_side_by_side(settings, runs):
    browser = RunBrowser(settings)
    assert "3 of 3 runs match" in browser.message.value
    assert [value for _, value in browser.runs.options] == [ID_3, ID_2, ID_1]
    assert browser.selected == [ID_1, ID_2], "the newest run (monitor) has no other to compare"
    assert set(browser.pipeline.options) == {"(all)", "train", "monitor"}

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


def test_the_default_pair_is_the_newest_pipeline_run_twice(settings, runs):
    write_run(settings.runs_dir, make_record(ID_4, "monitor"))
    assert RunBrowser(settings).selected == [ID_3, ID_4]
    browser = RunBrowser(settings)
    browser.pipeline.value = "train"
    browser.runs.value = ()
    browser.pipeline.value = "(all)"  # nothing kept: the default again
    assert browser.selected == [ID_3, ID_4]


def test_a_single_run_is_selected_alone(settings):
    write_run(settings.runs_dir, make_record(ID_1))
    assert RunBrowser(settings).selected == [ID_1]


def test_report_links_look_like_links_and_open_a_new_tab(settings, runs, monkeypatch):
    links = RunBrowser(settings).links.value
    assert f'href="project/outputs/runs/{ID_1}/index.html"' in links  # relative to the cwd
    assert 'target="_blank"' in links and "text-decoration: underline" in links
    assert "color: var(--jp-content-link-color" in links

    monkeypatch.setenv(URL_ENV, "/mlops-nb/runs/")  # what the server extension exports
    monkeypatch.setenv(DIR_ENV, str(settings.runs_dir))
    links = RunBrowser(settings).links.value
    assert f'href="/mlops-nb/runs/{ID_1}/index.html"' in links
    assert f'href="/mlops-nb/runs/{ID_2}/index.html"' in links

    monkeypatch.setenv(DIR_ENV, str(settings.root / "elsewhere"))  # another project's runs
    assert f'href="project/outputs/runs/{ID_1}/index.html"' in RunBrowser(settings).links.value


def test_the_plot_is_sharp_at_its_natural_size_with_labels_inside(settings, runs):
    browser = RunBrowser(settings)
    png = bytes(browser.plot.value)
    width, height = png_size(png)
    assert (width, height) == (7 * PLOT_DPI, 3 * PLOT_DPI) and PLOT_DPI >= 110
    layout = browser.plot.layout
    assert (layout.width, layout.max_width, layout.height) == (f"{width}px", "100%", "auto")
    assert layout.align_self == "flex-start"  # not stretched to the box's width

    figure = browser.metric_figure("train.cv_roc_auc")
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    (ax,) = figure.axes
    frame = ax.get_window_extent()
    labels = [t for t in ax.texts if t.get_text()]
    assert [t.get_text() for t in labels] == ["0.8", "0.84"]
    for label in labels:
        box = label.get_window_extent(canvas.get_renderer())
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1, f"{label.get_text()} leaves the frame"
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1


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
