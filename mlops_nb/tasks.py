"""The learning tasks, and the check of a task's name.

One list for every layer that takes a ``task``. Each refuses an unknown one
with its own error class and hint: data (``infer_task``), preparation
(``split``, the feature pipeline) and modeling (tuning, metrics, plots) sit side
by side, so the list lives below all of them.
"""

from __future__ import annotations

from mlops_nb.errors import MlopsNbError

__all__ = ["TASKS", "TASK_CHOICES", "check_task"]

TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")
TASK_CHOICES: tuple[str, ...] = ("auto", *TASKS)
"""What the ``task`` parameter accepts: ``auto`` infers the task from the target."""


def check_task(task: str, error: type[MlopsNbError], hint: str = "") -> str:
    """Return ``task`` if it is one of :data:`TASKS`, else raise ``error``.

    The message is ``Unknown task 'x'; use one of binary, multiclass, regression``
    followed by ``hint`` (e.g. `` (infer it from the target ...)``) and a full stop.
    """
    if task not in TASKS:
        raise error(
            f"Unknown task {task!r}; use one of {', '.join(TASKS)}{hint}.", parameter="task"
        )
    return task
