"""Fixtures of the tracking tests: a store on a real database (SQLite file and PostgreSQL).

``store`` runs each test on both backends (``store_url`` in tests/conftest.py);
``db_path`` is for the tests of what only the SQLite file does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_nb.tracking import TrackingStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "outputs" / "mlops.db"


@pytest.fixture
def store(store_url: str) -> Iterator[TrackingStore]:
    with TrackingStore(store_url) as opened:
        yield opened


@pytest.fixture
def sqlite_store(db_path: Path) -> Iterator[TrackingStore]:
    """A store on the SQLite file ``db_path``, for tests of what only SQLite does."""
    with TrackingStore(db_path) as opened:
        yield opened
