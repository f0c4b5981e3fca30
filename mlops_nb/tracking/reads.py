"""The SQL that reads runs back, as dicts and pandas DataFrames.

Each function runs inside a read snapshot opened by the caller, so what it
returns is consistent even while other processes write.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from mlops_nb.errors import RunNotFoundError
from mlops_nb.store import Connection

RUN_COLUMNS = (
    "run_id",
    "name",
    "status",
    "start_time",
    "end_time",
    "pipeline_run",
    "stage",
    "parent",
)
HISTORY_COLUMNS = ("key", "value", "step", "timestamp")
TIME_DTYPE = "datetime64[ns, UTC]"
_SELECT_RUNS = f"SELECT {', '.join('r.' + c for c in RUN_COLUMNS)} FROM tracking_runs r"


def _rows(conn: Connection, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Plain tuples (the connection's fast path for bulk reads)."""
    return conn.rows(sql, args)


def _decode(texts: Sequence[str]) -> list[Any]:
    """Many JSON texts decoded in one call."""
    return json.loads("[" + ",".join(texts) + "]") if texts else []


def _time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


def run_record(conn: Connection, run_id: str) -> dict[str, Any]:
    """Everything about one run: its attributes, params, latest metrics, tags, artifacts."""
    found = _rows(conn, f"{_SELECT_RUNS} WHERE r.run_id = ?", (run_id,))
    if not found:
        raise _not_found([run_id])
    record = dict(zip(RUN_COLUMNS, found[0], strict=True))
    record["start_time"] = _time(record["start_time"])
    record["end_time"] = _time(record["end_time"])
    record["params"] = params_of(conn, run_id)
    record["metrics"] = metrics_of(conn, run_id)
    record["tags"] = tags_of(conn, run_id)
    record["artifacts"] = [
        {"path": path, "sha256": digest, "bytes": size, "logged_at": _time(at)}
        for path, digest, size, at in _rows(
            conn,
            "SELECT path, sha256, bytes, logged_at FROM tracking_artifacts "
            "WHERE run_id = ? ORDER BY path",
            (run_id,),
        )
    ]
    return record


def _not_found(run_ids: Sequence[str]) -> RunNotFoundError:
    listed = ", ".join(run_ids)
    return RunNotFoundError(
        f"no tracking run has the id {listed}; find ids with store.search_runs()",
        run_id=listed,
    )


def require_runs(conn: Connection, run_ids: Sequence[str]) -> None:
    """Raise RunNotFoundError naming the ids that are not runs."""
    found = {
        row[0]
        for row in _rows(
            conn,
            f"SELECT run_id FROM tracking_runs WHERE {conn.dialect.in_ids('run_id')}",
            (conn.dialect.ids_parameter(run_ids),),
        )
    }
    missing = [run_id for run_id in run_ids if run_id not in found]
    if missing:
        raise _not_found(missing)


def params_of(conn: Connection, run_id: str) -> dict[str, Any]:
    """A run's params with their logged types."""
    rows = _rows(
        conn, "SELECT key, json FROM tracking_params WHERE run_id = ? ORDER BY key", (run_id,)
    )
    return dict(zip([key for key, _ in rows], _decode([text for _, text in rows]), strict=True))


def metrics_of(conn: Connection, run_id: str) -> dict[str, float]:
    """A run's latest metric values (NaN for a NaN)."""
    rows = _rows(
        conn,
        "SELECT key, value FROM tracking_latest_metrics WHERE run_id = ? ORDER BY key",
        (run_id,),
    )
    return {key: math.nan if value is None else value for key, value in rows}


def tags_of(conn: Connection, run_id: str) -> dict[str, str]:
    """A run's tags."""
    return dict(
        _rows(conn, "SELECT key, value FROM tracking_tags WHERE run_id = ? ORDER BY key", (run_id,))
    )


def metric_history(conn: Connection, run_id: str, key: str | None) -> pd.DataFrame:
    """Every logged value of a run's metrics (or of ``key``), by key, step and time."""
    sql = "SELECT key, value, step, timestamp FROM tracking_metrics WHERE run_id = ?"
    args: list[Any] = [run_id]
    if key is not None:
        sql += " AND key = ?"
        args.append(key)
    rows = _rows(conn, sql + f" ORDER BY key, step, timestamp, {conn.dialect.insert_order}", args)
    frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    return frame.astype({"key": "str", "value": "float64", "step": "int64"}).assign(
        timestamp=_times(frame["timestamp"])
    )


def _times(seconds: pd.Series) -> pd.Series:
    """Unix seconds as UTC times (one resolution, whether or not there are rows)."""
    return pd.to_datetime(seconds.astype("float64"), unit="s", utc=True).astype(TIME_DTYPE)


