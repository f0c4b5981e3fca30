"""What a registered version is: its row (:class:`ModelVersion`) and, loaded, its model."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandera.pandas as pa

__all__ = ["ACTIVE", "RETIRED", "LoadedModel", "ModelVersion"]

ACTIVE, RETIRED = "active", "retired"


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model.

    Attributes:
        name: The model name.
        version: Its number, from 1.
        created_at: When it was registered (UTC).
        status: ``"active"`` or ``"retired"``.
        aliases: The aliases pointing at it now, sorted.
        metrics: The metrics it was registered with (NaN stored as None).
        task: ``classification`` or ``regression`` (as given at registration).
        target: The target column.
        lineage: ``data_version``, ``pipeline_run`` and ``training_run``.
        path: Its package folder.
    """

    name: str
    version: int
    created_at: datetime
    status: str
    aliases: tuple[str, ...]
    metrics: dict[str, float | None]
    task: str
    target: str
    lineage: dict[str, str | None]
    path: Path

    @property
    def ref(self) -> str:
        """The reference ``NAME:VERSION`` that always loads this version."""
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class LoadedModel:
    """A verified, loaded version: the estimator, its input contract and its metadata."""

    model: Any
    version: ModelVersion
    signature: pa.DataFrameSchema
    metadata: dict[str, Any] = field(repr=False)
