r"""How big a ``/predict`` request may be, derived from the signature so schema and limits agree.

The OpenAPI document declares ``records`` with ``maxItems`` = the row limit,
and every record with the signature's types, enums, ranges and lengths. A
fixed byte limit cannot honour that: 10,000 typical churn records are about
2.1 MB, so a 1 MiB limit refused schema-valid requests from ~5,000 records on.
Here the byte limit is *derived* instead:

    max_body_bytes = envelope + max_rows x the largest record the schema admits

where a record's allowance adds, per column, its key, its largest value as a
standard encoder writes it (``json.dumps``, ``JSON.stringify``: shortest
round-trip floats, ``\uXXXX`` escapes, 12 bytes for a character beyond the
BMP) and room for indentation (``indent=4`` fits). A value can only be bounded if the schema
bounds it, so a string column whose contract sets no length gets one from the
server, ``max_text_chars`` (declared as its ``maxLength`` and refused with 422
beyond, check ``max_text_chars(N)``). Given an explicit ``max_body_bytes``
instead, the row limit (declared and enforced) shrinks to what fits in it.

Why not the other way round (keep 1 MiB, declare a smaller ``maxItems``)?
The byte limit is a guard against memory use, not a contract; the row limit
is what a client plans batches with, and it stays the documented 10,000. For
the churn signature the derived limit is about 16 MB: a worst-case request,
which typical traffic never comes near.

The derived limit has a ceiling, :data:`MAX_DERIVED_BODY_BYTES` (64 MiB): a
wide signature (10,000 rows x 20 text columns of 100 characters is about
240 MB) would otherwise let one request take hundreds of MB to read and parse.
Over the ceiling, the body limit is the ceiling and the row limit shrinks to
what fits in it, exactly as for an explicit ``max_body_bytes`` (which may be
set above the ceiling, knowingly).

Untyped columns (no dtype) are counted as text of ``max_text_chars``; their
values are not capped, the one case where the guarantee is best-effort.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlops_nb.errors import ServingError
from mlops_nb.validation.fast import Checked, RowError, echo

__all__ = [
    "ENVELOPE_BYTES",
    "MAX_DERIVED_BODY_BYTES",
    "RequestLimits",
    "capped_text_columns",
    "declared_record",
    "long_text_errors",
    "record_allowance",
    "request_limits",
]

ENVELOPE_BYTES = 64
"""``{"records": [`` ... ``]}`` with whitespace."""
MAX_DERIVED_BODY_BYTES = 64 * 1024 * 1024
"""The ceiling of a derived body limit (64 MiB); the row limit shrinks to fit under it."""
SPACING = 16
"""Whitespace allowed per key (a newline, an indent of up to 14, a space after the colon).

