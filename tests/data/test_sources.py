"""Parsing, preflight and loading of data sources against real files and databases."""

from __future__ import annotations

import dataclasses
import gzip
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from mlops_nb.data.sources import (
    SourceSpec,
    check_source,
    load_source,
    parse_source,
    redact,
    require_target,
)
from mlops_nb.errors import DataSourceError

CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["C1", "C2", "C3"],
        "age": [34, 51, 27],
        "plan": ["basic", "pro", None],
        "churned": [0, 1, 0],
    }
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def make_db(path: Path) -> Path:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE customers (customer_id TEXT, age INTEGER, churned INT)")
        connection.executemany(
            "INSERT INTO customers VALUES (?, ?, ?)",
            [("C1", 34, 0), ("C2", 51, 1), ("C3", 27, 0)],
        )
        connection.execute("CREATE TABLE orders (id INTEGER)")
    connection.close()
    return path


# --- parse_source -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "kind", "sep"),
    [
        ("data/customers.csv", "csv", ","),
        ("data/customers.CSV", "csv", ","),
        ("customers.csv.gz", "csv", ","),
        ("customers.tsv", "csv", "\t"),
        ("/abs/customers.parquet", "parquet", None),
        ("customers.pq", "parquet", None),
    ],
)
def test_parse_file_paths(source: str, kind: str, sep: str | None) -> None:
    spec = parse_source(source)
    assert spec.kind == kind
    assert spec.location == source
    assert spec.options.get("sep") == sep


def test_parse_sqlite_table_and_encoded_query() -> None:
    table = parse_source("sqlite:///data.db?table=customers")
    assert (table.kind, table.location, table.options) == (
        "sql",
        "sqlite:///data.db",
        {"table": "customers"},
    )
    query = parse_source("sqlite:///data.db?query=SELECT%20*%20FROM%20t%20WHERE%20a%3D1")
    assert query.options == {"query": "SELECT * FROM t WHERE a=1"}


def test_parse_other_database_keeps_its_own_options() -> None:
    spec = parse_source("postgresql://user:pw@db.example/shop?sslmode=require&table=customers")
    assert spec.kind == "sql"
    assert spec.options == {"table": "customers"}
    assert spec.location == "postgresql://user:pw@db.example/shop?sslmode=require"
    assert "pw" not in spec.display
    assert "***" in spec.display


def test_parse_sample_with_options() -> None:
    spec = parse_source("sample:churn?rows=5000&seed=1&drift=0.5")
    assert spec == SourceSpec("sample", "churn", {"rows": "5000", "seed": "1", "drift": "0.5"})
    assert spec.display == "sample:churn?rows=5000&seed=1&drift=0.5"


def test_source_spec_is_frozen() -> None:
    spec = parse_source("a.csv")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.kind = "parquet"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "empty or not text"),
        ("customers", "not a recognised source.*accepted forms"),
        ("customers.xlsx", r"unsupported file type '\.xlsx'.*Convert the file"),
        ("s3://bucket/customers.csv", "unknown scheme 's3://'.*accepted forms"),
        ("sqlite:///data.db", "exactly one of table= or query=.*found: neither"),
        ("sqlite:///data.db?table=a&query=SELECT%201", "exactly one.*found: table, query"),
        ("sample:iris", "unknown sample 'iris'.*available samples: churn"),
        ("sample:churn?size=10", "unknown option.*size.*valid options: rows, seed, drift"),
        ("sample:churn?rows=ten", "rows='ten'.*not an integer"),
        ("sample:churn?rows=0", "rows=0 is invalid.*between 1 and 10,000,000"),
        ("sample:churn?seed=-3", "seed=-3 is invalid.*>= 0"),
        ("sample:churn?drift=-1", "drift=-1.0 is invalid"),
        ("sample:churn?drift=inf", "finite number"),
        ("sample:churn?rows=1&rows=2", "rows more than once"),
    ],
)
def test_parse_rejects_with_a_helpful_message(source: str, message: str) -> None:
    with pytest.raises(DataSourceError, match=message):
        parse_source(source)


def test_unknown_scheme_keeps_the_cause() -> None:
    with pytest.raises(DataSourceError) as caught:
        parse_source("ftp://host/data.csv")
    assert caught.value.__cause__ is not None


# --- check_source -----------------------------------------------------------------------


def test_check_resolves_relative_paths_against_base_dir(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    write(tmp_path / "data" / "c.csv", "a\n1\n")
    spec = check_source("data/c.csv", base_dir=tmp_path)
    assert spec.location == str((tmp_path / "data" / "c.csv").resolve())


def test_check_uses_cwd_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "c.csv", "a\n1\n")
    monkeypatch.chdir(tmp_path)
    assert Path(check_source("c.csv").location) == (tmp_path / "c.csv").resolve()


