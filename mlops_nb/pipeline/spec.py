"""What a pipeline is: pipeline.yaml loaded and checked into a DAG of stages.

Everything here runs before any kernel starts, so a mistake in pipeline.yaml or
on the command line costs nothing but a message: :func:`load_project` checks the
file, :func:`plan_run` a request to run it (the pipeline, ``--until``, the ``-p``
values and the files and data sources they name) into a :class:`RunPlan`, which
:mod:`mlops_nb.pipeline.runner` executes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops_nb import dag
from mlops_nb.config import Settings
from mlops_nb.errors import (
    ConfigError,
    MlopsNbError,
    ParameterError,
    PipelineSpecError,
    closest,
    shorten,
)
from mlops_nb.pipeline.notebook import STAGE_DIR_PARAM, Template, inspect_template
from mlops_nb.pipeline.params import ParamSpec, parse_param
from mlops_nb.policy import read_policy
from mlops_nb.yamlio import load_yaml

_TOP_KEYS = {
    "artifacts",
    "contracts",
    "default_pipeline",
    "executor",
    "governance",
    "pipelines",
    "scheduler",
    "store",
}
_PIPELINE_KEYS = {"description", "params", "stages"}
_STAGE_KEYS = {"notebook", "needs", "params", "description", "cache"}
MAX_SPEC_BYTES = 1024 * 1024
"""The largest pipeline.yaml read (1 MiB; the demo's is 12 KiB)."""
MAX_SPEC_VALUES = 100_000
"""The most values (keys, items, scalars) pipeline.yaml may hold once its aliases are expanded."""
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_NAME_RULE = "1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit"
_REGISTRY_PARAMS = {
    "model_name": "name",
    "model": "name",
    "alias": "alias",
    "champion_alias": "alias",
    "staging_alias": "alias",
}
"""Template parameters that name a registry model or alias: checked before any kernel."""


@dataclass(frozen=True)
class StageSpec:
    """One stage: its template, the stages it needs, and its own parameters."""

    name: str
    template: Template
    needs: tuple[str, ...] = ()
    params: dict[str, ParamSpec] = field(default_factory=dict)
    description: str = ""
    cache: str = "auto"

    @property
    def notebook(self) -> Path:
        return self.template.path

    def accepts(self, name: str) -> bool:
        return name in self.template.params and name != STAGE_DIR_PARAM


@dataclass(frozen=True)
class PipelineSpec:
    """A named pipeline: its shared parameters and its stages in run order."""

    name: str
    stages: tuple[StageSpec, ...]
    params: dict[str, ParamSpec]
    description: str = ""

    def stage(self, name: str) -> StageSpec:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise PipelineSpecError(
            f"pipeline '{self.name}' has no stage '{name}'{_suggest(name, self.stage_names)}; "
            f"its stages are: {', '.join(self.stage_names)}",
            stage=name,
        )

    @property
    def stage_names(self) -> list[str]:
        return [stage.name for stage in self.stages]

    def select(self, until: str | None = None) -> list[StageSpec]:
        """The stages to run: all, or ``until`` and the stages it depends on."""
        if until is None:
            return list(self.stages)
        wanted = self.ancestors(self.stage(until).name)
        return [stage for stage in self.stages if stage.name in wanted]

    def ancestors(self, name: str) -> set[str]:
        """``name`` and every stage it needs, directly or not."""
        return dag.ancestors(self.stage(name).name, self.needs)

    @property
    def needs(self) -> dict[str, tuple[str, ...]]:
        """Each stage's name → the stages it needs, in run order (see :mod:`mlops_nb.dag`)."""
        return {stage.name: stage.needs for stage in self.stages}

    def param_specs(self) -> dict[str, ParamSpec]:
        """Every parameter a ``-p`` may set, with its type."""
        specs: dict[str, ParamSpec] = {}
        for stage in self.stages:
            for name, template_spec in stage.template.params.items():
                if name == STAGE_DIR_PARAM:
                    continue
                spec = stage.params.get(name) or self.params.get(name) or template_spec
                specs.setdefault(name, spec)
        return dict(sorted(specs.items()))

    def resolve(
        self, overrides: dict[str, Any] | None = None, origins: dict[str, str] | None = None
    ) -> ResolvedParams:
        """Check ``overrides`` and give each stage its values.

        An override is ``-p`` text, or a typed value (from a ``-f`` parameters
        file); ``origins`` says where a value came from (``"params.yaml line 3"``)
        for the error that refuses it, ``-p`` when it does not say.
        """
        specs = self.param_specs()
        values = {name: spec.default for name, spec in specs.items()}
        for name, value in (overrides or {}).items():
            origin = (origins or {}).get(name)
            if name not in specs:
                where = f" in {origin}" if origin else ""
                raise ParameterError(
                    f"unknown parameter '{name}'{where}{_suggest(name, list(specs))} for "
                    f"pipeline '{self.name}'; valid parameters: {', '.join(specs)}",
                    param=name,
                )
            values[name] = specs[name].coerce(value, origin=origin or "-p")
        per_stage = {
            stage.name: {n: values[n] for n in stage.template.params if n in values}
            for stage in self.stages
        }
        return ResolvedParams(values=values, per_stage=per_stage)


@dataclass(frozen=True)
class ResolvedParams:
    """Parameter values after defaults and ``-p`` overrides."""

    values: dict[str, Any]
    per_stage: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class ProjectSpec:
    """Everything pipeline.yaml declares."""

    path: Path
    pipelines: dict[str, PipelineSpec]
    contracts: dict[str, str]
    default_pipeline: str

    def pipeline(self, name: str | None = None) -> PipelineSpec:
        name = name or self.default_pipeline
        if name not in self.pipelines:
            raise PipelineSpecError(
                f"no pipeline '{name}' in {self.path}{_suggest(name, list(self.pipelines))}; "
                f"pipelines: {', '.join(self.pipelines)}",
                pipeline=name,
            )
        return self.pipelines[name]


@dataclass(frozen=True)
class RunPlan:
    """A checked run, ready to execute: nothing has been created yet."""

    pipeline: PipelineSpec
    stages: list[StageSpec]
    params: ResolvedParams
    until: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    trigger: dict[str, Any] | None = None


def plan_run(
    settings: Settings,
    pipeline: str | None = None,
    overrides: dict[str, Any] | None = None,
    until: str | None = None,
    trigger: dict[str, Any] | None = None,
    *,
    origins: dict[str, str] | None = None,
) -> RunPlan:
    """Load pipeline.yaml and check the request completely, before any kernel starts.

    ``trigger`` records why the run was started when another run started it
    (e.g. ``{"run": MONITOR_RUN, "stage": "retrain", "decision": "drift"}``);
    it is kept as ``trigger`` in run.json. ``origins`` names where each override
    came from, for the errors (see :meth:`PipelineSpec.resolve`).
    """
    project = load_project(settings.pipeline_file)
    spec = project.pipeline(pipeline)
    stages = spec.select(until)
    resolved = spec.resolve(overrides, origins)
    _preflight(settings, spec, resolved)
    return RunPlan(spec, stages, resolved, until, dict(overrides or {}), trigger)


def _preflight(settings: Settings, spec: PipelineSpec, resolved: ResolvedParams) -> None:
    """Check values that name files, data sources or registry names, so mistakes fail fast.

    A ``source`` is looked at from its head (see :mod:`mlops_nb.data.preflight`),
    with the pipeline's ``target`` parameter, when it has one, as the column it
    must hold; a ``contract`` is loaded; a model name or alias must be one the
    registry accepts.
    """
    target = resolved.values.get("target")
    for name, param in spec.param_specs().items():
        value = resolved.values.get(name)
        if value is None:
            continue
        try:
            _check_value(settings, name, param, value, target)
        except ParameterError:
            raise
        except MlopsNbError as exc:
            raise ParameterError(f"parameter '{name}': {exc.message}", param=name) from exc


def _check_value(settings: Settings, name: str, param: ParamSpec, value: Any, target: Any) -> None:
    if param.type == "source":
        from mlops_nb.data.preflight import preflight_source

        preflight_source(value, settings.root, target if isinstance(target, str) else None)
    elif param.type == "path":
        path = settings.root / value
        if not path.exists():
            raise ParameterError(
                f"parameter '{name}': {value} does not exist (looked in {path})", param=name
            )
        if name == "contract":
            from mlops_nb.validation import load_contract

            load_contract(path)
    elif name in _REGISTRY_PARAMS and isinstance(value, str):
        from mlops_nb.registry.names import validate_alias, validate_name

        check = validate_name if _REGISTRY_PARAMS[name] == "name" else validate_alias
        check(value)


def load_project(path: Path) -> ProjectSpec:
    """Load and check ``pipeline.yaml`` at ``path``."""
    raw = _read_yaml(path)
    unknown = sorted(set(map(str, raw)) - _TOP_KEYS)
    if unknown:
        close = "".join(_suggest(key, sorted(_TOP_KEYS)) for key in unknown[:1])
        raise PipelineSpecError(
            f"{path} has unknown top-level keys {unknown}{close}; allowed: {sorted(_TOP_KEYS)}",
            path=path,
        )
    pipelines_raw = raw.get("pipelines")
    if not isinstance(pipelines_raw, dict) or not pipelines_raw:
        raise PipelineSpecError(
            f"{path}: needs a 'pipelines' mapping with at least one pipeline", path=path
        )
    contracts = raw.get("contracts") or {}
    if not isinstance(contracts, dict):
        raise PipelineSpecError(f"{path}: 'contracts' must map data sources to files", path=path)
    try:
        read_policy(path)  # a malformed governance section stops the run before any kernel starts
    except ConfigError as exc:
        raise PipelineSpecError(str(exc), path=path) from exc
    pipelines = {
        name: _load_pipeline(str(name), body, path) for name, body in pipelines_raw.items()
    }
    default = str(raw.get("default_pipeline", next(iter(pipelines))))
    if default not in pipelines:
        raise PipelineSpecError(f"{path}: default_pipeline '{default}' is not declared", path=path)
    return ProjectSpec(path, pipelines, {str(k): str(v) for k, v in contracts.items()}, default)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise PipelineSpecError(
                f"{path} is {size:,} bytes, more than a pipeline file may be "
                f"({MAX_SPEC_BYTES:,}); is it the right file? Keep data and long lists out of "
                f"pipeline.yaml (in files that parameters name).",
                path=path,
            )
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PipelineSpecError(f"{path} does not exist", path=path) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise PipelineSpecError(
            f"{path} is not valid YAML{where}: {exc}. Fix that line (indent with spaces, quote "
            f"values holding ': ' or '#').",
            path=path,
        ) from exc
    except (UnicodeDecodeError, OSError) as exc:
        raise PipelineSpecError(
            f"cannot read {path}: {exc}; save it as UTF-8 text.", path=path
        ) from exc
    if not isinstance(raw, dict):
        raise PipelineSpecError(f"{path} must hold a mapping at the top level", path=path)
    _check_expansion(raw, path)
    return raw


def _check_expansion(raw: Any, path: Path) -> None:
    """Refuse a document whose aliases expand it past :data:`MAX_SPEC_VALUES` values.

    YAML aliases share one object, so a small file can hold a structure of
    billions of values (nine lists of nine aliases, nine times over) that hangs
    whatever walks it: the parameter table, the stage fingerprints.
    """
    pending, seen = [raw], 0
    while pending:
        value = pending.pop()
        seen += 1
        if seen > MAX_SPEC_VALUES:
            raise PipelineSpecError(
                f"{path} expands to more than {MAX_SPEC_VALUES:,} values through YAML aliases "
                f"(&name / *name); write the values out, or keep large data in a file a "
                f"parameter names.",
                path=path,
            )
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def _load_pipeline(name: str, body: Any, path: Path) -> PipelineSpec:
    where = f"{path.name}: pipeline '{name}'"
    _check_name(name, "pipeline", path.name)
    body = _mapping(body, where, _PIPELINE_KEYS)
    params = {
        str(p): parse_param(str(p), raw, where) for p, raw in (body.get("params") or {}).items()
    }
    stages_raw = body.get("stages")
    if not isinstance(stages_raw, dict) or not stages_raw:
        raise PipelineSpecError(f"{where} needs a 'stages' mapping", pipeline=name)
    stages = [_load_stage(str(s), raw, path, where) for s, raw in stages_raw.items()]
    ordered = _topological(stages, where)
    _check_params(name, params, ordered, where)
    return PipelineSpec(name, tuple(ordered), params, str(body.get("description", "")))


def _mapping(body: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise PipelineSpecError(f"{where} must be a mapping")
    unknown = set(body) - allowed
    if unknown:
        raise PipelineSpecError(
            f"{where} has unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}"
        )
    return body


def _check_name(name: str, what: str, where: str) -> None:
    """A pipeline or stage name becomes part of a folder name: keep it to a safe alphabet."""
    if not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise PipelineSpecError(
            f"{where}: {what} name {shorten(name)!r} is not allowed (it names a folder of the "
            f"run); use {_NAME_RULE}, without '..'.",
            **{what: name},
        )


def _load_stage(name: str, body: Any, path: Path, where: str) -> StageSpec:
    _check_name(name, "stage", where)
    where = f"{where}, stage '{name}'"
    body = _mapping(body, where, _STAGE_KEYS)
    if "notebook" not in body:
        raise PipelineSpecError(f"{where} needs a 'notebook'", stage=name)
    notebook = (path.parent / str(body["notebook"])).resolve()
    if not notebook.is_file():
        raise PipelineSpecError(
            f"{where}: notebook {body['notebook']} does not exist (looked for {notebook})",
            stage=name,
            path=notebook,
        )
    template = inspect_template(notebook)
    if STAGE_DIR_PARAM not in template.params:
        raise PipelineSpecError(
            f"{where}: the parameters cell of {notebook.name} must declare "
            f"`{STAGE_DIR_PARAM} = None` (the runner injects the stage folder there)",
            stage=name,
        )
    needs = body.get("needs") or []
    needs = [needs] if isinstance(needs, str) else list(needs)
    params = {
        str(p): parse_param(str(p), raw, where) for p, raw in (body.get("params") or {}).items()
    }
    cache = str(body.get("cache", "auto"))
    if cache not in ("auto", "never"):
        raise PipelineSpecError(f"{where}: cache must be 'auto' or 'never'", stage=name)
    return StageSpec(
        name, template, tuple(map(str, needs)), params, str(body.get("description", "")), cache
    )


def _topological(stages: list[StageSpec], where: str) -> list[StageSpec]:
    """Order stages so each comes after what it needs, keeping declaration order."""
    by_name = {stage.name: stage for stage in stages}
    for stage in stages:
        for need in stage.needs:
            if need not in by_name:
                raise PipelineSpecError(
                    f"{where}: stage '{stage.name}' needs '{need}', which is not a stage"
                    f"{_suggest(need, list(by_name))}; stages: {', '.join(by_name)}",
                    stage=stage.name,
                )
    needs = {stage.name: stage.needs for stage in stages}
    cycle = dag.cycle(needs)
    if cycle is not None:
        raise PipelineSpecError(
            f"{where}: stages depend on each other in a cycle: {' -> '.join(cycle)}"
        )
    return [by_name[name] for name in dag.run_order(needs)]


def _check_params(
    name: str, params: dict[str, ParamSpec], stages: list[StageSpec], where: str
) -> None:
    for stage in stages:
        for param in stage.params:
            if not stage.accepts(param):
                raise PipelineSpecError(
                    f"{where}: stage '{stage.name}' declares parameter '{param}' but its "
                    f"template {stage.notebook.name} has no such name in its parameters cell",
                    stage=stage.name,
                    param=param,
                )
    for param in params:
        if not any(stage.accepts(param) for stage in stages):
            raise PipelineSpecError(
                f"{where}: parameter '{param}' is used by no stage (no template declares it)",
                pipeline=name,
                param=param,
            )


def _suggest(name: str, options: list[str]) -> str:
    close = closest(name, options)
    return f" (did you mean '{close[0]}'?)" if close else ""
