"""Data preparation: standardise values, cleanse rows, split train/test.

Typical notebook flow::

    df, changes = standardize(raw, target)
    result = cleanse(df, target)
    parts = split(result.data, target, task)
    before_after(raw, result.data)
"""

from mlops_nb.prep.cleanse import CleanseResult, cleanse, standardize
from mlops_nb.prep.outliers import OutlierClipper, iqr_fences, outlier_fences
from mlops_nb.prep.report import before_after, missing_table
from mlops_nb.prep.split import SplitResult, check_target, check_task, split
from mlops_nb.tasks import TASKS

__all__ = [
    "TASKS",
    "CleanseResult",
    "OutlierClipper",
    "SplitResult",
    "before_after",
    "check_target",
    "check_task",
    "cleanse",
    "iqr_fences",
    "missing_table",
    "outlier_fences",
    "split",
    "standardize",
]
