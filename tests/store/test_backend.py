"""The store seam: one protocol, every component's schema rendered for each dialect."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from mlops_nb.config import Settings
from mlops_nb.errors import StoreError
from mlops_nb.pipeline.cache import CACHE_STEPS
from mlops_nb.registry import schema as registry_schema
from mlops_nb.serving import inference_log
from mlops_nb.store import SQLiteBackend, backend_at, open_backend
from mlops_nb.store.base import Dialect, parts, render
from mlops_nb.store.sqlite import DIALECT
from mlops_nb.tracking import schema as tracking_schema

COMPONENTS = {
    "tracking": tracking_schema.STEPS,
    "registry": tuple(registry_schema.STEPS),
    "cache": CACHE_STEPS,
    "inference": inference_log.STEPS,
}
TOKENS = set(DIALECT.types)


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_every_schema_step_uses_only_dialect_tokens(component: str) -> None:
    bare = Dialect("probe", types={token: f"<{token}>" for token in TOKENS})
    for step in COMPONENTS[component]:
        for part in parts(step):
            if isinstance(part, str):
                statements = render(part, bare)
                assert statements
                assert not any(re.search(r"\{[a-z_]+\}", s) for s in statements)


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_every_component_migrates_an_empty_database_and_again(
    tmp_path: Path, component: str
) -> None:
    backend = SQLiteBackend(tmp_path / "m.db")
    conn = backend.connect()
    steps = COMPONENTS[component]
    assert backend.migrate(conn, component, steps) == len(steps)
    assert backend.migrate(conn, component, steps) == len(steps)
    assert backend.schema_version(conn, component) == len(steps)
    conn.close()


def test_the_project_backend_is_its_sqlite_file(tmp_path: Path) -> None:
    settings = Settings(root=tmp_path, outputs=tmp_path / "outputs")
    backend = open_backend(settings)
    assert isinstance(backend, SQLiteBackend) and backend.path == settings.database
    assert not backend.exists()
    backend.connect().close()
    assert backend.exists() and backend.display_url == str(settings.database)
    assert backend_at(f"sqlite:///{settings.database}").path == settings.database


def test_driver_errors_are_translated_with_the_cause_kept(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "t.db")
    conn = backend.connect()
    with (
        pytest.raises(
            StoreError, match=r"cannot read the tables of the database .*t\.db"
        ) as caught,
        backend.translated("read the tables of"),
    ):
        conn.execute("SELECT * FROM nowhere")
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    assert backend.is_error(caught.value.__cause__) and not backend.is_error(ValueError())


def test_rows_are_read_by_position_and_name_and_in_bulk(tmp_path: Path) -> None:
    conn = SQLiteBackend(tmp_path / "r.db").connect()
    conn.execute("CREATE TABLE t (a INTEGER, b TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(1, "x"), (2, "y")])
    row = conn.execute("SELECT a, b FROM t ORDER BY a").fetchone()
    assert (row[0], row["b"]) == (1, "x")
    assert conn.rows("SELECT a, b FROM t ORDER BY a") == [(1, "x"), (2, "y")]
    ids = conn.dialect.ids_parameter(["2"])
    assert conn.rows(f"SELECT b FROM t WHERE {conn.dialect.in_ids('a')}", (ids,)) == [("y",)]
