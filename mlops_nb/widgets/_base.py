"""What the widgets share: the display protocol, notes, HTML tables, PNG figures, links."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from mlops_nb.pipeline.compare import format_value

__all__ = ["Panel", "figure_png", "href", "html_table", "link", "note", "short_id", "show_png"]

_NOTE_STYLES = {
    "info": "color: #555;",
    "ok": "color: #145214; background: #dcf5dc; padding: .2rem .5rem; border-radius: .3rem;",
    "error": "color: #7a1010; background: #fbdada; padding: .2rem .5rem; border-radius: .3rem;",
}
_TABLE = "border-collapse: collapse; font-size: 12px; margin: .3rem 0;"
_CELL = "padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top;"
_HEAD = _CELL + " background: #f5f5f5; font-weight: 600;"
ROW_STYLES = {
    "changed": "background: #fff4c2;",
    "group": "background: #eef2f7; font-weight: 600;",
    "drift": "background: #fbdada;",
    "": "",
}
_RUN_ID = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.\d+Z-(\w+)")


class Panel:
    """A composite widget: ``widget`` is the top-level box, shown as the cell's result.

    ``RunBrowser()`` as the last line of a cell displays it (the
    ``_repr_mimebundle_`` of ``widget`` is used); ``.display()`` shows it
    from anywhere in a cell.
    """

    widget: Any

    def display(self) -> None:
        """Show the widget in the notebook."""
        from IPython.display import display

        display(self.widget)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def note(text: str, kind: str = "info") -> str:
    """An escaped one-paragraph message: ``info``, ``ok`` or ``error``."""
    style = _NOTE_STYLES.get(kind, _NOTE_STYLES["info"])
    body = escape(text).replace("\n", "<br>")
    return f'<div class="mlops-nb-{kind}" style="{style}">{body}</div>'


def cell(value: Any) -> str:
    """A value formatted for a table cell and escaped."""
    if value is None:
        return ""
    try:
        import pandas as pd

        if not isinstance(value, (list, dict, tuple)) and pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return escape(format_value(value))


def html_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    styles: Sequence[str] | None = None,
    raw_columns: Iterable[int] = (),
    raw_header: bool = False,
) -> str:
    """An HTML table with every value escaped.

    Args:
        columns: The header.
        rows: The cells of each row (formatted with :func:`cell`).
        styles: A key of :data:`ROW_STYLES` per row (``changed``, ``group``...).
        raw_columns: Indexes of columns whose cells are already HTML (links).
        raw_header: Whether the header cells are already HTML.
    """
    raw = set(raw_columns)
    head = "".join(
        f'<th style="{_HEAD}">{c if raw_header else escape(str(c))}</th>' for c in columns
    )
    body = []
    for index, row in enumerate(rows):
        style = ROW_STYLES.get(styles[index] if styles else "", "")
        cells = "".join(
            f'<td style="{_CELL}">{value if i in raw else cell(value)}</td>'
            for i, value in enumerate(row)
        )
        body.append(f'<tr style="{style}">{cells}</tr>')
    return f'<table style="{_TABLE}"><tr>{head}</tr>{"".join(body)}</table>'


def frame_table(frame: Any, *, styles: Sequence[str] | None = None) -> str:
    """:func:`html_table` of a DataFrame's columns and rows."""
    return html_table(
        [str(c) for c in frame.columns],
        frame.itertuples(index=False, name=None),
        styles=styles,
    )


def figure_png(figure: Any, dpi: int = 80) -> bytes:
    """The PNG bytes of a matplotlib ``Figure`` (no pyplot, nothing left open)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def show_png(image: Any, png: bytes) -> None:
    """Put ``png`` in an ``ipywidgets.Image``, hiding the widget while it is empty."""
    image.value = png
    image.layout.display = None if png else "none"


def href(path: Path) -> str:
    """A link to ``path`` relative to the working directory (the notebook's folder)."""
    try:
        target = os.path.relpath(path, Path.cwd())
    except ValueError:  # another drive on Windows
        return path.resolve().as_uri()
    return Path(target).as_posix()


def link(path: Path, text: str) -> str:
    """An escaped ``<a>`` to ``path`` opening in a new tab, its full path as tooltip."""
    return (
        f'<a href="{escape(href(path))}" target="_blank" title="{escape(str(path))}">'
        f"{escape(text)}</a>"
    )


def short_id(run_id: str) -> str:
    """``20261123T125715.096546Z-f433`` → ``11-23 12:57:15 f433`` (others unchanged)."""
    match = _RUN_ID.fullmatch(run_id)
    if not match:
        return run_id
    _, month, day, hour, minute, second, suffix = match.groups()
    return f"{month}-{day} {hour}:{minute}:{second} {suffix}"
