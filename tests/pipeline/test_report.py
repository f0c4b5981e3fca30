"""The run report index.html: timeline, cache marks, model, decisions, changes since last run."""

from __future__ import annotations

import json
import re
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from mlops_nb.pipeline.report import gate_decision, write_index
from mlops_nb.pipeline.stage_report import export_html
from tests.pipeline.test_compare import ID_1, ID_2, ID_3, make_record, write_run

TRAIN_METRICS = {
    "train": {"cv_roc_auc": 0.8, "trials": 6},
    "evaluate": {"roc_auc": 0.81, "accuracy": 0.77},
    "register": {"version": 4, "promoted": True},
}
TRAIN_NOTES = {"evaluate": {"decision": "promote"}, "register": {"model": "churn"}}
DECISION = {
    "promote": True,
    "reason": "challenger 0.81 vs champion 0.79: improvement 0.02 is at least the margin",
    "margin": 0.02,
    "champion": 0.79,
    "challenger": 0.81,
    "model_name": "churn",
    "metric": "roc_auc",
    "alias": "production",
    "champion_version": 3,
}


def train_run(runs_dir, run_id, **extra):
    record = make_record(run_id, metrics=TRAIN_METRICS, notes=TRAIN_NOTES, **extra)
    evaluate = record["stages"][1]
    evaluate["artifacts"] = {"decision": {"file": "decision.json", "kind": "json"}}
    folder = write_run(runs_dir, record)
    (folder / evaluate["dir"]).mkdir()
    (folder / evaluate["dir"] / "decision.json").write_text(json.dumps(DECISION))
    return folder, record


def test_index_shows_timeline_cache_links_model_and_decision(tmp_path):
    folder, record = train_run(tmp_path / "runs", ID_1)
    record["stages"][0].update(
        cached=True, cached_from="20261122T100000.000000Z-0000", kernel_seconds=0.25
    )
    html = write_index(folder, record).read_text()

    assert 'class="status cached"' in html and "is-cached" in html
    assert 'href="../20261122T100000.000000Z-0000/index.html"' in html
    assert "kernel 0.25" in html
    assert html.count('class="bar ') == 3 and "width: " in html
    assert 'href="01_train/report.html"' in html and 'href="02_evaluate/executed.ipynb"' in html
    assert "<code>churn:4</code>" in html
    assert "promote" in html and "improvement 0.02 is at least the margin" in html
    assert "champion 0.79 (v3)" in html and "alias <code>production</code>" in html
    assert "Headline metrics" in html and "evaluate.roc_auc" in html
    assert "first run of pipeline" in html


def test_index_shows_changes_since_the_previous_run_of_the_pipeline(tmp_path):
    runs = tmp_path / "runs"
    train_run(runs, ID_1, params={"seed": 1})
    write_run(runs, make_record(ID_2, "monitor", decision="ok"))  # another pipeline
    folder, record = train_run(runs, ID_3, params={"seed": 2, "budget": 9})
    record["metrics"]["evaluate.roc_auc"] = 0.9
    html = write_index(folder, record).read_text()

    assert f'href="../{ID_1}/index.html"' in html and ID_2 not in html
    section = html.split("Changes since the previous run")[1].split("All metrics")[0]
    assert "<td>seed" in section and "<code>1</code>" in section and "<code>2</code>" in section
    assert "budget" in section and "(added)" in section
    assert "evaluate.roc_auc" in section and "+0.09" in section and "+11.1%" in section
    assert "train.cv_roc_auc" not in section  # equal metrics are not listed
    assert "+0.09 vs previous" in html  # on the headline card too


def test_index_says_no_differences_against_an_identical_previous_run(tmp_path):
    runs = tmp_path / "runs"
    train_run(runs, ID_1)
    folder, record = train_run(runs, ID_2)
    html = write_index(folder, record).read_text()
    assert "no differences in params or metrics" in html


def test_monitor_decision_retraining_and_trigger(tmp_path):
    runs = tmp_path / "runs"
    record = make_record(
        ID_2,
        "monitor",
        metrics={"monitor": {"drift_share": 0.6}, "retrain": {}},
        notes={"monitor": {"decision": "drift"}},
        decision="drift",
        decision_reason="6 of 10 features drifted",
        monitored_model="churn:4",
        retraining={"status": "succeeded", "run": ID_3, "summary": "registered churn:5"},
        trigger={"pipeline": "schedule", "run": ID_1, "stage": "cron", "decision": "<b>"},
    )
    folder = write_run(runs, record)
    html = write_index(folder, record).read_text()
    assert 'class="status drift">drift' in html and "6 of 10 features drifted" in html
    assert "registered churn:5" in html and f'href="../{ID_3}/index.html"' in html
    assert f'Started by run <a href="../{ID_1}/index.html">' in html
    assert "&lt;b&gt;" in html and "<b>" not in html  # escaped


