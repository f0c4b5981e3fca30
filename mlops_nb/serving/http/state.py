"""What the endpoints of the model server share, and how it is put together.

:func:`open_state` loads the model (from the registry, or from a deployment
bundle's folder), starts its worker process and opens its inference log;
:class:`ServingState` holds them with the request limits, turns request
bodies into records and results into answers, and closes everything in order.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path
from typing import Any

from mlops_nb.config import ARTIFACTS_ENV, OUTPUTS_ENV, STORE_ENV, Settings, load_settings
from mlops_nb.registry import LoadedModel, Registry
from mlops_nb.serving.bundle.load import load_bundle
from mlops_nb.serving.http.batching import MicroBatcher
from mlops_nb.serving.http.body import ApiError
from mlops_nb.serving.http.limits import (
    RequestLimits,
    declared_record,
    long_text_errors,
    request_limits,
)
from mlops_nb.serving.http.openapi import record_schema, signature_columns
from mlops_nb.serving.inference_log import InferenceLog, LogEntry, inference_backend
from mlops_nb.serving.options import ServeOptions
from mlops_nb.serving.scoring import Scorer, Scores
from mlops_nb.serving.worker.process import ModelProcess
from mlops_nb.store import Backend
from mlops_nb.validation import pii_columns
from mlops_nb.validation.fast import Checked

__all__ = ["MAX_LISTED_ERRORS", "ServingState", "open_state"]

MAX_LISTED_ERRORS = 1_000


class ServingState:
    """What the endpoints share: the scorer, the batcher, the log and the limits."""

    def __init__(
        self,
        scorer: Scorer,
        worker: ModelProcess | None,
        log: InferenceLog | None,
        limits: RequestLimits,
        record: dict[str, Any],
    ) -> None:
        self.scorer, self.worker, self.log = scorer, worker, log
        self.batcher = MicroBatcher(worker.score if worker else scorer.score_checked)
        self.limits, self.record_schema = limits, record
        self.max_body_bytes, self.max_rows = limits.max_body_bytes, limits.max_rows

    def close(self) -> None:
        """Finish the running batch, stop the model worker, write the queued log entries."""
        self.batcher.close()
        if self.worker is not None:
            self.worker.close()
        if self.log is not None:
            self.log.close()

    def records(self, payload: Any) -> list[Any]:
        """The ``records`` list of a parsed body, or :class:`ApiError` 422 saying why."""
        if not isinstance(payload, dict) or "records" not in payload:
            raise ApiError(422, 'body must be a JSON object {"records": [{...}, ...]}.')
        extra = sorted(str(key) for key in payload if key != "records")
        if extra:
            raise ApiError(
                422, f'unknown field(s) {", ".join(extra)}; the body takes only "records".'
            )
        records = payload["records"]
        if not isinstance(records, list):
            raise ApiError(
                422, f'"records" must be a list of objects, got {type(records).__name__}.'
            )
        return self.bounded(records, '"records"')

    def bounded(self, records: list[Any], where: str = "the request") -> list[Any]:
        """``records`` if there are 1 to ``max_rows`` of them, else :class:`ApiError` 422.

        ``where`` names what holds them in the request, for the message.
        """
        if not records:
            raise ApiError(422, f"{where} is empty; send at least one record.")
        if len(records) > self.max_rows:  # the schema's maxItems: a 422 like its other rules
            raise ApiError(
                422,
                f"{len(records):,} records is over the limit of "
                f"{self.max_rows:,} per request; split them.",
            )
        return records

    def check(self, records: list[Any]) -> Checked:
        """Check ``records`` against the signature and the server's text cap."""
        checked = self.scorer.checker.check_records(records)
        if self.limits.text_columns:
            checked = long_text_errors(checked, self.limits, self.scorer.checker.names)
        return checked

    def refuse(self, checked: Checked) -> ApiError:
        """The 422 for records that break the contract."""
        bad = int(checked.failed_rows().sum())
        listed = [error.to_dict() for error in checked.errors[:MAX_LISTED_ERRORS]]
        return ApiError(
            422,
            f"{bad} of {checked.rows} record(s) break the input contract of "
            f"{self.scorer.name}:{self.scorer.version}; see errors (row is the 0-based "
            f"position in records).",
            listed,
            error_count=len(checked.errors),
        )

    def log_request(self, checked: Checked, request_id: str, scores: Scores) -> None:
        """Queue the request's inputs and outputs for the inference log.

        Columns the signature marks ``pii: true`` (personal data a model was
        allowed to read) are dropped: the log never holds their values.
        """
        if self.log is None:
            return
        personal = self._personal
        inputs = checked.values
        if personal:
            inputs = {k: v for k, v in inputs.items() if k not in personal}
        self.log.append(
            LogEntry(
                at=time.time(),
                model=self.scorer.name,
                version=self.scorer.version,
                request_id=request_id,
                inputs=inputs,
                predictions=scores.predictions,
                probabilities=scores.probabilities,
                classes=self.scorer.labels,
            )
        )

    @functools.cached_property
    def _personal(self) -> frozenset[str]:
        return frozenset(pii_columns(self.scorer.loaded.signature))

    def metadata(self) -> dict[str, Any]:
        """The body of ``GET /metadata``."""
        version, signature = self.scorer.loaded.version, self.scorer.loaded.signature
        log = self.log
        return {
            "name": version.name,
            "version": version.version,
            "ref": version.ref,
            "aliases": list(version.aliases),
            "task": version.task,
            "target": version.target,
            "created_at": version.created_at.isoformat(),
            "metrics": version.metrics,
            "lineage": version.lineage,
            "classes": list(self.scorer.classes),
            "signature": {
                "name": signature.name,
                "strict": True,
                "columns": signature_columns(signature),
            },
            "limits": self.limits.to_dict(),
            "inference_log": {
                "path": str(log.path) if log else None,
                "written": log.written if log else 0,
                "pending": log.pending if log else 0,
                "dropped": log.dropped if log else 0,
            },
        }


