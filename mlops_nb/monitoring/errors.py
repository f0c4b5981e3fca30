"""The error of the monitoring subpackage."""

from __future__ import annotations

from mlops_nb.errors import MlopsNbError

__all__ = ["MonitoringError"]


class MonitoringError(MlopsNbError, ValueError):
    """Drift or performance monitoring cannot run as requested.

    Raised for empty current data, columns of the reference missing from the
    current data (``columns``), a column whose type changed (``columns``), a
    bad parameter (``parameter``) and a drift profile file that cannot be read
    (``path``). The message names the columns and says how to fix the problem.
    """
