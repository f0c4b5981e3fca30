"""The filter and ordering language of :meth:`TrackingStore.search_runs`.

A filter is conditions joined by ``and``::

    metrics.cv_roc_auc > 0.8 and params.model = 'rf' and attributes.stage = 'train'

Each condition is ``<kind>.<name> <op> <literal>``:

* kinds: ``metrics`` (the latest value), ``params``, ``tags``, ``attributes``
  (``run_id``, ``name``, ``status``, ``start_time``, ``end_time``,
  ``pipeline_run``, ``stage``, ``parent``; these may also be written bare);
* ops: ``=`` ``!=`` ``<`` ``<=`` ``>`` ``>=`` and ``like`` (text, ``%`` and
  ``_`` wildcards, case-insensitive for ASCII letters);
* literals: numbers, ``'quoted text'`` (``''`` for a quote inside), ``true``
  and ``false`` (1 and 0). Times compare with Unix seconds or text such as
  ``'2026-05-01'`` or ``'2026-05-01T12:00Z'``.

A name with spaces or operator characters is back-quoted: ``metrics.`val loss```.
A condition compares values of the literal's type: ``params.depth > 3``
matches runs whose ``depth`` is a number above 3, not the text ``'5'``. Runs
without the key never match, whatever the operator.

An ordering is ``<kind>.<name> [asc|desc]`` items separated by commas; runs
without the key come last. Text here never reaches SQL: names and literals are
bound parameters, and kinds, attributes and operators are taken from fixed
tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NoReturn

import pandas as pd

from mlops_nb.errors import FilterError
from mlops_nb.store import Dialect
from mlops_nb.tracking.reads import RUN_COLUMNS

ATTRIBUTES = RUN_COLUMNS  # every run column can be filtered on
TIME_ATTRIBUTES = ("start_time", "end_time")
_KINDS = {
    "metric": "metrics",
    "metrics": "metrics",
    "param": "params",
    "params": "params",
    "tag": "tags",
    "tags": "tags",
    "attr": "attributes",
    "attribute": "attributes",
    "attributes": "attributes",
}
_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_TABLES = {
    "metrics": "tracking_latest_metrics",
    "params": "tracking_params",
    "tags": "tracking_tags",
}
_NAME_END = r"""\s=!<>'"`(),"""
_TOKEN = re.compile(
    rf"""
    (?P<space>\s+)
    | (?P<text>'(?:[^']|'')*'|"(?:[^"]|"")*")
    | (?P<op><=|>=|!=|<>|==|=|<|>)
    | (?P<comma>,)
    | (?P<number>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![^{_NAME_END}]))
    | (?P<quoted>[A-Za-z_]+\.`[^`]+`)
    | (?P<word>[^{_NAME_END}]+)
    """,
    re.VERBOSE,
)
_INTEGER = re.compile(r"[+-]?\d+")
FILTER_EXAMPLE = "metrics.cv_roc_auc > 0.8 and params.model = 'rf'"
ORDER_EXAMPLE = "metrics.cv_roc_auc desc, attributes.start_time"


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int


@dataclass(frozen=True)
class Condition:
    """One ``<kind>.<name> <op> <literal>`` of a filter, checked and typed."""

    kind: str
    name: str
    op: str
    value: Any


@dataclass(frozen=True)
class Ordering:
    """One ``<kind>.<name> [asc|desc]`` item of an ordering."""

    kind: str
    name: str
    descending: bool


class _Parser:
    """A cursor over the tokens of one filter or ordering, raising pointed errors."""

    def __init__(self, text: str, example: str) -> None:
        self.text = text
        self.example = example
        self.tokens = _tokenize(text, example)
        self.index = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def next(self, expected: str) -> Token:
        token = self.peek()
        if token is None:
            self.fail(f"the text ends where {expected} was expected", len(self.text), "")
        self.index += 1
        return token

    def fail(self, problem: str, position: int, token: str) -> NoReturn:
        raise _error(self.text, self.example, problem, position, token)


