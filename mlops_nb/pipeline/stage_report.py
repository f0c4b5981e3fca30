"""A stage's report: its executed notebook as HTML, ``<stage folder>/report.html``.

:func:`export_html` exports the notebook with nbconvert, titled with the stage
and the run, linking back to the run's ``index.html``, its code cells foldable
without JavaScript. nbconvert takes a second or two to import, so
:func:`warm_up` builds the exporter on a thread while the first stage runs.
"""

from __future__ import annotations

import json
import logging
import threading
from functools import cache
from pathlib import Path
from typing import Any

from mlops_nb.pipeline.archive import INDEX, RUN_FILE

__all__ = ["STAGE_REPORT", "export_html", "stage_context", "warm_up"]

log = logging.getLogger(__name__)
STAGE_REPORT = "report.html"
TEMPLATES = Path(__file__).parent / "templates"
STAGE_TEMPLATE = "stage_report.html.j2"
"""nbconvert's lab template with a title, a link back to index.html and foldable code."""


@cache
def _exporter() -> Any:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        template_file=STAGE_TEMPLATE,
        extra_template_paths=[str(TEMPLATES)],
    )
    exporter.embed_images = True
    return exporter


def warm_up() -> threading.Thread:
    """Import nbconvert and build the exporter on a background thread.

    The import takes one to two seconds; started when the first stage starts,
    it overlaps that stage's kernel (another process) instead of delaying the
    stage's report.
    """

    def build() -> None:
        try:
            _exporter()
        except Exception as exc:  # export_html will report it for the stage
            log.debug("could not prepare the HTML exporter: %s", exc)

    thread = threading.Thread(target=build, name="report-warm-up", daemon=True)
    thread.start()
    return thread


def export_html(
    notebook_path: Path,
    target: Path,
    *,
    stage: str | None = None,
    run_id: str | None = None,
) -> Path | None:
    """Write the HTML export of ``notebook_path`` to ``target``, a stage's ``report.html``.

    The page is titled with the stage and the run, links back to the run's
    ``index.html`` (when ``target`` sits in a run folder, ``<run>/NN_stage/``)
    and shows each code cell in a collapsible block, with a switch hiding all
    code (no JavaScript, nothing from a CDN). A notebook that cannot be exported
    (e.g. a kernel died before it was saved) is logged and skipped: the report
    links the notebook instead.

    Args:
        notebook_path: The executed notebook.
        target: Where to write the HTML.
        stage: The stage name (default: from the folder, ``06_evaluate`` → ``evaluate``).
        run_id: The run id (default: the name of the folder above the stage's).
    """
    import nbformat  # a second to import: only when a stage was executed

    target = Path(target)
    context = stage_context(target, stage=stage, run_id=run_id)
    try:
        notebook = nbformat.read(notebook_path, as_version=4)
        notebook.metadata["title"] = f"{context['stage']} · run {context['run_id']}"
        body, _ = _exporter().from_notebook_node(notebook, resources={"mlops_nb": context})
    except Exception as exc:  # nbconvert raises many unrelated types
        log.warning("could not export %s to HTML: %s", notebook_path, exc)
        return None
    target.write_text(body, encoding="utf-8")
    return target


def stage_context(
    target: Path, *, stage: str | None = None, run_id: str | None = None
) -> dict[str, Any]:
    """What a stage report's header shows: stage, run, pipeline and the link to the index."""
    folder, run_dir = target.parent, target.parent.parent
    record: dict[str, Any] = {}
    try:
        loaded = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
        record = loaded if isinstance(loaded, dict) else {}
    except (OSError, ValueError):
        pass  # not in a run folder (or its manifest is unreadable): no link back
    prefix, _, named = folder.name.partition("_")
    return {
        "stage": stage or (named if prefix.isdigit() and named else folder.name),
        "run_id": run_id or str(record.get("id") or run_dir.name),
        "pipeline": record.get("pipeline"),
        "index": f"../{INDEX}" if record else None,
    }
