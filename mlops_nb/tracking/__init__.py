"""Experiment tracking: runs, params, metrics with steps, tags and artifacts in SQLite."""

from mlops_nb.tracking.db import StoreError, connect, migrate, transaction

__all__ = ["StoreError", "connect", "migrate", "transaction"]
