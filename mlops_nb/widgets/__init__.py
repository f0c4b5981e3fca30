"""Jupyter widgets over the run archive, the registry and drift monitoring.

::

    from mlops_nb.widgets import DriftExplorer, RegistryBrowser, RunBrowser

    RunBrowser()         # filter runs, compare them side by side, plot a metric
    RegistryBrowser()    # versions, alias history, move an alias with a reason, retire
    DriftExplorer()      # a version's reference profile against any current data

Each is a class whose child widgets are attributes (``.runs``, ``.promote_button``
...), so code can drive them; ``.widget`` is the top-level box, and the object
itself displays as that box when it is the last line of a cell.
Names are imported on first use, so ``import mlops_nb.widgets`` loads no widgets.
They need the ``[lab]`` extra (ipywidgets): without it, using one raises
:class:`~mlops_nb.errors.MissingExtraError` naming ``pip install 'mlops-nb[lab]'``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_nb.exports import lazy_getattr
from mlops_nb.extras import guard_exports

_EXPORTS = {
    "DriftExplorer": "mlops_nb.widgets.drift",
    "RegistryBrowser": "mlops_nb.widgets.registry",
    "RunBrowser": "mlops_nb.widgets.runs",
}

__all__ = ["DriftExplorer", "RegistryBrowser", "RunBrowser"]

__getattr__ = guard_exports(
    lazy_getattr(__name__, _EXPORTS, globals()), "lab", "the Jupyter widgets", __name__
)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from mlops_nb.widgets.drift import DriftExplorer
    from mlops_nb.widgets.registry import RegistryBrowser
    from mlops_nb.widgets.runs import RunBrowser
