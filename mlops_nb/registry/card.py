"""The model card of a registered version, built from its ``metadata.json``.

Sections: Model details, Intended use, Training data, Metrics, Slices (the
per-group metrics of the bias check), Limitations, Lineage and Environment,
rendered to Markdown and HTML from the same data.

Not ``skops.card.Card``: it is built from the model object (this card is built
from the metadata alone, so it can be rendered again without loading the model),
writes a Hugging Face README with YAML front matter, has no HTML output, and
takes 2.3 s to import.
"""

from __future__ import annotations

from typing import Any

from mlops_nb.prep.keys import SplitRule
from mlops_nb.registry._render import Facts, Link, Paragraph, Section, Table, to_html, to_markdown

__all__ = ["render_card"]

NOT_STATED = "Not stated."
"""What a card says for a text nobody wrote down (the demo's text is never borrowed)."""


def _text(value: Any, fallback: str = NOT_STATED) -> Paragraph:
    return Paragraph(str(value).strip() if value and str(value).strip() else fallback)


def _details(meta: dict[str, Any]) -> Section:
    facts = Facts(
        [
            ("Name", meta.get("name")),
            ("Version", meta.get("version")),
            ("Created", meta.get("created_at")),
            ("Task", meta.get("task")),
            ("Target", meta.get("target")),
            ("Estimator", (meta.get("model") or {}).get("class")),
            ("Reference", f"{meta.get('name')}:{meta.get('version')}"),
        ]
    )
    blocks: list[Any] = [facts]
    if meta.get("description"):
        blocks.append(_text(meta["description"]))
    return Section("Model details", blocks)


def _training_data(meta: dict[str, Any]) -> Section:
    lineage = meta.get("lineage") or {}
    inputs = meta.get("inputs") or []
    blocks: list[Any] = [
        Facts(
            [
                ("Data version", lineage.get("data_version")),
                ("Rows", (meta.get("data") or {}).get("rows")),
                ("Holdout", _holdout(meta.get("split"))),
                ("Input columns", len(inputs)),
            ]
        )
    ]
    if inputs:
        columns = ["column", "dtype", "nullable", "checks"]
        blocks.append(Table(columns, [[row.get(c) for c in columns] for row in inputs]))
    return Section("Training data", blocks)


def _holdout(split: dict[str, Any] | None) -> str | None:
    if not split:
        return None
    return SplitRule.from_dict(split).describe()


def _metrics(meta: dict[str, Any]) -> Section:
    metrics = meta.get("metrics") or {}
    if not metrics:
        return Section("Metrics", [Paragraph("No metrics were recorded.")])
    return Section("Metrics", [Table(["metric", "value"], [[k, v] for k, v in metrics.items()])])


def _slices(meta: dict[str, Any]) -> Section:
    records = meta.get("slices") or []
    if not records:
        return Section("Slices", [Paragraph("No slice metrics were recorded.")])
    columns = list(dict.fromkeys(key for record in records for key in record))
    rows = [[record.get(c) for c in columns] for record in records]
    intro = Paragraph("Metrics per group of the evaluation data (the bias check).")
    return Section("Slices", [intro, Table(columns, rows)])


def _lineage(meta: dict[str, Any]) -> Section:
    lineage = meta.get("lineage") or {}
    chain = (
        f"data {lineage.get('data_version') or 'n/a'} → run "
        f"{lineage.get('pipeline_run') or 'n/a'} → model {meta.get('name')}:"
        f"{meta.get('version')}"
    )
    url = meta.get("report_url")
    report = Link("run report", url) if url else None
    return Section(
        "Lineage",
        [
            Paragraph(chain),
            Facts(
                [
                    ("Data version", lineage.get("data_version")),
                    ("Pipeline run", lineage.get("pipeline_run")),
                    ("Training run", lineage.get("training_run")),
                    ("Run report", report),
                ]
            ),
        ],
    )


def _fairness(meta: dict[str, Any]) -> Section:
    governance = meta.get("governance") or {}
    check = governance.get("fairness")
    if not check:
        sensitive = ", ".join(governance.get("sensitive") or []) or "none declared"
        return Section(
            "Fairness", [Paragraph(f"No fairness check (sensitive columns: {sensitive}).")]
        )
    verdict = "passed" if check.get("passed") else "FAILED: promotion was blocked"
    blocks: list[Any] = [Paragraph(f"Fairness check {verdict}: {check.get('summary')}.")]
    rows = check.get("disparities") or []
    if rows:
        columns = ["column", "measure", "lowest", "highest", "difference", "ratio", "limit"]
        blocks.append(Table(columns, [[row.get(c) for c in columns] for row in rows]))
    groups = check.get("groups") or []
    if groups:
        columns = ["column", "group", "n", "metric", "selection_rate", "tpr", "judged"]
        blocks.append(Table(columns, [[row.get(c) for c in columns] for row in groups]))
    return Section("Fairness", blocks)


def _personal_data(meta: dict[str, Any]) -> Section:
    rows = (meta.get("governance") or {}).get("personal_data") or []
    if not rows:
        return Section("Personal data", [Paragraph("No personal data was found or declared.")])
    intro = Paragraph(
        "These columns hold personal data. They were pseudonymised at ingest (keyed hashes), are "
        "not model inputs unless the policy allows them, and never reach the inference log."
    )
    columns = ["column", "kind", "source", "action"]
    return Section(
        "Personal data", [intro, Table(columns, [[r.get(c) for c in columns] for r in rows])]
    )


def _governance(meta: dict[str, Any]) -> Section:
    governance = meta.get("governance") or {}
    protected = ", ".join(governance.get("protected_aliases") or []) or "none"
    return Section(
        "Governance",
        [
            Facts(
                [
                    ("Registered by", meta.get("registered_by")),
                    ("Protected aliases", protected),
                    ("Lineage", f"mlops-nb lineage {meta.get('name')}@{meta.get('version')}"),
                    ("Audit history", f"mlops-nb models history {meta.get('name')}"),
                ]
            )
        ],
    )


def _environment(meta: dict[str, Any]) -> Section:
    environment = meta.get("environment") or {}
    packages = environment.get("packages") or {}
    facts = Facts(
        [("Python", environment.get("python")), ("Platform", environment.get("platform"))]
    )
    table = Table(["package", "version"], [[k, v] for k, v in packages.items()])
    return Section("Environment", [facts, table])


def render_card(metadata: dict[str, Any]) -> tuple[str, str]:
    """Render the model card of a version from its metadata.

    Args:
        metadata: The content of a package's ``metadata.json``.

    Returns:
        The card as Markdown and as a standalone HTML page.
    """
    sections = [
        _details(metadata),
        Section("Intended use", [_text(metadata.get("intended_use"))]),
        _training_data(metadata),
        _metrics(metadata),
        _slices(metadata),
        _fairness(metadata),
        _personal_data(metadata),
        Section("Limitations", [_text(metadata.get("limitations"))]),
        _lineage(metadata),
        _governance(metadata),
        _environment(metadata),
    ]
    title = f"Model card: {metadata.get('name')} version {metadata.get('version')}"
    return to_markdown(title, sections), to_html(title, sections)
