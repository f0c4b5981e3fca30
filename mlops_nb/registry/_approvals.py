"""Proposals and approvals of protected aliases: the rows of ``registry_proposals``.

A protected alias (``governance.protected_aliases`` in pipeline.yaml) never
moves because a gate or a person said so alone: the gate *proposes*, another
person *approves* after reviewing the run report, and only the approval moves
the alias. Every step is a row here, kept forever; the audit frame reads them
next to the alias history. Call these inside the registry's write transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mlops_nb.artifacts import sha256
from mlops_nb.registry import _db
from mlops_nb.store import Connection

__all__ = [
    "AUDIT_COLUMNS",
    "PENDING_COLUMNS",
    "audit_frame",
    "close_pending",
    "insert_proposal",
    "mark_approved",
    "pending_frame",
    "pending_proposal",
    "report_digest",
]

PENDING_COLUMNS = [
    "id",
    "name",
    "version",
    "alias",
    "champion_version",
    "proposed_by",
    "proposed_at",
    "reason",
    "run",
    "report",
]
AUDIT_COLUMNS = ["at", "event", "alias", "from_version", "to_version", "actor", "reason", "run"]


def report_digest(report: str | None) -> str | None:
    """The SHA-256 of the report file at ``report`` (None: no report, or it is gone)."""
    if not report:
        return None
    path = Path(report)
    return sha256(path) if path.is_file() else None


def close_pending(conn: Connection, name: str, alias: str, why: str) -> None:
    """Mark the pending proposals of ``name@alias`` superseded (a newer one replaces them)."""
    conn.execute(
        "UPDATE registry_proposals SET status = 'superseded', closed_reason = ? "
        "WHERE name = ? AND alias = ? AND status = 'pending'",
        (why, name, alias),
    )


def insert_proposal(
    conn: Connection,
    name: str,
    version: int,
    alias: str,
    *,
    champion: int | None,
    actor: str,
    reason: str,
    run: str | None,
    report: str | None,
) -> int:
    """Record a pending proposal (superseding older ones for the alias); its id."""
    close_pending(conn, name, alias, f"superseded by a proposal of v{version}")
    conn.execute(
        "INSERT INTO registry_proposals (name, version, alias, status, champion_version, "
        "proposed_by, proposed_at, reason, run, report) "
        "VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)",
        (name, version, alias, champion, actor, _db.now(), reason, run, report),
    )
    row = conn.execute(
        "SELECT MAX(id) FROM registry_proposals WHERE name = ? AND alias = ?", (name, alias)
    ).fetchone()
    return int(row[0])


def pending_proposal(conn: Connection, name: str, version: int, alias: str) -> Any:
    """The pending proposal moving ``name@alias`` to ``version``, or None."""
    return conn.execute(
        "SELECT * FROM registry_proposals WHERE name = ? AND version = ? AND alias = ? "
        "AND status = 'pending' ORDER BY id DESC LIMIT 1",
        (name, version, alias),
    ).fetchone()


def mark_approved(
    conn: Connection, proposal: int, *, actor: str, reason: str, digest: str | None
) -> str:
    """Record the approval of ``proposal``; the time recorded."""
    at = _db.now()
    conn.execute(
        "UPDATE registry_proposals SET status = 'approved', approved_by = ?, approved_at = ?, "
        "approval_reason = ?, report_sha256 = ? WHERE id = ?",
        (actor, at, reason, digest, proposal),
    )
    return at


def pending_frame(conn: Connection, name: str | None) -> pd.DataFrame:
    """The pending proposals (of ``name`` if given), oldest first.

    ``report_sha256`` is the digest of the report now: what an approver reviews.
    """
    query = f"SELECT {', '.join(PENDING_COLUMNS)} FROM registry_proposals WHERE status = 'pending'"
    params: tuple[str, ...] = ()
    if name is not None:
        query, params = query + " AND name = ?", (name,)
    rows = [tuple(row) for row in conn.execute(query + " ORDER BY proposed_at, id", params)]
    frame = pd.DataFrame(rows, columns=PENDING_COLUMNS)
    frame["proposed_at"] = pd.to_datetime(frame["proposed_at"], utc=True, format="ISO8601")
    frame["champion_version"] = frame["champion_version"].astype("Int64")
    frame["report_sha256"] = [report_digest(report) for report in frame["report"]]
    return frame


def audit_frame(conn: Connection, name: str, alias: str | None) -> pd.DataFrame:
    """Every governance event of ``name`` (of one ``alias``), oldest first.

    ``event`` is ``proposed`` and ``approved`` (from the proposals), and for
    each alias change ``moved``, ``removed``, ``approved move`` or ``rollback``.
    """
    where, params = "name = ?", [name]
    if alias is not None:
        where, params = where + " AND alias = ?", [name, alias]
    events: list[tuple[Any, ...]] = []
    for row in conn.execute(
        "SELECT at, event, alias, from_version, to_version, actor, reason, run, id "
        f"FROM registry_alias_history WHERE {where}",
        tuple(params),
    ):
        kind = row["event"] or ("removed" if row["to_version"] is None else "moved")
        events.append((row["at"], 2, row["id"], kind, *tuple(row)[2:8]))
    for row in conn.execute(f"SELECT * FROM registry_proposals WHERE {where}", tuple(params)):
        events.append(
            (
                row["proposed_at"],
                0,
                row["id"],
                "proposed",
                row["alias"],
                row["champion_version"],
                row["version"],
                row["proposed_by"],
                f"proposal #{row['id']}: {row['reason']}",
                row["run"],
            )
        )
        if row["approved_at"]:
            digest = row["report_sha256"] or "no report"
            events.append(
                (
                    row["approved_at"],
                    1,
                    row["id"],
                    "approved",
                    row["alias"],
                    row["champion_version"],
                    row["version"],
                    row["approved_by"],
                    f"proposal #{row['id']}: {row['approval_reason']} (report sha256 {digest})",
                    row["run"],
                )
            )
    events.sort(key=lambda event: (event[0], event[1], event[2]))
    frame = pd.DataFrame([(e[0], *e[3:]) for e in events], columns=AUDIT_COLUMNS)
    frame["at"] = pd.to_datetime(frame["at"], utc=True, format="ISO8601")
    for column in ("from_version", "to_version"):
        frame[column] = frame[column].astype("Int64")
    return frame