def test_check_missing_file_names_the_resolved_path(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="file not found at") as caught:
        check_source("nope.csv", base_dir=tmp_path)
    message = str(caught.value)
    assert str((tmp_path / "nope.csv").resolve()) in message
    assert "-p data_source=" in message
    assert caught.value.path == (tmp_path / "nope.csv").resolve()


def test_check_refuses_a_folder(tmp_path: Path) -> None:
    (tmp_path / "exports.csv").mkdir()
    with pytest.raises(DataSourceError, match="is a folder, not a file"):
        check_source("exports.csv", base_dir=tmp_path)


def test_check_sqlite_missing_database_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="SQLite database file not found"):
        check_source("sqlite:///missing.db?table=t", base_dir=tmp_path)
    with pytest.raises(DataSourceError, match="SQLite database file not found"):
        load_source("sqlite:///missing.db?table=t", base_dir=tmp_path)
    assert not (tmp_path / "missing.db").exists()


def test_check_sqlite_makes_the_path_absolute(tmp_path: Path) -> None:
    make_db(tmp_path / "shop.db")
    spec = check_source("sqlite:///shop.db?table=customers", base_dir=tmp_path)
    assert spec.location == f"sqlite:///{(tmp_path / 'shop.db').resolve()}"
    assert spec.options == {"table": "customers"}


def test_check_sample_needs_no_files(tmp_path: Path) -> None:
    assert check_source("sample:churn?rows=10", base_dir=tmp_path).kind == "sample"
    assert list(tmp_path.iterdir()) == []


# --- load_source: files -------------------------------------------------------------------


def test_load_csv_strips_column_names(tmp_path: Path) -> None:
    write(tmp_path / "c.csv", " customer_id , age,plan \nC1,34,basic\nC2,51,pro\n")
    df = load_source("c.csv", base_dir=tmp_path)
    assert list(df.columns) == ["customer_id", "age", "plan"]
    assert df["age"].tolist() == [34, 51]


def test_load_tsv_and_gzip(tmp_path: Path) -> None:
    write(tmp_path / "c.tsv", "a\tb\n1\tx,y\n")
    with gzip.open(tmp_path / "c.csv.gz", "wt") as handle:
        handle.write("a,b\n1,2\n3,4\n")
    assert load_source("c.tsv", base_dir=tmp_path)["b"].tolist() == ["x,y"]
    assert load_source("c.csv.gz", base_dir=tmp_path).shape == (2, 2)


def test_load_parquet_round_trip(tmp_path: Path) -> None:
    CUSTOMERS.to_parquet(tmp_path / "c.parquet", index=False)
    df = load_source(str(tmp_path / "c.parquet"))
    pd.testing.assert_frame_equal(df, CUSTOMERS)


@pytest.mark.parametrize("name", ["empty.csv", "empty.parquet"])
def test_load_zero_byte_file_is_empty(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"")
    with pytest.raises(DataSourceError, match="is empty: the file has 0 bytes"):
        load_source(name, base_dir=tmp_path)


def test_load_header_only_csv_is_empty(tmp_path: Path) -> None:
    write(tmp_path / "h.csv", "customer_id,age\n")
    with pytest.raises(DataSourceError, match="is empty: it has the columns customer_id, age"):
        load_source("h.csv", base_dir=tmp_path)


def test_load_blank_lines_only_is_empty(tmp_path: Path) -> None:
    write(tmp_path / "b.csv", "\n\n\n")
    with pytest.raises(DataSourceError, match="is empty: it has no header") as caught:
        load_source("b.csv", base_dir=tmp_path)
    assert isinstance(caught.value.__cause__, pd.errors.EmptyDataError)


def test_load_parquet_without_rows_is_empty(tmp_path: Path) -> None:
    CUSTOMERS.iloc[:0].to_parquet(tmp_path / "none.parquet")
    with pytest.raises(DataSourceError, match="is empty"):
        load_source("none.parquet", base_dir=tmp_path)


def test_load_ragged_csv_gives_the_line(tmp_path: Path) -> None:
    write(tmp_path / "r.csv", "a,b,c\n1,2,3\n4,5,6\n7,8,9,10,11\n")
    with pytest.raises(DataSourceError, match=r"not well-formed CSV at line 4") as caught:
        load_source("r.csv", base_dir=tmp_path)
    assert "as many fields as the header (3 here)" in str(caught.value)
    assert caught.value.line == 4
    assert isinstance(caught.value.__cause__, pd.errors.ParserError)


def test_load_rows_wider_than_header_are_refused(tmp_path: Path) -> None:
    # pandas would silently turn the first column into the index.
    write(tmp_path / "w.csv", "a,b\n1,2,3\n4,5,6\n")
    with pytest.raises(DataSourceError, match="more fields than the header"):
        load_source("w.csv", base_dir=tmp_path)


def test_load_unclosed_quote(tmp_path: Path) -> None:
    write(tmp_path / "q.csv", 'a,b\n1,"open\n2,3\n')
    with pytest.raises(DataSourceError, match="Close the quote"):
        load_source("q.csv", base_dir=tmp_path)