def _load(model_ref: str, settings: Settings | None, bundle: bool) -> LoadedModel:
    """Load through the registry's verified loading, or the bundle's (``model_ref`` a folder)."""
    if bundle:
        return load_bundle(model_ref)
    with Registry.from_settings(settings or load_settings()) as registry:
        return registry.load(model_ref)


def _log_location(settings: Settings | None, bundle: bool, model: str) -> Path | Backend:
    """The project's inference log of ``model`` (the team store's, when it has one)."""
    if settings is not None and settings.store:
        return inference_backend(settings, model)
    return _log_folder(settings, bundle) / f"{model}.db"


def _log_folder(settings: Settings | None, bundle: bool) -> Path:
    """``<outputs>/inference``; for a bundle and no project: ``$MLOPS_NB_OUTPUTS`` or ./outputs."""
    if settings is not None:
        return settings.outputs / "inference"
    if bundle:
        return Path(os.environ.get(OUTPUTS_ENV) or "outputs").expanduser().resolve() / "inference"
    return load_settings().outputs / "inference"


def _worker(model_ref: str, settings: Settings | None, loaded: LoadedModel) -> ModelProcess:
    """The worker process loading the same version: by number from the registry, or the bundle."""
    if settings is None:
        source = ["--bundle", str(Path(model_ref).expanduser().resolve())]
    else:
        source = ["--root", str(settings.root), "--outputs", str(settings.outputs)]
        source += ["--model", loaded.version.ref]
    return ModelProcess(source, loaded.version.ref, _store_environment(settings))


def _store_environment(settings: Settings | None) -> dict[str, str]:
    """The store and artifact location of ``settings``, as the worker's variables."""
    if settings is None:
        return {}
    return {
        name: value
        for name, value in ((STORE_ENV, settings.store), (ARTIFACTS_ENV, settings.artifacts))
        if value
    }


def open_state(model_ref: str, settings: Settings | None, options: ServeOptions) -> ServingState:
    """Load the model and start what serving it needs (see :func:`create_app`).

    Raises:
        ServingError: A bad limit (checked before the model is loaded), or a
            worker that cannot start.
    """
    body, rows, text = options.limits()
    if settings is None and not options.bundle:
        settings = load_settings()
    loaded = _load(model_ref, settings, options.bundle)
    scorer = Scorer(loaded)
    record = record_schema(loaded.signature)
    limits = request_limits(record, body, rows, text)
    log = None
    if options.log_predictions:
        log = InferenceLog(_log_location(settings, options.bundle, scorer.name))
    worker = None
    if options.model_process:
        worker = _worker(model_ref, None if options.bundle else settings, loaded)
        worker.start()
    return ServingState(scorer, worker, log, limits, declared_record(record, limits))
