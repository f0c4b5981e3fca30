"""What every check of the doctor works on: the project, its store connection, its live writers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_nb.config import Settings
from mlops_nb.maintenance.doctor.checksums import Problem
from mlops_nb.maintenance.doctor.findings import Report
from mlops_nb.store import Backend, Connection
from mlops_nb.store.files import ArtifactLocation

__all__ = ["Project"]


@dataclass
class Project:
    """One doctor run's view of a project.

    Attributes:
        settings: The project.
        backend: Its store.
        location: Its artifact location.
        report: Where the checks add their findings.
        conn: A connection to the store; None when it does not exist yet or is damaged
            (the checks that read it are then skipped).
        unread: Why the store was not read (``missing``, ``damaged``, ``unreadable``),
            "" when it was.
        live: The processes that may be writing now (``run 2026...-ab12 (pid 123)``):
            while there is one, nothing a writer could still be using is repaired.
        versions: Each store component's schema version.
        stages: Stage folders already checked, and what was found in each.
    """

    settings: Settings
    backend: Backend
    location: ArtifactLocation
    report: Report
    conn: Connection | None = None
    unread: str = ""
    live: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    stages: dict[Path, list[Problem]] = field(default_factory=dict)

    def has(self, component: str) -> bool:
        """Whether the store holds ``component``'s tables (a connection and a schema version)."""
        return self.conn is not None and self.versions.get(component, 0) > 0

    def rows(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """The rows of a read of the store (the caller checked :meth:`has`)."""
        assert self.conn is not None
        with self.backend.translated("read"):
            return self.conn.rows(sql, parameters)

    def write(self, sql: str, parameters: tuple[Any, ...]) -> None:
        """One statement in its own write transaction."""
        assert self.conn is not None
        with self.backend.translated("repair"), self.backend.transaction(self.conn):
            self.conn.execute(sql, parameters)

    @property
    def quiet(self) -> bool:
        """Whether no process may be writing now (leftovers may then be cleaned up)."""
        return not self.live

    def busy_note(self) -> str:
        """Why a leftover is kept: the live writers that might still use it."""
        return (
            f"kept while {', '.join(self.live[:3])} may be writing: run the doctor again "
            f"once {'it has' if len(self.live) == 1 else 'they have'} finished"
        )