Enough for ``json.dumps(..., indent=4)``, whose record keys sit 12 spaces deep."""
NUMBER_CHARS = 24
"""The longest shortest-round-trip float, e.g. ``-2.2250738585072014e-308``."""
INT64_CHARS = 20
"""``-9223372036854775808``."""
CHAR_BYTES = 12
"""Worst case per character of text: a surrogate pair written as two ``\\uXXXX`` escapes."""


def _number_chars(schema: dict[str, Any]) -> int:
    if "integer" not in _types(schema):
        return NUMBER_CHARS
    bounds = [schema.get(word) for word in ("minimum", "maximum")]
    if any(not isinstance(bound, int | float) for bound in bounds):
        return INT64_CHARS
    return max(len(str(int(bound))) for bound in bounds)  # type: ignore[arg-type]


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    return [kind] if isinstance(kind, str) else list(kind or [])


def value_allowance(schema: dict[str, Any], max_text_chars: int) -> int:
    """The most bytes one value of the column ``schema`` takes as JSON."""
    if "enum" in schema:
        return max(len(json.dumps(value)) for value in schema["enum"])
    if "const" in schema:
        return len(json.dumps(schema["const"]))
    kinds = _types(schema)
    sizes = [4] if "null" in kinds else []  # null
    if "boolean" in kinds:
        sizes.append(5)
    if "integer" in kinds or "number" in kinds:
        sizes.append(_number_chars(schema))
    if "string" in kinds or not kinds:
        sizes.append(2 + CHAR_BYTES * int(schema.get("maxLength", max_text_chars)))
    return max(sizes)


def record_allowance(record: dict[str, Any], max_text_chars: int) -> int:
    """The most bytes one record of the JSON Schema ``record`` takes, with its separator."""
    total = 2 + SPACING  # {} and the comma before the next record
    for name, schema in record["properties"].items():
        total += len(json.dumps(name)) + 2 + SPACING + value_allowance(schema, max_text_chars)
    return total


def capped_text_columns(record: dict[str, Any]) -> tuple[str, ...]:
    """The string columns of ``record`` that neither an enum nor a length bounds."""
    return tuple(
        name
        for name, schema in record["properties"].items()
        if "string" in _types(schema) and not {"enum", "const", "maxLength"} & set(schema)
    )


@dataclass(frozen=True)
class RequestLimits:
    """The limits one server enforces and declares.

    Attributes:
        max_rows: Most records per request (``maxItems``; 422 beyond).
        max_body_bytes: Most bytes per request body (413 beyond).
        max_text_chars: Longest text in the ``text_columns`` (422 beyond).
        record_bytes: The largest record the declared schema admits, in bytes.
        text_columns: String columns the server caps at ``max_text_chars``.
    """

    max_rows: int
    max_body_bytes: int
    max_text_chars: int
    record_bytes: int
    text_columns: tuple[str, ...]

    def to_dict(self) -> dict[str, int]:
        """The limits as ``/metadata`` shows them."""
        return {
            "max_body_bytes": self.max_body_bytes,
            "max_rows": self.max_rows,
            "max_text_chars": self.max_text_chars,
            "max_record_bytes": self.record_bytes,
        }


def request_limits(
    record: dict[str, Any], max_body_bytes: int | None, max_rows: int, max_text_chars: int
) -> RequestLimits:
    """The limits for records of the JSON Schema ``record`` (see the module docstring).

    Raises:
        ServingError: A ``max_body_bytes`` (explicit, or the derived ceiling)
            too small for one record.
    """
    size = record_allowance(record, max_text_chars)
    explicit = max_body_bytes is not None
    if max_body_bytes is None:
        max_body_bytes = min(ENVELOPE_BYTES + max_rows * size, MAX_DERIVED_BODY_BYTES)
    fits = (max_body_bytes - ENVELOPE_BYTES) // size
    if fits < 1:
        least = ENVELOPE_BYTES + size
        advice = (
            f"give at least {least:,}, or leave it unset to derive it from max_rows"
            if explicit
            else f"set max_body_bytes to at least {least:,} (a derived limit stops at "
            f"{MAX_DERIVED_BODY_BYTES:,}), or lower max_text_chars ({max_text_chars:,})"
        )
        raise ServingError(
            f"max_body_bytes={max_body_bytes:,} cannot hold one record of this model: its "
            f"schema admits records of up to {size:,} bytes; {advice}."
        )
    max_rows = min(max_rows, fits)
    return RequestLimits(
        max_rows, max_body_bytes, max_text_chars, size, capped_text_columns(record)
    )


def declared_record(record: dict[str, Any], limits: RequestLimits) -> dict[str, Any]:
    """``record`` with the server's ``maxLength`` on its capped text columns, as declared."""
    properties = dict(record["properties"])
    for name in limits.text_columns:
        cap = limits.max_text_chars
        text = f"at most {cap} characters (the server's max_text_chars)"
        column = properties[name]
        words = "; ".join(part for part in (column.get("description"), text) if part)
        properties[name] = {**column, "maxLength": cap, "description": words}
    return {**record, "properties": properties}


def long_text_errors(checked: Checked, limits: RequestLimits, names: list[str]) -> Checked:
    """``checked`` with a ``max_text_chars(N)`` error for every text over the cap."""
    cap, found = limits.max_text_chars, []
    for name in limits.text_columns:
        for row, value in enumerate(checked.values.get(name, ())):
            if isinstance(value, str) and len(value) > cap:
                found.append(RowError(row, name, f"max_text_chars({cap})", echo(value)))
    if not found:
        return checked
    rank = {name: number for number, name in enumerate(names)}
    errors = sorted(
        [*checked.errors, *found],
        key=lambda e: (-1 if e.row is None else e.row, rank.get(e.column or "", -1)),
    )
    return Checked(checked.values, checked.rows, errors)
