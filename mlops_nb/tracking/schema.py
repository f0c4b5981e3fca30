"""The tracking tables, versioned as component ``tracking`` of the shared database.

========================  ==============================================================
table                     one row per
========================  ==============================================================
tracking_runs             run: name, status, times, pipeline run, stage, parent, owner
tracking_params           (run, key): the value as JSON text, and as a number or a text
tracking_metrics          logged metric value (the full history, with step and time)
tracking_latest_metrics   (run, key): the latest value, kept in step with the history
tracking_tags             (run, key): text
tracking_artifacts        (run, path): sha256 and size in bytes
========================  ==============================================================

Every table is keyed by the run id (``WITHOUT ROWID`` tables, so a lookup by
run is one B-tree search). Times are Unix seconds (``REAL``). A metric's
*latest* value is the one with the highest step; among equal steps, the one
logged last. ``NaN`` metric values are stored as ``NULL`` (SQLite has no NaN)
and read back as ``NaN``. A param is compared by ``value_num`` (numbers and
booleans) or ``value_text`` (text); version 1's untyped ``value`` column is no
longer written. Types are ``{tokens}`` rendered per SQL dialect
(:mod:`mlops_nb.store`), so one list of steps serves every backend.

Never edit a step once released: append a new one to :data:`STEPS`.
"""

from __future__ import annotations

import json

from mlops_nb.store import Connection, Migration
from mlops_nb.tracking.values import param_value, typed_value

COMPONENT = "tracking"

_V1 = """
CREATE TABLE tracking_runs (
    run_id       TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    status       TEXT NOT NULL,
    start_time   {real} NOT NULL,
    end_time     {real},
    pipeline_run TEXT,
    stage        TEXT,
    parent       TEXT REFERENCES tracking_runs (run_id),
    host         TEXT,
    pid          INTEGER,
    pid_started  TEXT
) {without_rowid};
CREATE INDEX tracking_runs_start ON tracking_runs (start_time);
CREATE INDEX tracking_runs_pipeline ON tracking_runs (pipeline_run, stage);
CREATE INDEX tracking_runs_status ON tracking_runs (status);
CREATE INDEX tracking_runs_parent ON tracking_runs (parent);

CREATE TABLE tracking_params (
    run_id TEXT NOT NULL REFERENCES tracking_runs (run_id) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    value  {any},
    json   TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) {without_rowid};
CREATE INDEX tracking_params_key ON tracking_params (key, value);

CREATE TABLE tracking_metrics (
    {seq}
    run_id    TEXT NOT NULL REFERENCES tracking_runs (run_id) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    value     {real},
    step      {bigint} NOT NULL,
    timestamp {real} NOT NULL
);
CREATE INDEX tracking_metrics_run ON tracking_metrics (run_id, key, step);

CREATE TABLE tracking_latest_metrics (
    run_id    TEXT NOT NULL REFERENCES tracking_runs (run_id) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    value     {real},
    step      {bigint} NOT NULL,
    timestamp {real} NOT NULL,
    PRIMARY KEY (run_id, key)
) {without_rowid};
CREATE INDEX tracking_latest_metrics_key ON tracking_latest_metrics (key, value);

CREATE TABLE tracking_tags (
    run_id TEXT NOT NULL REFERENCES tracking_runs (run_id) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) {without_rowid};
CREATE INDEX tracking_tags_key ON tracking_tags (key, value);

CREATE TABLE tracking_artifacts (
    run_id    TEXT NOT NULL REFERENCES tracking_runs (run_id) ON DELETE CASCADE,
    path      TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    bytes     {bigint} NOT NULL,
    logged_at {real} NOT NULL,
    PRIMARY KEY (run_id, path)
) {without_rowid}
"""

_V2_COLUMNS = """
ALTER TABLE tracking_params ADD COLUMN value_num {real};
ALTER TABLE tracking_params ADD COLUMN value_text TEXT
"""
_V2_INDEXES = """
DROP INDEX tracking_params_key;
CREATE INDEX tracking_params_num ON tracking_params (key, value_num);
CREATE INDEX tracking_params_text ON tracking_params (key, value_text)
"""


def _typed_param_values(conn: Connection) -> None:
    """Fill ``value_num``/``value_text`` from each param's JSON text (any dialect)."""
    rows = conn.rows("SELECT run_id, key, json FROM tracking_params")
    typed = []
    for run_id, key, text in rows:
        number, words = typed_value(param_value(json.loads(text))[0])
        typed.append((number, words, run_id, key))
    if typed:
        conn.executemany(
            "UPDATE tracking_params SET value_num = ?, value_text = ? WHERE run_id = ? AND key = ?",
            typed,
        )


STEPS: tuple[Migration, ...] = (_V1, (_V2_COLUMNS, _typed_param_values, _V2_INDEXES))
"""SQL of each schema version; step *i* brings the tables to version *i + 1*."""
