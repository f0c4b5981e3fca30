"""What the widgets share: the display protocol, notes, HTML tables, PNG figures, links."""

from __future__ import annotations

import io
import os
import re
import struct
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from mlops_nb.lab.links import report_url
from mlops_nb.pipeline.diff import format_value

__all__ = [
    "PLOT_DPI",
    "Panel",
    "figure_png",
    "href",
    "html_table",
    "link",
    "note",
    "png_size",
    "short_id",
    "show_png",
]

PLOT_DPI = 110
"""Resolution of the widgets' PNG figures (shown at their natural size)."""
_BOX = "padding: .2rem .5rem; border-radius: .3rem;"
_NOTE_STYLES = {
    "info": "color: #555;",
    "ok": f"color: #145214; background: #dcf5dc; {_BOX}",
    "warning": f"color: #5c4200; background: #fff1c9; {_BOX}",
    "error": f"color: #7a1010; background: #fbdada; {_BOX}",
}
_TABLE = "border-collapse: collapse; font-size: 12px; margin: .3rem 0; max-width: 100%;"
_CELL = (
    "padding: 2px 8px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top;"
    " overflow-wrap: break-word;"
)
_HEAD = _CELL + " background: #f5f5f5; font-weight: 600;"
_SCROLL = "max-width: 100%; overflow-x: auto;"
LINK_STYLE = "color: var(--jp-content-link-color, #1a5fb4); text-decoration: underline;"
"""Links look like links: JupyterLab's widget styles otherwise render them as plain text."""
ROW_STYLES = {
    "changed": "background: #fff4c2;",
    "group": "background: #eef2f7; font-weight: 600;",
    "drift": "background: #fbdada;",
    "retired": "color: #8a8a8a; background: #f7f7f7;",
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
    table = f'<table style="{_TABLE}"><tr>{head}</tr>{"".join(body)}</table>'
    return f'<div style="{_SCROLL}">{table}</div>'


def figure_png(figure: Any, dpi: int = PLOT_DPI) -> bytes:
    """The PNG bytes of a matplotlib ``Figure`` (no pyplot, nothing left open)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def png_size(png: bytes) -> tuple[int, int] | None:
    """``(width, height)`` in pixels from a PNG's header, or None if it is not a PNG."""
    if len(png) < 24 or not png.startswith(b"\x89PNG\r\n\x1a\n") or png[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def show_png(image: Any, png: bytes) -> None:
    """Put ``png`` in an ``ipywidgets.Image`` at its natural size; hide the widget if empty.

    A box stretches its children to its width, which blurs a figure: the image
    gets its pixel width, shrinks (keeping its aspect ratio) only when the
    output area is narrower, and never grows.
    """
    image.value = png
    size = png_size(png) if png else None
    image.layout.display = None if png else "none"
    image.layout.width = f"{size[0]}px" if size else None
    image.layout.max_width = "100%"
    image.layout.height = "auto"
    image.layout.align_self = "flex-start"


def href(path: Path) -> str:
    """The URL of ``path``, a file of a run, for a link in a notebook.

    In a Jupyter server with the mlops-nb extension (:mod:`mlops_nb.lab`) it is
    the absolute path at which that server serves the run, e.g.
    ``/mlops-nb/runs/<run_id>/index.html``: JupyterLab leaves absolute paths
    alone, and the page's own relative links keep working there. Elsewhere
    (VS Code, Jupyter without the extension) it is relative to the working
    directory, the notebook's folder.
    """
    served = report_url(path)
    if served is not None:
        return served
    try:
        target = os.path.relpath(path, Path.cwd())
    except ValueError:  # another drive on Windows
        return path.resolve().as_uri()
    return Path(target).as_posix()


def link(path: Path, text: str) -> str:
    """An escaped, underlined ``<a>`` to ``path`` opening in a new browser tab.

    The full path is the tooltip.
    """
    return (
        f'<a href="{escape(href(path))}" target="_blank" rel="noopener" '
        f'style="{LINK_STYLE}" title="{escape(str(path))}">{escape(text)}</a>'
    )


def short_id(run_id: str) -> str:
    """``20261123T125715.096546Z-f433`` → ``11-23 12:57:15 f433`` (others unchanged)."""
    match = _RUN_ID.fullmatch(run_id)
    if not match:
        return run_id
    _, month, day, hour, minute, second, suffix = match.groups()
    return f"{month}-{day} {hour}:{minute}:{second} {suffix}"
