"""Monitoring: data and prediction drift, and model performance against a reference.

Typical notebook flow::

    detector = DriftDetector().fit(reference)          # e.g. the training data
    detector.profile_.save("drift_profile.json")       # JSON or Parquet, never pickle
    report = DriftDetector.from_profile("drift_profile.json").test(current)
    report = detector.test_partitions(frames)          # one partition at a time, same report
    report.dataset_drift, report.drift_share
    report.features                                    # one row per column, with a reason
    drift_overview_figure(report)
    drift_figure(detector, current, "monthly_charges", report=report)
    performance_check({"roc_auc": 0.74}, {"roc_auc": 0.81}, tolerance=0.02).degraded

See :mod:`mlops_nb.monitoring.drift` for the decision rule and its guarantees,
:mod:`mlops_nb.monitoring.summary` for the mergeable summary of current data
and :mod:`mlops_nb.monitoring.partitions` for a partitioned dataset (on Dask).
Names are imported on first use, so drift checks do not load matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_nb.exports import lazy_getattr

_EXPORTS = {
    "ColumnProfile": "mlops_nb.monitoring.profile",
    "CurrentSummary": "mlops_nb.monitoring.summary",
    "DriftDetector": "mlops_nb.monitoring.drift",
    "DriftReport": "mlops_nb.monitoring.report",
    "MonitoringError": "mlops_nb.monitoring.errors",
    "PartitionPlan": "mlops_nb.monitoring.partitions",
    "PartitionScan": "mlops_nb.monitoring.partitions",
    "PerformanceReport": "mlops_nb.monitoring.performance",
    "ReferenceProfile": "mlops_nb.monitoring.profile",
    "build_profile": "mlops_nb.monitoring.profiling",
    "dataset_files": "mlops_nb.monitoring.partitions",
    "drift_figure": "mlops_nb.monitoring.plots",
    "drift_overview_figure": "mlops_nb.monitoring.plots",
    "performance_check": "mlops_nb.monitoring.performance",
    "scan_partitions": "mlops_nb.monitoring.partitions",
}

__all__ = [
    "ColumnProfile",
    "CurrentSummary",
    "DriftDetector",
    "DriftReport",
    "MonitoringError",
    "PartitionPlan",
    "PartitionScan",
    "PerformanceReport",
    "ReferenceProfile",
    "build_profile",
    "dataset_files",
    "drift_figure",
    "drift_overview_figure",
    "performance_check",
    "scan_partitions",
]

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:
    from mlops_nb.monitoring.drift import DriftDetector
    from mlops_nb.monitoring.errors import MonitoringError
    from mlops_nb.monitoring.partitions import (
        PartitionPlan,
        PartitionScan,
        dataset_files,
        scan_partitions,
    )
    from mlops_nb.monitoring.performance import PerformanceReport, performance_check
    from mlops_nb.monitoring.plots import drift_figure, drift_overview_figure
    from mlops_nb.monitoring.profile import ColumnProfile, ReferenceProfile
    from mlops_nb.monitoring.profiling import build_profile
    from mlops_nb.monitoring.report import DriftReport
    from mlops_nb.monitoring.summary import CurrentSummary
