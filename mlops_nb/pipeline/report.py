"""The run report: each executed notebook as HTML, and the run's ``index.html``."""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import nbformat

from mlops_nb.artifacts import ArtifactError
from mlops_nb.pipeline.archive import INDEX

log = logging.getLogger(__name__)
STAGE_REPORT = "report.html"


@cache
def _exporter() -> Any:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    exporter.embed_images = True
    return exporter


def export_html(notebook_path: Path, target: Path) -> Path | None:
    """Write the HTML export of ``notebook_path`` to ``target``.

    A notebook that cannot be exported (e.g. a kernel died before it was saved)
    is logged and skipped: the report links the notebook instead.
    """
    try:
        notebook = nbformat.read(notebook_path, as_version=4)
        body, _ = _exporter().from_notebook_node(notebook)
    except Exception as exc:  # nbconvert raises many unrelated types
        log.warning("could not export %s to HTML: %s", notebook_path, exc)
        return None
    target.write_text(body, encoding="utf-8")
    return target


@cache
def _environment() -> jinja2.Environment:
    loader = jinja2.PackageLoader("mlops_nb.pipeline", "templates")
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["number"] = _number
    return env


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_index(run_dir: Path, record: dict[str, Any]) -> Path:
    """Write the run's ``index.html`` from its manifest."""
    try:
        longest = max((s.get("seconds") or 0 for s in record.get("stages", [])), default=0)
        template = _environment().get_template("index.html.j2")
        html = template.render(run=record, longest=longest or 1)
    except jinja2.TemplateError as exc:
        raise ArtifactError(f"cannot render the report of {run_dir}: {exc}") from exc
    target = run_dir / INDEX
    tmp = target.with_suffix(".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(target)
    return target
