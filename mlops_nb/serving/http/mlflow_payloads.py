"""``POST /invocations``: MLflow's scoring protocol turned into the records ``/predict`` checks.

MLflow's scoring server (``mlflow models serve``) takes a JSON object with
exactly one of these keys, or a CSV body:

* ``dataframe_split``: ``{"columns": [...], "data": [[...], ...], "index": [...]}``
  (pandas' ``orient="split"``; ``index`` is optional and only checked for length);
* ``dataframe_records``: ``[{column: value, ...}, ...]`` (pandas' ``orient="records"``);
* ``instances`` or ``inputs``: a list of records, or an object of columns
  ``{column: [values...], ...}`` (all the same length; an object of plain
  values is one record);
* ``Content-Type: text/csv``: a header line of column names, then one line per row.

:func:`mlflow_records` turns each into the list of records that ``/predict``
would receive, so the same contract checks them and a bad row gets the same
422. Row numbers are 0-based positions in the rows sent (the ``data`` list,
the records, the columns' values, the CSV lines after the header).

A bare ``NaN`` in the JSON is read as null, a missing value: MLflow's own
clients (``ScoringServerClient``, ``dump_input_data``,
``convert_input_example_to_serving_input``) write pandas' missing values so,
and its scoring server reads them. ``Infinity`` is still refused (400), and
``/predict`` and the Open Inference Protocol take standard JSON only.

CSV cells are text; a cell is read as the column's JSON value would be sent:
an empty cell is null, a number column's cell that is a decimal number
becomes that number, a bool column's ``true``/``false`` (any case) becomes
the boolean, and anything else stays text (which then fails the column's
dtype check with the text shown, as a JSON string would).
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from mlops_nb.serving.http.body import ApiError, parse_json

__all__ = [
    "CSV",
    "JSON",
    "MLFLOW_FORMATS",
    "MLFLOW_SHAPE",
    "csv_records",
    "media_type",
    "mlflow_records",
]

JSON, CSV = "application/json", "text/csv"
MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
"""The keys of MLflow's JSON scoring payloads; a body holds exactly one."""
MLFLOW_SHAPE = (
    '{"dataframe_split": {"columns": [...], "data": [[...], ...]}}, '
    '{"dataframe_records": [{...}, ...]}, {"instances": [...]} or {"inputs": [...]}'
)
SPLIT_KEYS = ("columns", "data", "index")
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
INTEGER = re.compile(r"[+-]?\d+")
NUMERIC_KINDS = frozenset({"int", "float"})
FORMATS_TEXT = ", ".join(f'"{name}"' for name in MLFLOW_FORMATS)


def media_type(content_type: str | None) -> str:
    """The media type of a ``Content-Type`` header, lower-case, without its parameters."""
    return (content_type or "").partition(";")[0].strip().lower()


def mlflow_records(body: bytes, content_type: str | None, kinds: dict[str, str]) -> list[Any]:
    """The records of an MLflow scoring request, or :class:`ApiError` saying what is wrong.

    Args:
        body: The request body.
        content_type: Its ``Content-Type`` header.
        kinds: Column -> ``int``, ``float``, ``str``, ``bool`` or ``any`` (reads CSV cells).

    Raises:
        ApiError: 415 for another media type, 400 for a body that is not JSON
            (or not UTF-8 CSV), 422 for JSON of another shape.
    """
    kind = media_type(content_type)
    if kind == CSV:
        return csv_records(body, kinds)
    if kind != JSON:
        shown = f"Content-Type {kind!r}" if kind else "no Content-Type"
        raise ApiError(
            415,
            f"{shown} is not a scoring payload; send {JSON} ({MLFLOW_SHAPE}) or {CSV} "
            f"(a header line of column names, then one line per row).",
        )
    return json_records(parse_json(body, MLFLOW_SHAPE, nan_is_null=True))


def json_records(payload: Any) -> list[Any]:
    """The records of a parsed MLflow JSON payload (see the module's docstring)."""
    if not isinstance(payload, dict):
        raise ApiError(
            422,
            f"body must be a JSON object with one of {FORMATS_TEXT}; got "
            f"{type(payload).__name__}. Send {MLFLOW_SHAPE}.",
        )
    formats = [name for name in MLFLOW_FORMATS if name in payload]
    if "params" in payload:
        raise ApiError(
            422, 'this model takes no inference "params"; leave "params" out of the body.'
        )
    extra = sorted(str(key) for key in payload if key not in MLFLOW_FORMATS)
    if extra:
        raise ApiError(
            422,
            f"unknown field(s) {', '.join(extra)}; the body takes exactly one of {FORMATS_TEXT}.",
        )
    if len(formats) != 1:
        found = ", ".join(f'"{name}"' for name in formats) or "none"
        raise ApiError(422, f"the body must hold exactly one of {FORMATS_TEXT}; it holds {found}.")
    name = formats[0]
    value = payload[name]
    if name == "dataframe_split":
        return _split_records(value)
    if name == "dataframe_records":
        if not isinstance(value, list):
            raise ApiError(
                422,
                f'"dataframe_records" must be a list of objects, got {type(value).__name__}.',
            )
        return value
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return _column_records(name, value)
    raise ApiError(
        422,
        f'"{name}" must be a list of records or an object of columns '
        f"{{column: [values...]}}, got {type(value).__name__}.",
    )


