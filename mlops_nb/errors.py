"""The one error tree of mlops-nb.

Every error a user can see derives from :class:`MlopsNbError`; each carries
structured attributes naming *where* it happened, and a message that says
*what* failed and *how to fix it*::

    MlopsNbError
    ├── ConfigError              project layout, settings
    ├── ScaffoldError            `mlops-nb new` cannot create the project where asked
    ├── PipelineSpecError        pipeline.yaml: unknown stage, cycle, missing notebook
    │   └── ParameterError       unknown -p name, value of the wrong type   (also ValueError)
    ├── RunError                 a run that cannot start or continue
    │   ├── StageFailedError     a stage's notebook raised: stage, cell, error, notebook path
    │   └── ForkServerError      the kernel fork server did not start or answer (also RuntimeError)
    ├── RunNotFoundError         `runs show` of an id that does not exist   (also LookupError)
    ├── ComparisonError          a run comparison asked for an unknown section (also ValueError)
    ├── StageInputError          an upstream stage has not run / artifact missing (also LookupError)
    ├── ArtifactError            an artifact cannot be saved or loaded       (also ValueError)
    ├── DataSourceError          data source missing, empty, malformed        (also ValueError)
    ├── DataValidationError      data breaks its pandera contract            (also ValueError)
    ├── ContractError            a contract file that cannot be read          (also ValueError)
    ├── PreparationError         cleansing, splitting or feature building     (also ValueError)
    ├── ModelingError            candidates, tuning, evaluation, comparison   (also ValueError)
    ├── StoreError               the tracking/registry database cannot be opened or written
    ├── TrackingError            a value cannot be logged or read as asked   (also ValueError)
    │   └── FilterError          a search filter or ordering cannot be parsed
    ├── RegistryError            model registry: bad name, untrusted or tampered package
    │   └── ModelNotFoundError   unknown model name, version or alias        (also LookupError)
    ├── ServingError             model server: unsafe bind, bad limits, no inference log
    │   └── ModelWorkerError     the model worker died while scoring or cannot start (503)
    ├── MonitoringError          drift or performance monitoring cannot run (also ValueError)
    ├── InteropError             MLflow bridge: extra not installed, store unreachable, bad id
    └── MissingExtraError        a part whose extra (serve, lab) is not installed (also ImportError)

Third-party errors (papermill, nbclient, pandas, SQLAlchemy, pandera) are
translated at the boundary into one of these, with the original on
``__cause__``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MAX_MESSAGE_LINES = 20
MAX_ITEM_CHARS = 60
"""Longest value :func:`listing` shows whole; a longer one (a 5 MB column name) is cut."""
CLOSE_ENOUGH = 0.6
"""Least similarity (difflib's ratio) of a name offered as "did you mean"."""


def cap_lines(text: str, limit: int = MAX_MESSAGE_LINES) -> str:
    """Shorten ``text`` to ``limit`` lines, saying how many were left out."""
    lines = text.splitlines()
    if len(lines) <= limit:
        return text
    hidden = len(lines) - limit
    return "\n".join([*lines[:limit], f"... ({hidden} more lines)"])


def listing(values: Iterable[object], limit: int, more: str = ", ... ({} more)") -> str:
    """``a, b, c`` for a message: at most ``limit`` values, then ``more`` with the count left out.

    A set is listed sorted (by text), anything else in its order. Each message
    keeps its own wording of the rest: ``more`` is formatted with the count.
    A value longer than :data:`MAX_ITEM_CHARS` is cut, saying how long it was.
    """
    items = sorted(values, key=str) if isinstance(values, (set, frozenset)) else list(values)
    shown = ", ".join(shorten(str(item)) for item in items[:limit])
    hidden = len(items) - limit
    return shown + (more.format(hidden) if hidden > 0 else "")


def shorten(text: str, limit: int = MAX_ITEM_CHARS) -> str:
    """``text``, or its first ``limit`` characters and ``… (N characters)`` when longer."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def closest(name: str, options: Iterable[str], n: int = 1) -> list[str]:
    """The (at most ``n``) ``options`` most like ``name``, best first: "did you mean" candidates."""
    matches: list[str] = difflib.get_close_matches(name, list(options), n=n, cutoff=CLOSE_ENOUGH)
    return matches


class MlopsNbError(Exception):
    """Root of every error raised by mlops-nb.

    Keyword attributes (``stage``, ``cell``, ``path``, ``column``, ...) are kept
    on the instance so callers can act on them without parsing the message.
    """

    def __init__(self, message: str, **where: Any) -> None:
        super().__init__(cap_lines(message))
        self.message = message
        self.where = where
        for key, value in where.items():
            setattr(self, key, value)

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for this error: ``ErrorClass: message``, no library frames.

        The message already says what failed and how to fix it, so a notebook
        shows it alone. ``%tb verbose`` (or ``%xmode Verbose``) shows the full
        traceback, and ``%debug`` opens the debugger where it was raised.
        """
        formatter = _ipython_formatter()
        if formatter is not None and formatter.mode == "Verbose":
            full: list[str] = formatter.structured_traceback(type(self), self, self.__traceback__)
            return full
        lines = str(self).splitlines() or [""]
        name = f"{_RED}{type(self).__name__}{_RESET}"
        return [f"{name}: {lines[0]}", *lines[1:], _TRACEBACK_HINT]


_RED, _RESET = "\x1b[0;31m", "\x1b[0m"
_TRACEBACK_HINT = "(the full traceback: %tb verbose)"


def _ipython_formatter() -> Any:
    """The running IPython shell's traceback formatter (it knows ``%xmode``), if any."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return getattr(get_ipython(), "InteractiveTB", None)


class ConfigError(MlopsNbError):
    """The project or its settings cannot be found or read."""


class PipelineSpecError(MlopsNbError):
    """pipeline.yaml is malformed or inconsistent."""


class ParameterError(PipelineSpecError, ValueError):
    """A parameter is unknown or its value cannot have the declared type."""


class RunError(MlopsNbError):
    """A run cannot start, continue or be read."""


class StageFailedError(RunError):
    """A stage's notebook raised an error while it was executed.

    Attributes: ``stage``, ``cell`` (1-based index of the failing code cell),
    ``ename``, ``evalue`` and ``notebook`` (the executed notebook's path).
    """

    stage: str
    cell: int | None
    ename: str
    evalue: str
    notebook: Path


class RunNotFoundError(MlopsNbError, LookupError):
    """No run has the requested id."""


class ComparisonError(MlopsNbError, ValueError):
    """Two runs cannot be compared as asked: a section of the comparison that does not exist."""


class StageInputError(MlopsNbError, LookupError):
    """An upstream stage's output is not available to the stage asking for it.

    Attributes: ``stage`` (the upstream stage asked for); for a stage that has
    not run, ``missing`` (every upstream stage without output, in run order)
    and, in the development folder, ``command`` (the ``mlops-nb run ... --dev``
    that makes them).
    """


class DataSourceError(MlopsNbError, ValueError):
    """A data source cannot be parsed, found or read."""


class DataValidationError(MlopsNbError, ValueError):
    """Data does not satisfy its contract.

    ``failures`` holds the full failure table (a DataFrame) when there is one.
    """


class ScaffoldError(MlopsNbError):
    """A project cannot be created where asked."""


class ForkServerError(RunError, RuntimeError):
    """The fork server could not be started, did not answer, or refused a request."""


class ArtifactError(MlopsNbError, ValueError):
    """An artifact cannot be saved or loaded."""


class StoreError(MlopsNbError):
    """The tracking/registry database cannot be opened, migrated or written."""


class TrackingError(MlopsNbError, ValueError):
    """Something cannot be logged to, or read from, the tracking store as asked."""


class FilterError(TrackingError):
    """A search filter or ordering cannot be parsed.

    Attributes: ``filter`` (the text), ``position`` (0-based) and ``token``.
    """


class MonitoringError(MlopsNbError, ValueError):
    """Drift or performance monitoring cannot run as requested.

    Raised for empty current data, columns of the reference missing from the
    current data (``columns``), a column whose type changed (``columns``), a
    bad parameter (``parameter``) and a drift profile file that cannot be read
    (``path``). The message names the columns and says how to fix the problem.
    """


class ContractError(MlopsNbError, ValueError):
    """A contract file cannot be read, written or inferred."""


class PreparationError(MlopsNbError, ValueError):
    """Data cannot be cleansed, split or turned into features as requested."""


class ModelingError(MlopsNbError, ValueError):
    """Models cannot be tuned, evaluated or compared as requested."""


class RegistryError(MlopsNbError):
    """A model cannot be registered, found, loaded or moved between aliases."""


class ModelNotFoundError(RegistryError, LookupError):
    """No model, version or alias has the requested name."""


class ServingError(MlopsNbError):
    """A model cannot be served, or its inference log cannot be read.

    Raised before a server starts (an unsafe host without a token, a bad limit,
    a signature the server cannot check, a port in use) and by
    :func:`mlops_nb.serving.read_inference_log`.
    """


class ModelWorkerError(ServingError):
    """The model worker process died while scoring, or cannot be started.

    The server answers the requests it was scoring with 503 and ``Retry-After``
    and starts a new worker; at startup it is raised by ``start_server``.
    """


class InteropError(MlopsNbError):
    """Runs or models cannot be exported to, or imported from, another tool (MLflow).

    Raised when the ``[mlflow]`` extra is not installed, the MLflow tracking URI
    cannot be reached, or a run id, model name or experiment asked for does not
    exist; the message names it and says how to fix it. ``uri`` holds the
    tracking URI (without a password) where one was given.
    """


class MissingExtraError(MlopsNbError, ImportError):
    """A part of mlops-nb needs an extra that is not installed in this environment.

    The core install runs pipelines, data, validation, modeling, tracking and the
    registry; the HTTP server needs ``[serve]``, the widgets ``[lab]``. The
    message names the part and the ``pip install 'mlops-nb[EXTRA]'`` command;
    ``extra`` holds the extra and ``module`` the missing module.
    """
