"""The dashboard and the run reports in JupyterLab, in a real browser (Debian's Chromium).

JupyterLab is started here on 127.0.0.1, as a user would (``jupyter lab`` in a copy of
the project, whose server extension is enabled by the install), in a temporary copy of
the project holding one train run. Playwright drives ``/usr/bin/chromium`` (or
``$MLOPS_NB_TEST_CHROMIUM``), no browser is downloaded; without Chromium or Playwright
the test is skipped, saying so loudly (``.ci/run`` installs Chromium when it is absent).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_nb.config import Settings
from mlops_nb.registry import Registry
from tests.lab.conftest import clean_env

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("MLOPS_NB_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
TIMEOUT_MS = 30_000
RUN_ALL_TIMEOUT_MS = 90_000
REASON = "promoted from the dashboard in the browser test"
START_TIMEOUT_MS = 8_000
RUN_ALL_ITEM = ".lm-Menu-item:not(.lm-mod-disabled) .lm-Menu-itemLabel:text-is('Run All Cells')"
ANY_STARTED = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
    .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""
ALL_EXECUTED = """() => {
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
    return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
}"""


def playwright_or_skip():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("NO BROWSER TEST: the playwright package is missing (pip install -e '.[test]')")
    if not CHROMIUM.is_file():
        pytest.skip(
            f"NO BROWSER TEST: {CHROMIUM} is missing (apt-get install chromium); the "
            "JupyterLab dashboard and report links were NOT checked in a browser"
        )
    return sync_playwright


@pytest.fixture(scope="module")
def sync_playwright():
    """Playwright's entry point, or a skip before anything is started."""
    return playwright_or_skip()