def test_a_damaged_previous_run_or_odd_record_does_not_break_the_report(tmp_path):
    runs = tmp_path / "runs"
    damaged = runs / ID_1
    damaged.mkdir(parents=True)
    (damaged / "run.json").write_text("{oops")
    folder = runs / ID_2
    folder.mkdir()
    record = {"id": ID_2, "pipeline": "train", "status": "running", "stages": [{"name": "a"}]}
    html = write_index(folder, record).read_text()
    assert "first run of pipeline" in html and "running" in html

    previous = make_record(ID_1)
    previous["metrics"] = ["not", "a", "dict"]
    previous["stages"] = "nonsense"
    (damaged / "run.json").write_text(json.dumps(previous))
    html = write_index(folder, make_record(ID_2)).read_text()
    assert f"../{ID_1}/index.html" in html


def test_write_index_stays_fast(tmp_path):
    runs = tmp_path / "runs"
    for n in range(30):
        write_run(runs, make_record(f"20261123T12{n:04d}.000000Z-aaaa", "other"))
    train_run(runs, ID_1)
    folder, record = train_run(runs, ID_3)
    started = time.perf_counter()
    for _ in range(20):
        write_index(folder, record)
    assert (time.perf_counter() - started) / 20 < 0.1


def test_timeline_places_stages_by_start_time_and_links_a_resumed_run(tmp_path):
    record = make_record(
        ID_2,
        metrics={"a": {}, "b": {}, "c": {}},
        started_at="2026-11-23T12:00:00.000Z",
        resumed_from=ID_1,
    )
    starts = ("2026-11-23T12:00:00.000Z", "2026-11-23T12:00:02.000Z", "2026-11-23T12:00:02.000Z")
    for stage, start, seconds in zip(record["stages"], starts, (2.0, 8.0, 4.0), strict=True):
        stage.update(started_at=start, seconds=seconds)  # b and c ran in parallel
    folder = write_run(tmp_path / "runs", record)
    html = write_index(folder, record).read_text()
    assert "left: 0.0%; width: 20.0%" in html
    assert "left: 20.0%; width: 80.0%" in html and "left: 20.0%; width: 40.0%" in html
    assert f'Resumed from run <a href="../{ID_1}/index.html">' in html

    for stage in record["stages"]:
        stage["started_at"] = None  # unknown: laid end to end
    html = write_index(folder, record).read_text()
    assert "left: 14.29%; width: 57.14%" in html and "left: 71.43%; width: 28.57%" in html


def comparison_rows(html):
    """The metric rows of "Changes since the previous run": key → the row's cell texts."""
    section = html.split("Changes since the previous run")[1].split("All metrics")[0]
    rows = {}
    for row in re.findall(r"<tr><td>(.*?)</tr>", section, flags=re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.split(r"</td>", row)]
        rows[cells[0].split(" ")[0]] = cells[1:5]
    return rows


def test_identifiers_booleans_and_text_get_no_delta_and_shares_change_in_points(tmp_path):
    runs = tmp_path / "runs"
    before = {
        "register": {"version": 1, "promoted": True},
        "validate": {"invalid_fraction": 0.5, "rows": 200},
    }
    after = {
        "register": {"version": 2, "promoted": False},
        "validate": {"invalid_fraction": 0.6, "rows": 250},
    }
    write_run(runs, make_record(ID_1, metrics=before, notes={"register": {"model": "churn:1"}}))
    record = make_record(ID_2, metrics=after, notes={"register": {"model": "churn:2"}})
    html = write_index(write_run(runs, record), record).read_text()

    rows = comparison_rows(html)
    assert rows["register.version"] == ["1", "2", "", ""], "a version number has no +100%"
    assert rows["register.promoted"] == ["True", "False", "", ""]
    assert rows["register.model"] == ["churn:1", "churn:2", "", ""]
    assert rows["validate.rows"] == ["200", "250", "+50", "+25.0%"]
    assert rows["validate.invalid_fraction"] == ["50.0%", "60.0%", "+10.0 pp", ""]
    assert "+100" not in html
    assert "invalid_fraction = 60.0%" in html  # in the stage's metrics too