def search(
    conn: Connection,
    where: tuple[str, list[Any]],
    order: tuple[str, list[Any]],
    limit: int | None,
) -> pd.DataFrame:
    """One row per matching run: attributes, then ``params.*``, ``metrics.*``, ``tags.*``."""
    (where_text, where_args), (order_text, order_args) = where, order
    limit_text, limit_args = ("", []) if limit is None else (" LIMIT ?", [limit])
    rows = _rows(
        conn,
        f"{_SELECT_RUNS} WHERE {where_text} ORDER BY {order_text}{limit_text}",
        [*where_args, *order_args, *limit_args],
    )
    columns: dict[str, Any] = (
        dict(zip(RUN_COLUMNS, map(list, zip(*rows, strict=True)), strict=True)) if rows else {}
    )
    frame = _run_frame(columns)
    if not rows:
        return frame
    # Reading whole tables beats looking runs up one by one once many runs match.
    total = _rows(conn, "SELECT count(*) FROM tracking_runs")[0][0]
    whole_tables = len(rows) * 3 >= total
    ids = conn.dialect.ids_parameter(columns["run_id"])

    def long(table: str, value: str) -> list[tuple[Any, ...]]:
        if whole_tables:
            return _rows(conn, f"SELECT run_id, key, {value} FROM {table}")
        return _rows(
            conn,
            f"SELECT j.value, t.key, t.{value} FROM {conn.dialect.ids_source('j')} "
            f"JOIN {table} t ON t.run_id = j.value",
            (ids,),
        )

    position = {run_id: index for index, run_id in enumerate(columns["run_id"])}
    wide = {
        **_spread(long("tracking_params", "json"), "params", position, _param_column),
        **_spread(long("tracking_latest_metrics", "value"), "metrics", position, _float_column),
        **_spread(long("tracking_tags", "value"), "tags", position, _text_column),
    }
    return pd.concat([frame, pd.DataFrame(wide, index=frame.index)], axis=1)


def _run_frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """The attribute columns of a search result (typed even when empty)."""
    frame = {
        name: (
            _times(pd.Series(columns.get(name, []), dtype="float64"))
            if name in ("start_time", "end_time")
            else pd.Series(columns.get(name, []), dtype="str")
        )
        for name in RUN_COLUMNS
    }
    return pd.DataFrame(frame)


def _spread(
    rows: list[tuple[Any, ...]],
    prefix: str,
    position: dict[str, int],
    finish: Callable[[list[Any]], pd.Series],
) -> dict[str, pd.Series]:
    """Long (run_id, key, value) rows as one ``<prefix>.<key>`` column per key, sorted."""
    size = len(position)
    spread: dict[str, list[Any]] = {}
    for run_id, key, value in rows:
        at = position.get(run_id)
        if at is None:  # a run that did not match (whole table read)
            continue
        column = spread.get(key)
        if column is None:
            column = spread[key] = [None] * size
        column[at] = value
    return {f"{prefix}.{key}": finish(spread[key]) for key in sorted(spread)}


def _param_column(texts: list[str | None]) -> pd.Series:
    values = json.loads("[" + ",".join("null" if text is None else text for text in texts) + "]")
    return pd.Series(values)


def _float_column(values: list[float | None]) -> pd.Series:
    return pd.Series(np.array(values, dtype="float64"))


def _text_column(values: list[str | None]) -> pd.Series:
    return pd.Series(values, dtype="str")


def compare(conn: Connection, run_ids: Sequence[str]) -> pd.DataFrame:
    """Params and latest metrics side by side: a row per key, a column per run.

    A key a run lacks shows as None; ``differs`` is True where the runs disagree
    (a missing value differs from a present one, NaN equals NaN).
    """
    run_ids = list(dict.fromkeys(run_ids))
    require_runs(conn, run_ids)
    rows: dict[str, list[Any]] = {}
    for prefix, read in (("params", params_of), ("metrics", metrics_of)):
        per_run = {run_id: read(conn, run_id) for run_id in run_ids}
        for key in sorted({key for values in per_run.values() for key in values}):
            rows[f"{prefix}.{key}"] = [per_run[run_id].get(key, _MISSING) for run_id in run_ids]
    frame = pd.DataFrame(
        [[None if value is _MISSING else value for value in values] for values in rows.values()],
        index=pd.Index(list(rows), name="key", dtype="str"),
        columns=pd.Index(run_ids, dtype="str"),
        dtype=object,
    )
    frame["differs"] = [
        len({_comparable(value) for value in values}) > 1 for values in rows.values()
    ]
    return frame


_MISSING = object()


def _comparable(value: Any) -> Any:
    if value is _MISSING:
        return value
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return json.dumps(value, sort_keys=True)
