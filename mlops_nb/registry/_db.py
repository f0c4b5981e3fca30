"""The registry's tables in the project's store, and the queries on them.

``registry_versions``       one row per registered version (its files are under
                            the registry folder at ``path``, and, when the project
                            publishes to an artifact location, under
                            ``registry/<path>`` there with their digests in
                            ``files``); never deleted, only retired.
``registry_aliases``        which version each alias of a model points at now.
``registry_alias_history``  every alias change, appended in the same transaction
                            as the change: who, when, from which version to
                            which, why, in which run.

Timestamps are UTC ISO-8601 text with microseconds (``...T12:00:00.000001+00:00``),
all of the same width, so comparing the text compares the times.
"""

from __future__ import annotations

from datetime import UTC, datetime

from mlops_nb.faults import crash_point
from mlops_nb.registry.schema import COMPONENT, STEPS
from mlops_nb.store import Connection

__all__ = [
    "COMPONENT",
    "STEPS",
    "aliases_of",
    "current_alias",
    "iso",
    "model_names",
    "move_alias",
    "next_version",
    "now",
    "previous_holder",
    "version_numbers",
]


def iso(moment: datetime) -> str:
    """``moment`` in UTC as fixed-width ISO text; naive values are local time."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def now() -> str:
    """The current time as stored in the registry tables."""
    return iso(datetime.now(UTC))


def model_names(conn: Connection) -> list[str]:
    rows = conn.execute("SELECT DISTINCT name FROM registry_versions ORDER BY name")
    return [row[0] for row in rows]


def version_numbers(conn: Connection, name: str) -> list[int]:
    rows = conn.execute(
        "SELECT version FROM registry_versions WHERE name = ? ORDER BY version", (name,)
    )
    return [row[0] for row in rows]


def aliases_of(conn: Connection, name: str) -> dict[str, int]:
    """Alias → version for model ``name``, sorted by alias."""
    rows = conn.execute(
        "SELECT alias, version FROM registry_aliases WHERE name = ? ORDER BY alias", (name,)
    )
    return {row[0]: row[1] for row in rows}


def next_version(conn: Connection, name: str) -> int:
    """The number the next version of ``name`` gets (call inside the write transaction)."""
    row = conn.execute(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM registry_versions WHERE name = ?", (name,)
    ).fetchone()
    return int(row[0])


def current_alias(conn: Connection, name: str, alias: str) -> int | None:
    row = conn.execute(
        "SELECT version FROM registry_aliases WHERE name = ? AND alias = ?", (name, alias)
    ).fetchone()
    return None if row is None else int(row[0])


def previous_holder(conn: Connection, name: str, alias: str, current: int) -> int | None:
    """The active version ``alias`` held before it moved to ``current`` (None: there is none)."""
    rows = conn.execute(
        "SELECT h.from_version FROM registry_alias_history h JOIN registry_versions v "
        "ON v.name = h.name AND v.version = h.from_version "
        "WHERE h.name = ? AND h.alias = ? AND h.to_version = ? AND v.status = 'active' "
        "AND h.from_version <> ? ORDER BY h.at DESC, h.id DESC LIMIT 1",
        (name, alias, current, current),
    ).fetchone()
    return None if rows is None else int(rows[0])


def _after_last_change(conn: Connection, name: str, alias: str) -> str:
    """Now, or the alias's last change if the clock went back: history stays in order."""
    row = conn.execute(
        "SELECT MAX(at) FROM registry_alias_history WHERE name = ? AND alias = ?", (name, alias)
    ).fetchone()
    current = now()
    return max(current, row[0]) if row[0] else current


def move_alias(
    conn: Connection,
    name: str,
    alias: str,
    to_version: int | None,
    *,
    actor: str,
    reason: str,
    run: str | None,
    event: str | None = None,
) -> bool:
    """Point ``alias`` at ``to_version`` (None removes it) and append the change to history.

    Call inside a write transaction. Returns False, writing nothing, when the
    alias already points there. ``event`` marks a move that is not a plain
    one (``approved move``, ``rollback``).
    """
    from_version = current_alias(conn, name, alias)
    if from_version == to_version:
        return False
    at = _after_last_change(conn, name, alias)
    if to_version is None:
        conn.execute("DELETE FROM registry_aliases WHERE name = ? AND alias = ?", (name, alias))
    else:
        conn.execute(
            "INSERT INTO registry_aliases (name, alias, version, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version, "
            "updated_at = excluded.updated_at",
            (name, alias, to_version, at),
        )
    crash_point("alias")
    conn.execute(
        "INSERT INTO registry_alias_history (name, alias, from_version, to_version, actor, "
        "reason, run, at, event) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (name, alias, from_version, to_version, actor, reason, run, at, event),
    )
    return True