@pytest.fixture(scope="module")
def lab_project(sync_playwright, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the project with one archived train run (up to register) in its outputs."""
    root = tmp_path_factory.mktemp("lab") / "project"
    root.mkdir()
    shutil.copy(REPO / "pipeline.yaml", root)
    for folder in ("templates", "contracts"):
        shutil.copytree(REPO / folder, root / folder)
    (root / "notebooks").mkdir()
    shutil.copy(REPO / "notebooks" / "dashboard.ipynb", root / "notebooks")
    cli = Path(sys.executable).with_name("mlops-nb")
    command = [str(cli)] if cli.is_file() else [sys.executable, "-m", "mlops_nb"]
    done = subprocess.run(
        [*command, "run", "train", "--until", "register"],
        cwd=root,
        env=clean_env(root.parent / "home"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return root


@pytest.fixture(scope="module")
def lab(jupyter, lab_project: Path):
    return jupyter("lab", lab_project)


@pytest.fixture
def page(sync_playwright, lab, tmp_path: Path) -> Iterator:
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            context.set_default_timeout(TIMEOUT_MS)
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def run_all(page, lab) -> None:
    """Run All Cells from the menu, and wait until every code cell has run.

    The menu item is disabled until the notebook is the current widget, and a
    click while JupyterLab is still settling can be lost: the menu is used again
    (up to three times) when no cell has started after a few seconds.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.wait_for_selector(".jp-Notebook .jp-Cell")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    for _ in range(3):
        page.locator(".jp-Notebook .jp-Cell").first.click()  # the notebook has the focus
        page.click(".lm-MenuBar-itemLabel:text-is('Run')")
        page.click(RUN_ALL_ITEM)
        try:
            page.wait_for_function(ANY_STARTED, timeout=START_TIMEOUT_MS)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    try:
        page.wait_for_function(ALL_EXECUTED, timeout=RUN_ALL_TIMEOUT_MS)
    except PlaywrightTimeout:
        prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
        errors = page.locator("[data-mime-type='application/vnd.jupyter.error']").all_inner_texts()
        dialogs = page.locator(".jp-Dialog").all_inner_texts()
        pytest.fail(
            f"Run All did not finish: prompts {prompts}, errors {errors}, dialogs {dialogs}\n"
            f"{lab.log_tail()}"
        )


def registry_history(project: Path):
    settings = Settings(root=project, outputs=project / "outputs")
    with Registry.from_settings(settings) as registry:
        return registry.history("churn")


def test_dashboard_promotes_and_opens_reports_whose_links_work(page, lab, lab_project):
    started = time.monotonic()
    statuses: dict[str, int] = {}
    page.context.on("response", lambda r: statuses.setdefault(r.url, r.status))
    page.goto(f"{lab.url}/lab/tree/notebooks/dashboard.ipynb?token={lab.token}")
    run_all(page, lab)

    outputs = page.locator(".jp-OutputArea-output")
    runs = outputs.filter(has=page.locator(".widget-select-multiple"))
    registry = outputs.filter(has_text="Move an alias")
    drift = outputs.filter(has=page.get_by_role("button", name="Check drift"))
    for widget in (runs, registry, drift):
        widget.wait_for()
    assert page.get_by_text("Loading widget").count() == 0, lab.log_tail()
    errors = page.locator("[data-mime-type='application/vnd.jupyter.error']")
    assert errors.count() == 0, errors.all_inner_texts()
    check_layout(registry, drift)
    promote(registry, lab_project)
    follow_report_links(page, runs, lab, statuses)
    assert time.monotonic() - started < 90, "keep this test under a minute and a half"


def check_layout(registry, drift) -> None:
    """Plots at their natural size; the versions table's lineage columns inside the output."""
    overview = drift.locator("img.widget-image").first
    overview.wait_for()
    natural, shown = overview.evaluate("e => [e.naturalWidth, e.getBoundingClientRect().width]")
    assert natural >= 9 * 110 and shown <= natural + 1, "plots are never stretched"
    lineage = registry.locator("td", has_text="pipeline_run")
    right = registry.evaluate("e => e.getBoundingClientRect().right")
    assert lineage.evaluate("e => e.getBoundingClientRect().right") <= right + 1


def promote(registry, project: Path) -> None:
    """An empty reason is refused next to the button; with one, a confirmed new alias is set."""
    before = len(registry_history(project))
    registry.locator(".widget-text", has_text="version").first.locator("input").fill("1")
    registry.locator(".widget-dropdown", has_text="alias").locator("select").select_option(
        label="new alias…"
    )
    registry.locator(".widget-text", has_text="new alias").locator("input").fill("candidate")
    registry.get_by_role("button", name="Set alias").click()
    registry.get_by_text("a reason is required").wait_for()
    assert len(registry_history(project)) == before

    registry.locator(".widget-text", has_text="reason").first.locator("input").fill(REASON)
    registry.get_by_role("button", name="Set alias").click()
    registry.get_by_text("'candidate' is a new alias").wait_for()
    assert len(registry_history(project)) == before, "nothing before the confirmation"
    registry.get_by_role("button", name="Confirm").click()
    registry.get_by_text("churn@candidate → version 1").wait_for()
    registry.locator("td", has_text=REASON).wait_for()  # the history table in the widget
    last = registry_history(project).iloc[-1]
    assert (last["alias"], last["to_version"], last["reason"]) == ("candidate", 1, REASON)


def follow_report_links(page, runs, lab, statuses: dict[str, int]) -> None:
    """A report link looks like one, opens a tab; the report's stage link answers 200."""
    link = runs.locator("a[href^='/mlops-nb/runs/']").first
    style = link.evaluate(
        "e => [getComputedStyle(e).textDecorationLine, getComputedStyle(e).color,"
        " getComputedStyle(e.parentElement).color, e.target]"
    )
    assert style[0] == "underline" and style[1] != style[2] and style[3] == "_blank"
    with page.context.expect_page() as opened:
        link.click()
    report = opened.value
    report.wait_for_load_state()
    assert report.url.startswith(f"{lab.url}/mlops-nb/runs/") and report.url.endswith("/index.html")
    assert statuses[report.url] == 200
    assert "partial" in report.locator("h1").inner_text()  # a run with --until register

    with report.expect_navigation() as navigation:
        report.get_by_role("link", name="report", exact=True).first.click()
    assert navigation.value.status == 200, navigation.value.text()[:300]  # not /files/' 403
    assert report.url.endswith("/01_ingest/report.html")
    assert report.locator("h1").first.inner_text().startswith("Stage ingest — run ")
    report.get_by_text("hide all code").click()
    assert report.locator("details.mlops-nb-code").first.is_hidden()
    with report.expect_navigation() as navigation:
        report.get_by_role("link", name="← run").click()
    assert navigation.value.status == 200 and report.url.endswith("/index.html")
