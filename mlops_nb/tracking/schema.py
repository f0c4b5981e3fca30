"""The tracking tables, versioned as component ``tracking`` of the shared database.

========================  ==============================================================
table                     one row per
========================  ==============================================================
tracking_runs             run: name, status, times, pipeline run, stage, parent, owner
tracking_params           (run, key): the value as JSON text and as a comparable scalar
tracking_metrics          logged metric value (the full history, with step and time)
tracking_latest_metrics   (run, key): the latest value, kept in step with the history
tracking_tags             (run, key): text
tracking_artifacts        (run, path): sha256 and size in bytes
========================  ==============================================================

Every table is keyed by the run id (``WITHOUT ROWID`` tables, so a lookup by
run is one B-tree search). Times are Unix seconds (``REAL``). A metric's
*latest* value is the one with the highest step; among equal steps, the one
logged last. ``NaN`` metric values are stored as ``NULL`` (SQLite has no NaN)
and read back as ``NaN``.

Never edit a step once released: append a new one to :data:`STEPS`.
"""

from __future__ import annotations

COMPONENT = "tracking"

_V1 = """
CREATE TABLE tracking_runs (
    run_id       TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    status       TEXT NOT NULL,
    start_time   REAL NOT NULL,
    end_time     REAL,
    pipeline_run TEXT,
    stage        TEXT,
    parent       TEXT REFERENCES tracking_runs (run_id),
    host         TEXT,
    pid          INTEGER,
    pid_started  TEXT
) WITHOUT ROWID;
CREATE INDEX tracking_runs_start ON tracking_runs (start_time);
CREATE INDEX tracking_runs_pipeline ON tracking_runs (pipeline_run, stage);
CREATE INDEX tracking_runs_status ON tracking_runs (status);
CREATE INDEX tracking_runs_parent ON tracking_runs (parent);

CREATE TABLE tracking_params (
    run_id TEXT NOT NULL REFERENCES tracking_runs (run_id) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    value,
    json   TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX tracking_params_key ON tracking_params (key, value);

CREATE TABLE tracking_metrics (
    run_id    TEXT NOT NULL REFERENCES tracking_runs (run_id) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    value     REAL,
    step      INTEGER NOT NULL,
    timestamp REAL NOT NULL
);
CREATE INDEX tracking_metrics_run ON tracking_metrics (run_id, key, step);

CREATE TABLE tracking_latest_metrics (
    run_id    TEXT NOT NULL REFERENCES tracking_runs (run_id) ON DELETE CASCADE,
    key       TEXT NOT NULL,
    value     REAL,
    step      INTEGER NOT NULL,
    timestamp REAL NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX tracking_latest_metrics_key ON tracking_latest_metrics (key, value);

CREATE TABLE tracking_tags (
    run_id TEXT NOT NULL REFERENCES tracking_runs (run_id) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;
CREATE INDEX tracking_tags_key ON tracking_tags (key, value);

CREATE TABLE tracking_artifacts (
    run_id    TEXT NOT NULL REFERENCES tracking_runs (run_id) ON DELETE CASCADE,
    path      TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    bytes     INTEGER NOT NULL,
    logged_at REAL NOT NULL,
    PRIMARY KEY (run_id, path)
) WITHOUT ROWID
"""

STEPS: tuple[str, ...] = (_V1,)
"""SQL of each schema version; step *i* brings the tables to version *i + 1*."""
