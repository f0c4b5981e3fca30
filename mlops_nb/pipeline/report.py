"""The run report: each executed notebook as HTML, and the run's ``index.html``.

``index.html`` is static HTML (no JavaScript), rewritten at every state change of
a run, so it must stay cheap: it reads the run's record, the small decision files
of its stages and the previous run's ``run.json`` (once per write), and nothing
that is missing or damaged can stop it from being written.

It shows the stage timeline (a bar per stage proportional to its seconds,
cached stages marked), the headline metrics, links to each stage's report and
executed notebook, the model version registered and the gate's alias decision,
a monitor run's decision and retraining, the run that triggered this one, and
what changed in params, metrics and notes since the previous run of the same pipeline
(deltas only for quantities: none for a version number, a flag or a text;
shares in percentage points). A partial run (``--until``) says so, and is
compared on the stages it ran.

Each stage's own ``report.html`` is :mod:`~mlops_nb.pipeline.stage_report`'s.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from mlops_nb.errors import ArtifactError, RegistryError
from mlops_nb.pipeline import compare
from mlops_nb.pipeline.archive import INDEX
from mlops_nb.pipeline.diff import (
    Difference,
    RunDiff,
    format_delta,
    format_relative,
    format_value,
)
from mlops_nb.registry.gate import PromotionRecord

__all__ = ["INDEX", "gate_decision", "write_index"]

log = logging.getLogger(__name__)
DECISION_FILE = "decision.json"
HEADLINE = re.compile(
    r"(accuracy|f1|f1_macro|roc_auc|log_loss|rmse|mae|r2|cv_\w+|current_\w+"
    r"|drift_share|drifted_features|dataset_drift|decision)"
)
"""Metric names (after ``stage.``) shown as the run's headline."""
IDENTIFIER = re.compile(r"(?:\w+_)?(?:version|id|seed|random_state|pid|port|run)")
"""Metric names (after ``stage.``) that hold identifiers: no delta, however numeric."""
SHARE = re.compile(r"\w*(?:share|fraction)")
"""Metric names of shares in [0, 1]: shown as percentages, changes in percentage points."""
MAX_HEADLINE = 12
MIN_BAR = 0.4  # percent: a stage of a few milliseconds still shows a sliver
MAX_REMEMBERED = 256
_PREVIOUS: dict[tuple[str, str], str] = {}  # (runs dir, run id) → previous run id


@cache
def _environment() -> jinja2.Environment:
    loader = jinja2.PackageLoader("mlops_nb.pipeline", "templates")
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["number"] = _number
    env.filters["metric"] = metric_text
    return env


def _number(value: Any) -> str:
    return format_value(value)


def _name(key: str) -> str:
    return key.rpartition(".")[2]


def is_identifier(key: str) -> bool:
    """Whether metric ``key`` (``stage.name``) names an identifier, e.g. ``register.version``."""
    return bool(IDENTIFIER.fullmatch(_name(key)))


def is_share(key: str, value: Any = 0.0) -> bool:
    """Whether metric ``key`` is a share (``drift_share``, ``invalid_fraction``) in [0, 1]."""
    number = _float(value)
    return bool(SHARE.fullmatch(_name(key))) and number is not None and 0.0 <= number <= 1.0


def metric_text(value: Any, key: str) -> str:
    """A metric's value for the report: shares as percentages, others to 4 digits."""
    if is_share(key, value):
        return f"{float(value):.1%}"
    return format_value(value)


def change_texts(key: str, a: Any, b: Any) -> tuple[str, str]:
    """``(delta, relative)`` of a metric from ``a`` to ``b``, as shown (empty: none).

    Only quantities get them: not identifiers (a version number's "+100%"),
    booleans or text. A share changes by percentage points, with no relative
    change (a share's relative change reads as a share).
    """
    before, after = _float(a), _float(b)
    if before is None or after is None or is_identifier(key):
        return "", ""
    if is_share(key, before) and is_share(key, after):
        return f"{(after - before) * 100:+.1f} pp", ""
    delta = after - before
    relative = delta / abs(before) if before else None
    return format_delta(delta), format_relative(relative)