def _error(text: str, example: str, problem: str, position: int, token: str) -> FilterError:
    marker = " " * position + "^" * max(len(token), 1)
    return FilterError(
        f"cannot read {text!r} at character {position + 1}: {problem}\n"
        f"    {text}\n    {marker}\n"
        f"write it like: {example}",
        filter=text,
        position=position,
        token=token,
    )


def _tokenize(text: str, example: str) -> list[Token]:
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _error(text, example, _unreadable(text[position]), position, text[position])
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    return tokens


def _unreadable(char: str) -> str:
    if char in "'\"":
        return f"the quoted text opened by {char} is never closed"
    if char == "`":
        return "back-quoted names need a kind before them, e.g. metrics.`val loss`"
    return "parentheses are not supported; join conditions with 'and'"


def parse_filter(text: str | None) -> list[Condition]:
    """The conditions of a filter (none for an empty or missing filter)."""
    if text is None or not text.strip():
        return []
    parser = _Parser(text, FILTER_EXAMPLE)
    conditions = [_condition(parser)]
    while (token := parser.peek()) is not None:
        parser.index += 1
        word = token.text.lower()
        if word != "and":
            problem = (
                "only 'and' joins conditions; run one search per alternative and "
                "pd.concat the results"
                if word == "or"
                else f"expected 'and' between conditions, found {token.text!r}"
            )
            parser.fail(problem, token.position, token.text)
        conditions.append(_condition(parser))
    return conditions


def parse_order(text: str | None) -> list[Ordering]:
    """The items of an ordering (none for an empty or missing one)."""
    if text is None or not text.strip():
        return []
    parser = _Parser(text, ORDER_EXAMPLE)
    orderings = []
    while True:
        kind, name, _ = _key(parser)
        descending = False
        token = parser.peek()
        if token is not None and token.text.lower() in ("asc", "desc"):
            descending = token.text.lower() == "desc"
            parser.index += 1
            token = parser.peek()
        orderings.append(Ordering(kind, name, descending))
        if token is None:
            return orderings
        if token.kind != "comma":
            parser.fail(
                f"expected ',', 'asc' or 'desc', found {token.text!r}", token.position, token.text
            )
        parser.index += 1


def _condition(parser: _Parser) -> Condition:
    kind, name, key = _key(parser)
    token = parser.next("an operator")
    if token.kind == "op":
        op = _OPS[token.text]
    elif token.text.lower() in ("like", "ilike"):
        op = "LIKE"
    else:
        parser.fail(
            f"expected an operator (=, !=, <, <=, >, >=, like) after {key.text!r}, "
            f"found {token.text!r}",
            token.position,
            token.text,
        )
    literal = parser.next(f"a value after {token.text!r}")
    return Condition(kind, name, op, _value(parser, kind, name, op, literal))


def _key(parser: _Parser) -> tuple[str, str, Token]:
    """The (kind, name, token) of a key such as ``metrics.auc`` or ``start_time``."""
    token = parser.next("a key such as metrics.<name>")
    if token.kind == "quoted":
        prefix, name = token.text.split(".", 1)
        name = name[1:-1]
    elif token.kind == "word" and "." in token.text:
        prefix, name = token.text.split(".", 1)
    elif token.kind == "word" and token.text in ATTRIBUTES:
        return "attributes", token.text, token
    else:
        parser.fail(
            f"expected a key such as metrics.<name>, params.<name>, tags.<name> or "
            f"attributes.<name>, found {token.text!r}",
            token.position,
            token.text,
        )
    kind = _KINDS.get(prefix.lower())
    if kind is None:
        parser.fail(
            f"unknown kind {prefix!r}; keys start with metrics., params., tags. or attributes.",
            token.position,
            token.text,
        )
    if not name:
        parser.fail(f"{token.text!r} has no name after the dot", token.position, token.text)
    if kind == "attributes" and name not in ATTRIBUTES:
        parser.fail(
            f"unknown attribute {name!r}; attributes are {', '.join(ATTRIBUTES)}",
            token.position,
            token.text,
        )
    return kind, name, token