def test_a_partial_run_is_labelled_and_compared_on_its_own_stages(tmp_path):
    runs = tmp_path / "runs"
    train_run(runs, ID_1)
    record = make_record(ID_2, metrics={"train": {"cv_roc_auc": 0.9, "trials": 6}}, until="train")
    html = write_index(write_run(runs, record), record).read_text()
    assert "<title>train run " in html and "(partial)</title>" in html
    assert 'class="status partial"' in html
    assert "only up to stage <code>train</code>" in html
    rows = comparison_rows(html)
    assert set(rows) == {"train.cv_roc_auc"}, "the stages it did not run are not 'removed'"
    assert "only its stages (train) are compared" in html

    whole = make_record(ID_3, metrics={"train": {"cv_roc_auc": 0.9}})
    html = write_index(write_run(runs, whole), whole).read_text()
    assert 'class="status partial"' not in html and "(partial)" not in html


def test_the_gate_shows_the_improvement_against_the_required_margin(tmp_path):
    folder, record = train_run(tmp_path / "runs", ID_1, params={"margin": 0.005})
    decision = {
        **DECISION,
        "promote": False,
        "decided": False,
        "margin": -0.001,
        "summary": "Compared against v3 on 12 of the 400 holdout rows; left out: 388 seen.",
    }
    (folder / "02_evaluate" / "decision.json").write_text(json.dumps(decision))
    html = write_index(folder, record).read_text()
    assert 'class="status not-decided">not decided' in html
    assert "improvement -0.001 (required margin 0.005)" in html
    assert "Compared against v3 on 12 of the 400 holdout rows" in html


def test_a_malformed_gate_decision_is_not_shown_and_does_not_break_the_report(tmp_path):
    folder, record = train_run(tmp_path / "runs", ID_1)
    malformed = {key: value for key, value in DECISION.items() if key != "alias"}
    (folder / "02_evaluate" / "decision.json").write_text(json.dumps(malformed))
    assert gate_decision(folder, record) is None
    html = write_index(folder, record).read_text()
    assert "<code>churn:4</code>" in html and "improvement 0.02" not in html
    (folder / "02_evaluate" / "decision.json").write_text(json.dumps(DECISION))
    gate = gate_decision(folder, record)
    assert gate["verdict"] == "promote" and gate["champion_version"] == 3
    assert gate["improvement"] == 0.02 and gate["required_margin"] is None


def stage_notebook(path):
    notebook = new_notebook(
        cells=[
            new_code_cell('target = "churned"', metadata={"tags": ["parameters"]}),
            new_code_cell("seed = 1", metadata={"tags": ["injected-parameters"]}),
            new_markdown_cell("## Results"),
            new_code_cell(
                'print("<b>ok</b>")',
                outputs=[new_output("stream", name="stdout", text="<b>ok</b>\n")],
            ),
        ]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


@pytest.mark.slow
def test_a_stage_report_is_titled_links_back_and_folds_its_code(tmp_path):
    folder, _ = train_run(tmp_path / "runs", ID_1)
    executed = stage_notebook(folder / "02_evaluate" / "executed.ipynb")
    html = export_html(executed, folder / "02_evaluate" / "report.html").read_text()

    assert f"<title>evaluate · run {ID_1}</title>" in html
    assert f"<h1>Stage <code>evaluate</code> — run <code>{ID_1}</code></h1>" in html
    assert f'<a href="../index.html">← run <code>{ID_1}</code></a>' in html
    assert "pipeline <code>train</code>" in html
    assert html.count('<details class="mlops-nb-code" open="">') == 3  # the code cells only
    assert "<summary>parameters (template defaults) · <code>target = " in html
    assert "<summary>parameters injected by the run · <code>seed = 1</code>" in html
    assert '<summary>code · <code>print("&lt;b&gt;ok&lt;/b&gt;")</code></summary>' in html
    assert 'id="mlops-nb-hide-code" type="checkbox"' in html
    assert "#mlops-nb-hide-code:checked ~ .jp-Cell details.mlops-nb-code" in html
    assert "<script src=" not in html, "nothing is loaded from a CDN"
    assert "Results" in html and "&lt;b&gt;ok&lt;/b&gt;" in html

    loose = stage_notebook(tmp_path / "dev" / "evaluate" / "executed.ipynb")
    html = export_html(loose, loose.with_name("report.html"), run_id="by hand").read_text()
    assert "<title>evaluate · run by hand</title>" in html and "../index.html" not in html
