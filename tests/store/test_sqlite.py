from __future__ import annotations

import sqlite3
import threading
import time

import pytest

from mlops_nb.errors import StoreError
from mlops_nb.store import sqlite as db
from mlops_nb.store.sqlite import connect, migrate, schema_version, transaction

STEPS = ("CREATE TABLE a (x INTEGER)", "CREATE TABLE b (y TEXT); CREATE INDEX b_y ON b (y)")


def test_connect_creates_the_folder_in_wal_mode_with_a_busy_timeout(tmp_path):
    conn = connect(tmp_path / "deep" / "mlops.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == db.BUSY_TIMEOUT_MS
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_transaction_commits_or_rolls_back(tmp_path):
    conn = connect(tmp_path / "t.db")
    conn.execute("CREATE TABLE t (x INTEGER)")
    with transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(ZeroDivisionError), transaction(conn):
        conn.execute("INSERT INTO t VALUES (2)")
        _ = 1 / 0
    assert [tuple(row) for row in conn.execute("SELECT x FROM t")] == [(1,)]
    assert not conn.in_transaction


def test_migrate_runs_each_step_once(tmp_path):
    conn = connect(tmp_path / "m.db")
    assert migrate(conn, "demo", STEPS[:1]) == 1
    assert migrate(conn, "demo", STEPS[:1]) == 1  # nothing to do
    assert migrate(conn, "demo", STEPS) == 2
    assert schema_version(conn, "demo") == 2 and schema_version(conn, "other") == 0
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"a", "b", "b_y", "schema_version"} <= names


def test_migrate_refuses_a_newer_database(tmp_path):
    conn = connect(tmp_path / "m.db")
    migrate(conn, "demo", STEPS)
    with pytest.raises(StoreError, match="version 2, newer than this mlops-nb understands \\(1\\)"):
        migrate(conn, "demo", STEPS[:1])


def test_a_failed_migration_changes_nothing(tmp_path):
    conn = connect(tmp_path / "m.db")
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, "demo", ("CREATE TABLE a (x)", "CREATE TABLE a (x)"))
    assert schema_version(conn, "demo") == 0
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'a'").fetchone()[0] == 0


def hold_write_lock(
    path, seconds: float, locked: threading.Event, done: threading.Event | None = None
) -> None:
    """Hold the write lock for ``seconds`` (or until ``done`` is set)."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    locked.set()
    (done or threading.Event()).wait(seconds)
    other.execute("COMMIT")
    other.close()


def test_a_transaction_waits_for_a_busy_database(tmp_path):
    path = tmp_path / "busy.db"
    conn = connect(path)
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.execute("PRAGMA busy_timeout = 50")  # so the retry loop, not SQLite, does the waiting
    locked = threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(path, 1.0, locked))
    holder.start()
    locked.wait(5)
    started = time.monotonic()
    with transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
    holder.join()
    assert time.monotonic() - started > 0.5
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1


def test_a_database_busy_past_the_deadline_is_a_store_error(tmp_path, monkeypatch):
    path = tmp_path / "busy.db"
    conn = connect(path)
    conn.execute("PRAGMA busy_timeout = 20")
    monkeypatch.setattr(db, "RETRY_SECONDS", 0.3)
    locked, done = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(path, 10, locked, done))
    holder.start()
    locked.wait(5)
    try:
        busy = r"stayed busy .* another process holds its write"
        with pytest.raises(StoreError, match=busy), transaction(conn):
            pass
    finally:
        done.set()
        holder.join()
    assert not conn.in_transaction