def write_index(run_dir: Path, record: dict[str, Any]) -> Path:
    """Write the run's ``index.html`` from its manifest.

    Args:
        run_dir: The run folder (``outputs/runs/<id>``).
        record: The run's manifest, as in ``run.json``.

    Returns:
        The path of ``index.html``.

    Raises:
        ArtifactError: The report template cannot be rendered.
    """
    run_dir = Path(run_dir)
    view = build_view(run_dir, record)
    try:
        template = _environment().get_template("index.html.j2")
        html = template.render(**view)
    except jinja2.TemplateError as exc:
        raise ArtifactError(f"cannot render the report of {run_dir}: {exc}") from exc
    target = run_dir / INDEX
    tmp = target.with_suffix(".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(target)
    return target


def build_view(run_dir: Path, record: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the report shows, as plain values (the template only formats them)."""
    run_id = str(record.get("id") or run_dir.name)
    record = {**record, "id": run_id}
    comparison = _comparison(run_dir, record)
    return {
        "run": _summary(record),
        "stages": _timeline(record),
        "headline": _headline(record, comparison),
        "metrics": [(k, v) for k, v in _mapping(record.get("metrics")).items()],
        "model": _model(run_dir, record),
        "monitor": _monitor(record),
        "trigger": _trigger(record),
        "comparison": comparison,
        "data_versions": list(_mapping(record.get("data_versions")).items()),
        "params": [(k, _text(v)) for k, v in _mapping(record.get("params")).items()],
        "packages": list(_mapping(_mapping(record.get("environment")).get("packages")).items()),
    }


def run_href(run_id: Any) -> str:
    """The relative link from one run's index.html to another's."""
    return f"../{quote(str(run_id))}/{INDEX}"


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return format_value(value)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _summary(record: Mapping[str, Any]) -> dict[str, Any]:
    git = _mapping(record.get("git"))
    environment = _mapping(record.get("environment"))
    error = _mapping(record.get("error"))
    return {
        "id": record["id"],
        "pipeline": str(record.get("pipeline") or "?"),
        "status": str(record.get("status") or "unknown"),
        "started_at": record.get("started_at") or "",
        "finished_at": record.get("finished_at"),
        "seconds": _float(record.get("seconds")),
        "until": record.get("until"),
        "partial": bool(record.get("partial") or record.get("until")),
        "resumed_from": record.get("resumed_from"),
        "resumed_href": run_href(record["resumed_from"]) if record.get("resumed_from") else None,
        "commit": str(git.get("commit") or "")[:12] or None,
        "dirty": bool(git.get("dirty")),
        "python": environment.get("python"),
        "error": error.get("message") if error else None,
    }


def _timeline(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per stage, with its bar's offset and width in percent of the run's span.

    Offsets come from the stages' start times when they are known (stages may
    run in parallel), else stages are laid end to end.
    """
    stages = compare.stage_entries(record)
    spans = _spans(record, stages)
    total = max((start + spent for start, spent in spans), default=0.0) or 1.0
    rows = []
    for index, (stage, (start, spent)) in enumerate(zip(stages, spans, strict=True), start=1):
        cached_from, worker = stage.get("cached_from"), stage.get("worker")
        width = max(spent / total * 100, MIN_BAR) if spent else 0.0
        error = _mapping(stage.get("error"))
        rows.append(
            {
                "index": index,
                "name": stage["name"],
                "notebook": stage.get("notebook") or "",
                "status": str(stage.get("status") or "pending"),
                "seconds": _float(stage.get("seconds")),
                "kernel_seconds": _float(stage.get("kernel_seconds")),
                "execute_seconds": _float(stage.get("execute_seconds")),
                "cached": bool(stage.get("cached")),
                "cached_from": cached_from,
                "cached_href": run_href(cached_from) if cached_from else None,
                "worker": worker if worker != record.get("host") else None,
                "offset": round(max(0.0, min(start / total * 100, 100 - width)), 2),
                "width": round(width, 2),
                "metrics": [(k, v) for k, v in _mapping(stage.get("metrics")).items()],
                "report": stage.get("report"),
                "executed": stage.get("executed"),
                "error": error.get("message") if error else None,
            }
        )
    return rows


def _spans(record: Mapping[str, Any], stages: list[Mapping[str, Any]]) -> list[tuple[float, float]]:
    """(start, seconds) of each stage, from the run's start."""
    seconds = [_float(stage.get("seconds")) or 0.0 for stage in stages]
    origin = _time(record.get("started_at"))
    starts = [_time(stage.get("started_at")) for stage in stages]
    ran = [t for t, spent in zip(starts, seconds, strict=True) if spent and t is not None]
    if origin is not None and len(ran) == sum(1 for spent in seconds if spent):
        return [
            ((t - origin) if t is not None and spent else 0.0, spent)
            for t, spent in zip(starts, seconds, strict=True)
        ]
    spans, offset = [], 0.0
    for spent in seconds:
        spans.append((offset, spent))
        offset += spent
    return spans


def _time(value: Any) -> float | None:
    """Seconds since the epoch of an ISO time (``...Z``), or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _headline(record: Mapping[str, Any], comparison: Mapping[str, Any]) -> list[dict[str, Any]]:
    metrics = _mapping(record.get("metrics"))
    keys = [k for k in metrics if HEADLINE.fullmatch(k.rpartition(".")[2])]
    if not keys:  # no known quality metric: the last stage that logged any
        for stage in reversed(compare.stage_entries(record)):
            logged = _mapping(stage.get("metrics"))
            if logged:
                keys = [f"{stage['name']}.{k}" for k in logged if f"{stage['name']}.{k}" in metrics]
                break
    deltas = {}
    if comparison.get("diff") is not None:
        deltas = {d.key: d for d in comparison["diff"].metrics}
    rows = []
    for key in keys[:MAX_HEADLINE]:
        difference = deltas.get(key)
        changed = bool(difference and difference.differs)
        delta = change_texts(key, difference.a, difference.b)[0] if difference and changed else ""
        rows.append({"key": key, "value": metrics[key], "delta": delta, "changed": changed})
    return rows


def _model(run_dir: Path, record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The version registered and the gate's decision (``NN_evaluate/decision.json``)."""
    registered = compare.registered_model(record)
    gate = gate_decision(run_dir, record)
    if not registered and gate is None:
        return None
    name, version = registered.get("model"), registered.get("version")
    return {
        "ref": f"{name}:{version}" if registered else None,
        "promoted": registered.get("promoted"),
        "gate": gate,
    }


def gate_decision(run_dir: Path, record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The promotion gate's decision recorded by a stage of the run, or None.

    It is the ``decision`` artifact (a
    :class:`~mlops_nb.registry.gate.PromotionRecord`) of the last stage that
    saved one: the register stage's (``NN_register/decision.json``, the
    decision applied, judged again if the champion moved meanwhile), else the
    evaluate stage's. It says whether to promote, why, the alias, the metric
    compared, the challenger's and champion's values, and links to the file
    from the run's ``index.html``. A file that is not a promotion decision is
    skipped.
    """
    for stage in reversed(compare.stage_entries(record)):
        artifact = _mapping(_mapping(stage.get("artifacts")).get("decision"))
        file = artifact.get("file") or DECISION_FILE
        folder = stage.get("dir")
        if not artifact or not isinstance(folder, str) or not isinstance(file, str):
            continue
        decision = _promotion_record(run_dir / folder / file)
        if decision is None:
            continue
        params = {**_mapping(record.get("params")), **_mapping(stage.get("params"))}
        return {
            "stage": stage["name"],
            "promote": decision.promote,
            "verdict": decision.verdict,
            "decided": decision.decided,
            "reason": decision.reason,
            "summary": decision.summary,
            "alias": decision.alias,
            "metric": decision.metric,
            "challenger": _float(decision.challenger),
            "champion": _float(decision.champion),
            "champion_version": decision.champion_version,
            # the gate records the observed improvement as "margin"; the required one
            # too since it is re-judged in register, else it is the evaluate stage's parameter
            "improvement": _float(decision.margin),
            "required_margin": _float(
                params.get("margin")
                if decision.required_margin is None
                else decision.required_margin
            ),
            "rejudged": decision.rejudged,
            "href": f"{quote(folder)}/{quote(file)}",
        }
    return None


def _promotion_record(path: Path) -> PromotionRecord | None:
    """The promotion decision saved at ``path``, or None (missing, damaged, or another kind)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.debug("no gate decision in %s: %s", path.parent.name, exc)
        return None
    if not isinstance(data, dict) or "promote" not in data:
        return None
    try:
        return PromotionRecord.from_dict(data)
    except RegistryError as exc:
        log.debug("the gate decision %s is malformed, not shown: %s", path, exc)
        return None


def _monitor(record: Mapping[str, Any]) -> dict[str, Any] | None:
    if record.get("decision") is None and not record.get("retraining"):
        return None
    retraining = record.get("retraining")
    summary, run = None, None
    if isinstance(retraining, Mapping):
        summary = retraining.get("summary") or retraining.get("status")
        run = retraining.get("run")
    elif retraining is not None:
        summary = _text(retraining)
    return {
        "decision": record.get("decision"),
        "reason": record.get("decision_reason"),
        "model": record.get("monitored_model"),
        "retraining": summary,
        "retraining_run": run,
        "retraining_href": run_href(run) if run else None,
    }


def _trigger(record: Mapping[str, Any]) -> dict[str, Any] | None:
    trigger = record.get("trigger")
    if not trigger:
        return None
    if not isinstance(trigger, Mapping):
        return {"run": None, "href": None, "details": [("trigger", _text(trigger))]}
    run = trigger.get("run")
    details = [(str(k), _text(v)) for k, v in trigger.items() if k != "run"]
    return {"run": run, "href": run_href(run) if run else None, "details": details}


def _comparison(run_dir: Path, record: Mapping[str, Any]) -> dict[str, Any]:
    """The params, metrics and notes differences against the previous run of the pipeline."""
    out: dict[str, Any] = {
        "previous": None,
        "status": None,
        "href": None,
        "diff": None,
        "params": [],
        "metrics": [],
        "only_stages": None,
        "error": None,
    }
    runs_dir = run_dir.parent
    key = (str(runs_dir), str(record["id"]))
    try:
        found = compare.find_previous(
            runs_dir, key[1], record.get("pipeline"), start=_PREVIOUS.get(key)
        )
        if found is None:
            return out
        previous_id, previous = found
        if len(_PREVIOUS) > MAX_REMEMBERED:
            _PREVIOUS.clear()
        _PREVIOUS[key] = previous_id
        diff = compare.compare_runs(previous, record)
        kept = _ran_stages(record)
        out.update(
            previous=previous_id,
            status=previous.get("status"),
            href=run_href(previous_id),
            diff=diff,
            params=[*diff.section("params"), *_only(diff.section("stage_params"), kept)],
            metrics=[_metric_change(d) for d in _only(_metrics_and_notes(diff), kept)],
            only_stages=sorted(kept) if kept is not None else None,
        )
    except Exception as exc:  # a damaged previous run must never break the report
        log.warning("could not compare run %s with the previous one: %s", record["id"], exc)
        out.update(previous=None, diff=None, params=[], metrics=[], error=str(exc))
    return out


def _metrics_and_notes(diff: RunDiff) -> list[Difference]:
    """The differing metrics, then the differing notes (text such as the model name)."""
    return [*diff.section("metrics"), *diff.section("notes")]


def _metric_change(difference: Difference) -> dict[str, Any]:
    delta, relative = change_texts(difference.key, difference.a, difference.b)
    return {
        "key": difference.key,
        "change": difference.change,
        "a": difference.a,
        "b": difference.b,
        "delta": delta,
        "relative": relative,
    }


def _ran_stages(record: Mapping[str, Any]) -> set[str] | None:
    """The stages of a partial run (``--until``), whose keys alone are compared; else None.

    A partial run has no metrics for the stages after ``until``: listing them
    as "removed" would only repeat that it stopped early.
    """
    if not (record.get("partial") or record.get("until")):
        return None
    return {str(stage["name"]) for stage in compare.stage_entries(record)}


def _only(differences: list[Difference], stages: set[str] | None) -> list[Any]:
    if stages is None:
        return differences
    return [d for d in differences if d.key.partition(".")[0] in stages]
