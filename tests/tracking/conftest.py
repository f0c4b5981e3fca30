"""Fixtures of the tracking tests: a store on a real SQLite file in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_nb.tracking import TrackingStore


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "outputs" / "mlops.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[TrackingStore]:
    with TrackingStore(db_path) as opened:
        yield opened