def test_load_non_utf8_csv(tmp_path: Path) -> None:
    (tmp_path / "l.csv").write_bytes("name\nJosé\n".encode("utf-16"))
    with pytest.raises(DataSourceError, match="UTF-8") as caught:
        load_source("l.csv", base_dir=tmp_path)
    assert isinstance(caught.value.__cause__, UnicodeDecodeError)


@pytest.mark.parametrize("header", ["a,b,a", "a, b ,b"])
def test_load_refuses_duplicate_columns(tmp_path: Path, header: str) -> None:
    write(tmp_path / "d.csv", f"{header}\n1,2,3\n")
    with pytest.raises(DataSourceError, match=r"duplicate column names: [ab]") as caught:
        load_source("d.csv", base_dir=tmp_path)
    assert "Rename the columns" in str(caught.value)


def test_load_unreadable_parquet(tmp_path: Path) -> None:
    write(tmp_path / "fake.parquet", "a,b\n1,2\n")
    with pytest.raises(DataSourceError, match="cannot read the file as Parquet") as caught:
        load_source("fake.parquet", base_dir=tmp_path)
    assert caught.value.__cause__ is not None


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="file not found"):
        load_source("missing.parquet", base_dir=tmp_path)


# --- load_source: databases and samples -------------------------------------------------


def test_load_sqlite_table(tmp_path: Path) -> None:
    make_db(tmp_path / "shop.db")
    df = load_source("sqlite:///shop.db?table=customers", base_dir=tmp_path)
    assert df.to_dict("list") == {
        "customer_id": ["C1", "C2", "C3"],
        "age": [34, 51, 27],
        "churned": [0, 1, 0],
    }


def test_load_sqlite_encoded_query(tmp_path: Path) -> None:
    db = make_db(tmp_path / "shop.db")
    source = f"sqlite:///{db}?query=SELECT%20age%20FROM%20customers%20WHERE%20churned%3D0"
    assert load_source(source)["age"].tolist() == [34, 27]


def test_load_missing_table_lists_tables(tmp_path: Path) -> None:
    make_db(tmp_path / "shop.db")
    with pytest.raises(DataSourceError, match=r"table 'clients' not found.*customers, orders"):
        load_source("sqlite:///shop.db?table=clients", base_dir=tmp_path)


def test_load_sql_syntax_error(tmp_path: Path) -> None:
    make_db(tmp_path / "shop.db")
    with pytest.raises(DataSourceError, match='near "FRM": syntax error') as caught:
        load_source("sqlite:///shop.db?query=SELECT%20*%20FRM%20customers", base_dir=tmp_path)
    assert caught.value.__cause__ is not None
    assert "Check the SQL" in str(caught.value)


def test_a_query_must_start_reading_before_the_database_sees_it(tmp_path: Path) -> None:
    make_db(tmp_path / "shop.db")
    with pytest.raises(DataSourceError, match=r"starts with 'SELCT' \(did you mean SELECT\?\)"):
        load_source("sqlite:///shop.db?query=SELCT%20*%20FROM%20customers", base_dir=tmp_path)


def test_load_sql_duplicate_and_empty_results(tmp_path: Path) -> None:
    make_db(tmp_path / "shop.db")
    with pytest.raises(DataSourceError, match="duplicate column names: age"):
        load_source("sqlite:///shop.db?query=SELECT%20age,%20age%20FROM%20customers", tmp_path)
    with pytest.raises(DataSourceError, match="is empty"):
        load_source("sqlite:///shop.db?table=orders", base_dir=tmp_path)


def test_load_missing_driver_hides_the_password() -> None:
    with pytest.raises(DataSourceError) as caught:
        load_source("postgresql+nosuchdriver://u:secret@localhost/db?table=t")
    assert "secret" not in str(caught.value)


def test_load_sample() -> None:
    df = load_source("sample:churn?rows=300&seed=4")
    assert df.shape == (300, 11)


# --- require_target and redact ----------------------------------------------------------


def test_require_target_accepts_a_present_column() -> None:
    require_target(CUSTOMERS, "churned", "c.csv")


def test_require_target_missing_lists_columns_and_suggests() -> None:
    with pytest.raises(DataSourceError, match=r"'churn' is not in data source 'c\.csv'") as caught:
        require_target(CUSTOMERS, "churn", "c.csv")
    message = str(caught.value)
    assert "Did you mean 'churned'" in message
    assert "customer_id, age, plan, churned" in message
    assert "-p target=<column>" in message
    assert caught.value.column == "churn"


def test_require_target_all_null() -> None:
    df = CUSTOMERS.assign(churned=[None, None, None])
    with pytest.raises(DataSourceError, match="has no values: all 3 rows are missing"):
        require_target(df, "churned", "c.csv")


def test_redact_hides_passwords_only_in_urls() -> None:
    assert redact("postgresql://u:secret@h/db?table=t") == "postgresql://u:***@h/db?table=t"
    assert redact("data/c.csv") == "data/c.csv"
