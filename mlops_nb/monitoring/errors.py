"""The error of the monitoring subpackage (it lives in :mod:`mlops_nb.errors`)."""

from __future__ import annotations

from mlops_nb.errors import MonitoringError

__all__ = ["MonitoringError"]