def _value(parser: _Parser, kind: str, name: str, op: str, token: Token) -> Any:
    """The literal of a condition, checked against what its kind can hold."""
    value = _literal(parser, token)
    is_text = isinstance(value, str)
    if op == "LIKE" and (not is_text or kind == "metrics" or name in TIME_ATTRIBUTES):
        target = "a metric" if kind == "metrics" else repr(name)
        parser.fail(
            f"'like' needs quoted text and cannot be used on {target}; compare with "
            f"=, <, > ... instead",
            token.position,
            token.text,
        )
    if kind == "metrics" and is_text:
        parser.fail(
            f"metrics are numbers; compare metrics.{name} with a number, not text",
            token.position,
            token.text,
        )
    if kind == "tags" and not is_text:
        parser.fail(
            f"tags hold text; quote the value, e.g. tags.{name} = '{token.text}'",
            token.position,
            token.text,
        )
    if kind == "attributes" and name in TIME_ATTRIBUTES:
        return _seconds(parser, token, value) if is_text else value
    if kind == "attributes" and not is_text:
        parser.fail(
            f"attribute {name} holds text; quote the value, e.g. '{token.text}'",
            token.position,
            token.text,
        )
    return value


def _literal(parser: _Parser, token: Token) -> Any:
    if token.kind == "number":
        return int(token.text) if _INTEGER.fullmatch(token.text) else float(token.text)
    if token.kind == "text":
        quote = token.text[0]
        return token.text[1:-1].replace(quote * 2, quote)
    if token.kind == "word" and token.text.lower() in ("true", "false"):
        return int(token.text.lower() == "true")
    parser.fail(
        f"expected a number, 'quoted text', true or false, found {token.text!r}",
        token.position,
        token.text,
    )


def _seconds(parser: _Parser, token: Token, text: str) -> float:
    """A time literal as Unix seconds (naive times are UTC)."""
    try:
        stamp = pd.Timestamp(text)
    except ValueError:
        stamp = None
    if stamp is None or pd.isna(stamp):
        parser.fail(
            f"{text!r} is not a time; write it like '2026-05-01' or '2026-05-01T12:00Z'",
            token.position,
            token.text,
        )
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return float(stamp.timestamp())


def where_sql(conditions: list[Condition], dialect: Dialect) -> tuple[str, list[Any]]:
    """The SQL ``WHERE`` expression (over ``tracking_runs r``) and its parameters."""
    parts, args = [], []
    for condition in conditions:
        op = dialect.case_insensitive_like if condition.op == "LIKE" else condition.op
        if condition.kind == "attributes":
            parts.append(f"r.{condition.name} {op} ?")
            args.append(condition.value)
            continue
        column = "value"
        if condition.kind == "params":
            column = "value_text" if isinstance(condition.value, str) else "value_num"
        parts.append(
            f"r.run_id IN (SELECT run_id FROM {_TABLES[condition.kind]} "
            f"WHERE key = ? AND {column} {op} ?)"
        )
        args.extend([condition.name, condition.value])
    return (" AND ".join(parts) or "1 = 1"), args


def order_sql(orderings: list[Ordering]) -> tuple[str, list[Any]]:
    """The SQL ``ORDER BY`` list and its parameters; newest runs first on ties.

    A param orders by its number, then (for runs where it is text) by its text.
    """
    parts, args = [], []
    for item in orderings:
        direction = "DESC" if item.descending else "ASC"
        if item.kind == "attributes":
            parts.append(f"r.{item.name} {direction} NULLS LAST")
            continue
        columns = ("value_num", "value_text") if item.kind == "params" else ("value",)
        for column in columns:
            parts.append(
                f"(SELECT {column} FROM {_TABLES[item.kind]} WHERE run_id = r.run_id "
                f"AND key = ?) {direction} NULLS LAST"
            )
            args.append(item.name)
    parts.extend(["r.start_time DESC", "r.run_id DESC"])
    return ", ".join(parts), args