def _split_records(split: Any) -> list[Any]:
    """Records of ``dataframe_split``: one per ``data`` row, keyed by ``columns``."""
    if not isinstance(split, dict) or "columns" not in split or "data" not in split:
        raise ApiError(
            422,
            '"dataframe_split" must be an object {"columns": [names...], "data": '
            '[[values...], ...]} (and optionally "index": [...]).',
        )
    extra = sorted(str(key) for key in split if key not in SPLIT_KEYS)
    if extra:
        raise ApiError(
            422,
            f'unknown field(s) {", ".join(extra)} in "dataframe_split"; it takes "columns", '
            f'"data" and "index".',
        )
    columns, data = split["columns"], split["data"]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise ApiError(422, '"dataframe_split.columns" must be a list of column names (strings).')
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise ApiError(422, f'"dataframe_split.columns" names {", ".join(twice)} more than once.')
    if not isinstance(data, list):
        raise ApiError(
            422, f'"dataframe_split.data" must be a list of rows, got {type(data).__name__}.'
        )
    index = split.get("index")
    if index is not None and (not isinstance(index, list) or len(index) != len(data)):
        raise ApiError(
            422,
            f'"dataframe_split.index" must be a list of one label per row of "data" '
            f"({len(data)}), or left out.",
        )
    width = len(columns)
    for row, values in enumerate(data):
        if not isinstance(values, list) or len(values) != width:
            got = f"{len(values)} values" if isinstance(values, list) else type(values).__name__
            raise ApiError(
                422,
                f'"dataframe_split.data" row {row} has {got}; each row must be a list of '
                f"{width} values, one per column.",
            )
    return [dict(zip(columns, values, strict=True)) for values in data]


def _column_records(name: str, columns: dict[str, Any]) -> list[Any]:
    """Records of an object of columns (all lists of one length), or of one plain record."""
    lists = [key for key, value in columns.items() if isinstance(value, list)]
    if not lists:
        return [columns]
    plain = sorted(str(key) for key in columns if key not in lists)
    if plain:
        raise ApiError(
            422,
            f'"{name}" mixes columns (lists) with plain values ({", ".join(plain)}); send every '
            f"column as a list of values, one per row.",
        )
    lengths = {key: len(columns[key]) for key in lists}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{key}: {n}" for key, n in lengths.items())
        raise ApiError(
            422,
            f'the columns of "{name}" have different lengths ({shown}); send one value '
            f"per row in each.",
        )
    rows = next(iter(lengths.values()))
    return [{key: columns[key][row] for key in lists} for row in range(rows)]


def csv_records(body: bytes, kinds: dict[str, str]) -> list[Any]:
    """Records of a CSV body: a header of column names, then rows (see the module)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"CSV body is not UTF-8 text: {exc}.") from exc
    try:
        lines = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise ApiError(400, f"CSV body is not readable CSV: {exc}.") from exc
    lines = [line for line in lines if line]
    if not lines:
        raise ApiError(
            400, "CSV body is empty; send a header line of column names, then one line per row."
        )
    header, rows = lines[0], lines[1:]
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise ApiError(422, f"the CSV header names {', '.join(twice)} more than once.")
    width = len(header)
    readers = [kinds.get(name, "str") for name in header]
    records = []
    for row, cells in enumerate(rows):
        if len(cells) != width:
            raise ApiError(
                422,
                f"CSV row {row} (line {row + 2}) has {len(cells)} cells; the header has {width}.",
            )
        records.append(
            {
                name: _cell(cell, kind)
                for name, cell, kind in zip(header, cells, readers, strict=True)
            }
        )
    return records


def _cell(cell: str, kind: str) -> Any:
    """A CSV cell as the JSON value a client would send for a column of ``kind``."""
    if cell == "":
        return None
    if kind in NUMERIC_KINDS or kind == "any":
        if INTEGER.fullmatch(cell):
            return int(cell)
        if NUMBER.fullmatch(cell):
            return float(cell)
    if kind == "bool" and cell.lower() in ("true", "false"):
        return cell.lower() == "true"
    return cell
