"""The registry's listings as DataFrames, for notebooks and the CLI."""

from __future__ import annotations

import json

import pandas as pd

from mlops_nb.store import Connection

__all__ = ["HISTORY_COLUMNS", "MODEL_COLUMNS", "history_frame", "models_frame", "versions_frame"]

MODEL_COLUMNS = ["name", "versions", "latest", "aliases", "updated"]
VERSION_COLUMNS = [
    "version",
    "created_at",
    "status",
    "aliases",
    "task",
    "target",
    "data_version",
    "pipeline_run",
    "training_run",
    "retired_reason",
]
HISTORY_COLUMNS = ["at", "alias", "from_version", "to_version", "actor", "reason", "run"]

_MODELS = """
SELECT v.name, COUNT(*) AS versions,
       MAX(CASE WHEN v.status = 'active' THEN v.version END) AS latest,
       MAX(v.created_at), COALESCE(MAX(v.retired_at), ''),
       COALESCE((SELECT MAX(at) FROM registry_alias_history h WHERE h.name = v.name), '')
FROM registry_versions v GROUP BY v.name ORDER BY v.name
"""


def _utc(column: pd.Series) -> pd.Series:
    return pd.to_datetime(column, utc=True, format="ISO8601")


def models_frame(conn: Connection) -> pd.DataFrame:
    """One row per model: ``name, versions, latest, aliases, updated``."""
    # the latest of the three times is taken here: SQL dialects name that function differently
    rows = [(*row[:3], "", max(row[3:])) for row in conn.rows(_MODELS)]
    frame = pd.DataFrame(rows, columns=MODEL_COLUMNS)
    held: dict[str, list[str]] = {}
    for name, alias, version in conn.execute(
        "SELECT name, alias, version FROM registry_aliases ORDER BY name, alias"
    ):
        held.setdefault(name, []).append(f"{alias}={version}")
    frame["aliases"] = [", ".join(held.get(name, [])) for name in frame["name"]]
    frame["latest"] = frame["latest"].astype("Int64")
    frame["updated"] = _utc(frame["updated"])
    return frame


def versions_frame(conn: Connection, name: str) -> pd.DataFrame:
    """One row per version of ``name``, its aliases, lineage and one column per metric."""
    rows = conn.execute(
        "SELECT * FROM registry_versions WHERE name = ? ORDER BY version", (name,)
    ).fetchall()
    held: dict[int, list[str]] = {}
    for alias, version in conn.execute(
        "SELECT alias, version FROM registry_aliases WHERE name = ? ORDER BY alias", (name,)
    ):
        held.setdefault(version, []).append(alias)
    records = []
    for row in rows:
        record = {column: row[column] for column in VERSION_COLUMNS if column != "aliases"}
        record["aliases"] = ", ".join(held.get(row["version"], []))
        for metric, value in json.loads(row["metrics"]).items():
            record[metric if metric not in VERSION_COLUMNS else f"metric_{metric}"] = value
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    frame = frame.reindex(columns=list(dict.fromkeys([*VERSION_COLUMNS, *frame.columns])))
    frame["created_at"] = _utc(frame["created_at"])
    return frame


def history_frame(conn: Connection, name: str, alias: str | None) -> pd.DataFrame:
    """Alias changes of ``name`` (of one ``alias`` if given), oldest first."""
    query = f"SELECT {', '.join(HISTORY_COLUMNS)} FROM registry_alias_history WHERE name = ?"
    params: tuple[str, ...] = (name,)
    if alias is not None:
        query, params = query + " AND alias = ?", (name, alias)
    rows = conn.execute(query + " ORDER BY at, id", params).fetchall()
    frame = pd.DataFrame([tuple(row) for row in rows], columns=HISTORY_COLUMNS)
    frame["at"] = _utc(frame["at"])
    for column in ("from_version", "to_version"):
        frame[column] = frame[column].astype("Int64")
    return frame
