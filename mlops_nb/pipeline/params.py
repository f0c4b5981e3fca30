"""Declared parameters: their types, and turning ``-p NAME=VALUE`` text into values."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import yaml

from mlops_nb.errors import ParameterError, PipelineSpecError
from mlops_nb.yamlio import load_yaml

TYPES = ("str", "int", "float", "bool", "path", "source", "any")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NULL = {"none", "null", "~", ""}


@dataclass(frozen=True)
class ParamSpec:
    """One parameter as declared in pipeline.yaml (or, undeclared, by a template).

    ``type`` is one of :data:`TYPES`: ``path`` is a file path (relative to the
    project root), ``source`` a data source checked before any kernel starts,
    ``any`` a YAML literal. ``default`` of ``None`` makes the parameter optional.
    """

    name: str
    type: str = "any"
    default: Any = None
    choices: tuple[Any, ...] | None = None
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None

    def coerce(self, value: Any, *, origin: str = "") -> Any:
        """Return ``value`` as this parameter's type, or raise :class:`ParameterError`."""
        where = f" ({origin})" if origin else ""
        try:
            result = _convert(self.type, value)
        except (TypeError, ValueError) as exc:
            raise ParameterError(
                f"parameter '{self.name}'{where}: {value!r} is not a valid {self.type}"
                f" ({exc}); give e.g. -p {self.name}={_example(self)}",
                param=self.name,
            ) from exc
        self._check_bounds(result, where)
        return result

    def _check_bounds(self, value: Any, where: str) -> None:
        if value is None:
            return
        if self.choices is not None and value not in self.choices:
            allowed = ", ".join(map(str, self.choices))
            raise ParameterError(
                f"parameter '{self.name}'{where}: {value!r} is not one of: {allowed}",
                param=self.name,
            )
        if self.minimum is not None and value < self.minimum:
            raise ParameterError(
                f"parameter '{self.name}'{where}: {value!r} is below the minimum {self.minimum}",
                param=self.name,
            )
        if self.maximum is not None and value > self.maximum:
            raise ParameterError(
                f"parameter '{self.name}'{where}: {value!r} is above the maximum {self.maximum}",
                param=self.name,
            )


def _convert(kind: str, value: Any) -> Any:
    # The converters raise TypeError/ValueError as int() and float() do; coerce() turns
    # each into a ParameterError naming the parameter.
    if isinstance(value, str) and value.strip().lower() in _NULL and kind != "str":
        return None
    if value is None:
        return None
    if kind in ("str", "path", "source"):
        if isinstance(value, (dict, list)):
            raise TypeError("expected text")
        return str(value)
    if kind == "int":
        return _to_int(value)
    if kind == "float":
        return _to_float(value)
    if kind == "bool":
        return _to_bool(value)
    if not isinstance(value, str):
        return value
    try:
        return load_yaml(value)
    except yaml.YAMLError as exc:  # e.g. -p columns="[a, b" -- an unclosed list
        raise ValueError(f"not YAML: {str(exc).splitlines()[0]}") from exc


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("expected an integer, got a boolean")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("expected a whole number")
        return int(value)
    return int(str(value).strip().replace("_", ""))


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("expected a number, got a boolean")
    number = float(str(value).strip()) if isinstance(value, str) else float(value)
    if math.isnan(number):
        raise ValueError("NaN is not allowed")
    if math.isinf(number):
        raise ValueError("expected a finite number")
    return number


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError("expected true or false")


def _example(spec: ParamSpec) -> str:
    if spec.choices:
        return str(spec.choices[0])
    return {"int": "3", "float": "0.5", "bool": "true"}.get(spec.type, "VALUE")


def type_of_default(value: Any) -> str:
    """The parameter type implied by a default value."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    return "any"


_KEYS = {"default", "type", "choices", "help", "min", "max"}


def parse_param(name: str, raw: Any, where: str) -> ParamSpec:
    """Build a :class:`ParamSpec` from its pipeline.yaml entry.

    An entry is either a bare default (``seed: 0``) or a mapping with
    ``default``, ``type``, ``choices``, ``help``, ``min`` and ``max``.
    """
    if not isinstance(raw, dict):
        return ParamSpec(name=name, type=type_of_default(raw), default=raw)
    unknown = set(raw) - _KEYS
    if unknown:
        raise PipelineSpecError(
            f"{where}: parameter '{name}' has unknown keys {sorted(unknown)}; "
            f"allowed: {sorted(_KEYS)}",
            param=name,
        )
    kind = raw.get("type") or type_of_default(raw.get("default"))
    if kind not in TYPES:
        raise PipelineSpecError(
            f"{where}: parameter '{name}' has type '{kind}'; use one of {', '.join(TYPES)}",
            param=name,
        )
    choices = raw.get("choices")
    spec = ParamSpec(
        name=name,
        type=kind,
        choices=tuple(choices) if choices is not None else None,
        help=str(raw.get("help", "")),
        minimum=raw.get("min"),
        maximum=raw.get("max"),
    )
    try:
        default = spec.coerce(raw.get("default"), origin=f"default in {where}")
    except ParameterError as exc:
        raise PipelineSpecError(exc.message, param=name) from exc
    return ParamSpec(**{**spec.__dict__, "default": default})
