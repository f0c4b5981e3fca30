"""A tiny document model rendered to Markdown and to standalone HTML.

Sections hold paragraphs, fact lists and tables; both renderings come from the
same sections, so the Markdown and HTML forms of a model card say the same.

Text written by users (descriptions, limitations) is escaped in HTML; links are
only made for http, https, file and relative addresses.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

__all__ = ["Facts", "Link", "Paragraph", "Section", "Table", "cell", "to_html", "to_markdown"]

MISSING = "n/a"
SAFE_SCHEMES = {"", "http", "https", "file"}


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Facts:
    items: list[tuple[str, Any]]


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[Any]]


Block = Paragraph | Facts | Table


@dataclass(frozen=True)
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


def cell(value: Any) -> str:
    """A value as short text: floats to 4 decimals, missing values as ``n/a``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        return text if text not in ("", "-0") else "0"
    return str(value)


def _md_cell(value: Any) -> str:
    if isinstance(value, Link):
        return f"[{value.label}](<{value.url.replace('>', '%3E')}>)"
    return cell(value).replace("|", "\\|").replace("\n", " ")


def _md_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return block.text.strip()
    if isinstance(block, Facts):
        return "\n".join(f"- **{key}:** {_md_cell(value)}" for key, value in block.items)
    header = "| " + " | ".join(_md_cell(c) for c in block.columns) + " |"
    rule = "|" + "|".join("---" for _ in block.columns) + "|"
    body = ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in block.rows]
    return "\n".join([header, rule, *body])


def to_markdown(title: str, sections: list[Section]) -> str:
    """Render ``sections`` under a level-1 ``title`` as Markdown."""
    parts = [f"# {title}"]
    for section in sections:
        parts.append(f"## {section.title}")
        parts.extend(_md_block(block) for block in section.blocks)
    return "\n\n".join(parts) + "\n"


def _html_value(value: Any) -> str:
    if isinstance(value, Link):
        if urlparse(value.url).scheme.lower() not in SAFE_SCHEMES:
            return html.escape(f"{value.label} ({value.url})")
        return f'<a href="{html.escape(value.url)}">{html.escape(value.label)}</a>'
    return html.escape(cell(value))


def _html_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        paragraphs = [p.strip() for p in block.text.strip().split("\n\n") if p.strip()]
        return "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    if isinstance(block, Facts):
        items = "".join(
            f"<li><strong>{html.escape(key)}:</strong> {_html_value(value)}</li>"
            for key, value in block.items
        )
        return f"<ul>{items}</ul>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in block.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_html_value(v)}</td>" for v in row) + "</tr>" for row in block.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.45}table{border-collapse:collapse;margin:.5rem 0}"
    "th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}th{background:#f3f3f3}"
)


def to_html(title: str, sections: list[Section]) -> str:
    """Render ``sections`` under ``title`` as a standalone HTML page."""
    body = [f"<h1>{html.escape(title)}</h1>"]
    for section in sections:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        body.extend(_html_block(block) for block in section.blocks)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
