"""The model worker: a separate process that loads the model and scores for the server.

* ``process``: :class:`ModelProcess`, the server's side: starts, feeds and restarts it;
* ``main``: the worker program (``python -m mlops_nb.serving.worker``);
* ``protocol``: the length-prefixed JSON messages between the two.

This package imports nothing on its own, so ``python -m mlops_nb.serving.worker``
loads only what ``main`` needs: the model stack, never the web stack.
"""

from __future__ import annotations

from mlops_nb.exports import lazy_getattr

_EXPORTS = {"ModelProcess": "mlops_nb.serving.worker.process"}

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = ["ModelProcess"]
