"""Contracts: YAML files in and out, inference, choosing one, describing one."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
import yaml

from mlops_nb.errors import ContractError, DataValidationError
from mlops_nb.validation import (
    contract_summary,
    find_contract,
    infer_contract,
    load_contract,
    save_contract,
    validate,
)

REPO = Path(__file__).resolve().parents[2]
CHURN = REPO / "contracts" / "churn.yaml"


def small_schema() -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "name": pa.Column(str),
            "kind": pa.Column(str, pa.Check.isin(["a", "b"]), nullable=True),
            "count": pa.Column(int, pa.Check.in_range(0, 10)),
            "share": pa.Column(float, pa.Check.ge(0), nullable=True),
        },
        strict=True,
        coerce=True,
        name="small",
        description="a test contract",
    )


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --- save and load ---------------------------------------------------------------------


def test_round_trip_gives_an_equal_schema(tmp_path: Path) -> None:
    schema = small_schema()
    path = save_contract(schema, tmp_path / "contracts" / "small.yaml")
    assert path == tmp_path / "contracts" / "small.yaml"
    assert load_contract(path) == schema


def test_saved_yaml_is_readable_pandera_yaml(tmp_path: Path) -> None:
    path = save_contract(small_schema(), tmp_path / "small.yaml")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Data contract 'small' for mlops-nb")
    data = yaml.safe_load(text)
    assert data["columns"]["name"]["dtype"] == "str"  # not pandera's "string[pyarrow]"
    assert data["columns"]["kind"]["isin"] == ["a", "b"]
    assert data["strict"] is True
    assert data["coerce"] is True
    assert pa.DataFrameSchema.from_yaml(text) == small_schema()


def test_loaded_str_column_keeps_pandas3_default_string_dtype(tmp_path: Path) -> None:
    schema = load_contract(save_contract(small_schema(), tmp_path / "small.yaml"))
    frame = pd.DataFrame({"name": ["x"], "kind": [None], "count": ["3"], "share": [0.5]})
    out = schema.validate(frame)
    assert out["name"].dtype == pd.api.types.pandas_dtype("str")
    assert out["count"].dtype == np.int64


def test_numpy_values_in_checks_can_be_saved(tmp_path: Path) -> None:
    schema = pa.DataFrameSchema(
        {
            "label": pa.Column(int, pa.Check.isin([np.int64(0), np.int64(1)])),
            "score": pa.Column(float, pa.Check.in_range(np.float64(0.5), np.float64(9.5))),
        },
        name="numpy",
    )
    loaded = load_contract(save_contract(schema, tmp_path / "numpy.yaml"))
    assert loaded.columns["label"].checks[0].statistics == {"allowed_values": [0, 1]}
    assert loaded.columns["score"].checks[0].statistics["max_value"] == 9.5


def test_save_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "small.yaml"
    path.write_text("old", encoding="utf-8")
    save_contract(small_schema(), path)
    assert load_contract(path).name == "small"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.yaml"]


def test_failed_save_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_contract(small_schema(), tmp_path / "small.yaml")
    before = path.read_text(encoding="utf-8")

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    renamed = small_schema().set_name("renamed")
    with pytest.raises(ContractError, match=r"cannot write contract 'renamed' to .*small\.yaml"):
        save_contract(renamed, path)
    assert path.read_text(encoding="utf-8") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.yaml"]


def test_save_refuses_a_check_pandera_cannot_write(tmp_path: Path) -> None:
    schema = pa.DataFrameSchema(
        {"x": pa.Column(int, [pa.Check.ge(0), pa.Check(lambda s: s % 2 == 0, name="even")])},
        name="custom",
    )
    with pytest.raises(ContractError, match=r"would be lost: column 'x': even\. Use built-in"):
        save_contract(schema, tmp_path / "custom.yaml")
    assert not (tmp_path / "custom.yaml").exists()


def test_save_refuses_a_nullable_int_column(tmp_path: Path) -> None:
    schema = pa.DataFrameSchema({"n": pa.Column(int, nullable=True)}, name="ints")
    with pytest.raises(ContractError, match=r"column 'n' is nullable but dtype int64 .*Int64"):
        save_contract(schema, tmp_path / "ints.yaml")


def test_save_refuses_something_else_than_a_schema(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="needs a pandera DataFrameSchema, got dict"):
        save_contract({"columns": {}}, tmp_path / "x.yaml")  # type: ignore[arg-type]


# --- load errors -----------------------------------------------------------------------


def test_missing_file_names_the_path_and_how_to_make_one(tmp_path: Path) -> None:
    path = tmp_path / "contracts" / "nope.yaml"
    with pytest.raises(ContractError, match=r"nope\.yaml not found; create one .*infer_contract"):
        load_contract(path)
    with pytest.raises(ContractError) as info:
        load_contract(path)
    assert info.value.path == path


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="is a folder, not a file"):
        load_contract(tmp_path)


def test_invalid_yaml(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", "columns:\n  a:\n    dtype: [int64\n")
    with pytest.raises(ContractError, match=r"bad\.yaml is not valid YAML") as info:
        load_contract(path)
    assert isinstance(info.value.__cause__, yaml.YAMLError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "expected a YAML mapping, got list"),
        ("just text\n", "expected a YAML mapping, got str"),
        ("", "expected a YAML mapping, got NoneType"),
        ("name: x\nstrict: true\n", r"has no 'columns:' section"),
        ("pipelines: {}\ncolumns: {a: {dtype: int64}}\n", r"unknown top-level key\(s\) pipelines"),
        ("strikt: true\ncolumns: {a: {dtype: int64}}\n", r"unknown top-level key\(s\) strikt"),
        (
            "columns:\n  a:\n    dtype: int64\n    nulable: true\n",
            r"'a' has unknown key\(s\) nulable",
        ),
        ("columns:\n  a:\n", r"column 'a' must map to settings"),
        ("schema_type: series\ncolumns: {a: {dtype: int64}}\n", "expected 'dataframe'"),
    ],
)
def test_yaml_that_is_not_a_contract(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "contract.yaml", text)
    with pytest.raises(ContractError, match=message):
        load_contract(path)


@pytest.mark.parametrize(
    ("column", "cause"),
    [
        ({"dtype": "integer64"}, TypeError),
        ({"dtype": "int64", "checks": {"bogus": 1}}, AttributeError),
        ({"dtype": "int64", "in_range": 5}, TypeError),
    ],
)
def test_pandera_errors_are_translated(
    tmp_path: Path, column: dict[str, object], cause: type[Exception]
) -> None:
    path = tmp_path / "contract.yaml"
    path.write_text(yaml.safe_dump({"columns": {"a": column}}), encoding="utf-8")
    with pytest.raises(
        ContractError, match=r"(?s)is not a valid pandera schema: .*Check the dtype"
    ):
        load_contract(path)
    with pytest.raises(ContractError) as info:
        load_contract(path)
    assert isinstance(info.value.__cause__, cause)


def test_nullable_int_column_in_a_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", "columns:\n  n:\n    dtype: int64\n    nullable: true\n")
    with pytest.raises(ContractError, match=r"column 'n' is nullable but dtype int64"):
        load_contract(path)


# --- the demo contract -----------------------------------------------------------------


def test_demo_contract_loads_with_the_agreed_columns() -> None:
    schema = load_contract(CHURN)
    assert schema.name == "churn"
    assert schema.strict is True
    assert schema.coerce is True
    assert schema.description
    assert list(schema.columns) == [
        "customer_id", "age", "tenure_months", "monthly_charges", "total_charges",
        "contract", "payment_method", "internet_service", "region", "support_calls",
        "churned",
    ]  # fmt: skip
    nullable = {name for name, column in schema.columns.items() if column.nullable}
    assert nullable == {"total_charges", "payment_method"}


def test_demo_contract_rejects_a_new_payment_method() -> None:
    schema = load_contract(CHURN)
    row = {
        "customer_id": "C0000001", "age": 30, "tenure_months": 12, "monthly_charges": 50.0,
        "total_charges": 600.0, "contract": "one-year", "payment_method": "crypto-wallet",
        "internet_service": "none", "region": "west", "support_calls": 1, "churned": 0,
    }  # fmt: skip
    frame = pd.DataFrame([row, {**row, "payment_method": None}])
    result = validate(frame, schema, on_invalid="quarantine", max_invalid_fraction=1)
    assert result.invalid_rows == 1
    assert result.quarantined["_reasons"].iloc[0].startswith("payment_method: isin(")
    assert result.failures.loc[0, "examples"] == "'crypto-wallet'"


# --- infer_contract --------------------------------------------------------------------


def mixed_frame(rows: int = 40) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [f"ID{i:04d}" for i in range(rows)],
            "colour": [("red", "green", "blue")[i % 3] for i in range(rows)],
            "note": pd.Series([None if i % 4 else "ok" for i in range(rows)], dtype=object),
            "visits": [i % 7 for i in range(rows)],
            "balance": [float(i - 5) for i in range(rows)],
            "spend": [np.nan if i % 10 == 0 else i * 1.5 for i in range(rows)],
            "signed_up": pd.to_datetime("2024-01-01") + pd.to_timedelta(range(rows), unit="D"),
            "active": [i % 2 == 0 for i in range(rows)],
            "label": [i % 2 for i in range(rows)],
        }
    )


def test_infer_describes_each_column() -> None:
    schema = infer_contract(mixed_frame(), target="label", name="mixed")
    summary = contract_summary(schema).set_index("column")
    assert summary.loc["id"].tolist() == ["str", False, ""]
    assert summary.loc["colour"].tolist() == ["str", False, "one of: blue, green, red"]
    assert summary.loc["note"].tolist() == ["str", True, "one of: ok"]
    assert summary.loc["visits"].tolist() == ["int64", False, ">= 0"]
    assert summary.loc["balance"].tolist() == ["float64", False, ""]
    assert summary.loc["spend"].tolist() == ["float64", True, ">= 0"]
    assert summary.loc["signed_up", "dtype"].startswith("datetime64")
    assert summary.loc["active"].tolist() == ["bool", False, ""]
    assert summary.loc["label"].tolist() == ["int64", False, ">= 0"]
    assert (schema.strict, schema.coerce, schema.name) == (True, True, "mixed")
    assert "Inferred by mlops-nb from 40 rows" in schema.description
    assert "-p contract=" in schema.description


def test_inferred_contract_accepts_its_data_and_rejects_a_new_category(tmp_path: Path) -> None:
    frame = mixed_frame()
    schema = load_contract(save_contract(infer_contract(frame, "label"), tmp_path / "m.yaml"))
    assert validate(frame, schema).passed
    changed = frame.copy()
    changed.loc[3, "colour"] = "purple"
    with pytest.raises(DataValidationError, match=r"1 of 40 rows \(2\.5%\) break contract"):
        validate(changed, schema)


def test_inferred_contract_does_not_pin_min_or_max() -> None:
    frame = mixed_frame()
    schema = infer_contract(frame)
    bigger = frame.assign(visits=frame["visits"] * 1000, balance=frame["balance"] * 1000)
    assert validate(bigger, schema).passed


def test_inferred_target_is_never_nullable() -> None:
    frame = mixed_frame().astype({"label": "float64"})
    frame.loc[0, "label"] = np.nan
    schema = infer_contract(frame, target="label")
    assert schema.columns["label"].nullable is False
    assert infer_contract(frame).columns["label"].nullable is True


def test_infer_refuses_an_empty_frame_or_an_unknown_target() -> None:
    with pytest.raises(ContractError, match="cannot infer a contract from an empty table"):
        infer_contract(mixed_frame().iloc[:0])
    with pytest.raises(ContractError, match=r"target column 'churn' is not in the data"):
        infer_contract(mixed_frame(), target="churn")


# --- find_contract ---------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name in ("churn.yaml", "other.yaml", "customers.yaml"):
        save_contract(small_schema(), tmp_path / "contracts" / name)
    return tmp_path


MAPPING = {
    "sample:churn": "contracts/churn.yaml",
    "data/customers-*.csv": "contracts/customers.yaml",
}


def test_explicit_contract_wins(root: Path) -> None:
    found = find_contract("sample:churn", MAPPING, "contracts/other.yaml", root)
    assert found == root / "contracts" / "other.yaml"
    absolute = str(root / "contracts" / "other.yaml")
    assert find_contract("sample:churn", MAPPING, absolute, root) == Path(absolute)


def test_explicit_contract_must_exist(root: Path) -> None:
    with pytest.raises(ContractError, match=r"-p contract=contracts/typo\.yaml not found"):
        find_contract("sample:churn", MAPPING, "contracts/typo.yaml", root)


def test_mapping_matches_the_source_without_its_query_string(root: Path) -> None:
    found = find_contract("sample:churn?rows=500&drift=1", MAPPING, None, root)
    assert found == root / "contracts" / "churn.yaml"


def test_mapping_keys_may_be_glob_patterns(root: Path) -> None:
    found = find_contract("data/customers-2024.csv", MAPPING, None, root)
    assert found == root / "contracts" / "customers.yaml"


def test_other_data_gets_no_contract(root: Path) -> None:
    assert find_contract("data/orders.csv", MAPPING, None, root) is None
    assert find_contract("sample:churnish", MAPPING, None, root) is None
    assert find_contract("sample:churn", {}, None, root) is None
    assert find_contract("sample:churn", None, None, root) is None


def test_mapped_contract_must_exist(root: Path) -> None:
    mapping = {"sample:churn": "contracts/gone.yaml"}
    with pytest.raises(ContractError, match=r"pipeline\.yaml maps data source 'sample:churn'"):
        find_contract("sample:churn?rows=10", mapping, None, root)


# --- contract_summary ------------------------------------------------------------------


def test_summary_of_the_demo_contract() -> None:
    summary = contract_summary(load_contract(CHURN))
    assert list(summary.columns) == ["column", "dtype", "nullable", "checks"]
    assert len(summary) == 11
    rows = summary.set_index("column")
    assert rows.loc["age"].tolist() == ["int64", False, ">= 18 and <= 100"]
    assert rows.loc["customer_id"].tolist() == ["str", False, ""]
    assert rows.loc["payment_method", "nullable"]
    assert rows.loc["payment_method", "checks"] == (
        "one of: electronic-check, mailed-check, bank-transfer, credit-card"
    )
    assert rows.loc["churned", "checks"] == "one of: 0, 1"


def test_summary_words_other_checks() -> None:
    schema = pa.DataFrameSchema(
        {
            "x": pa.Column(float, pa.Check.in_range(0, 1, include_min=False), unique=True),
            "code": pa.Column(str, [pa.Check.str_matches(r"^[A-Z]+$"), pa.Check.str_length(2, 4)]),
        },
        checks=[pa.Check(lambda df: df["x"] > 0, name="x_positive")],
    )
    rows = contract_summary(schema).set_index("column")
    assert rows.loc["x", "checks"] == "> 0 and <= 1; unique"
    assert rows.loc["code", "checks"] == "matches '^[A-Z]+$'; length 2 to 4"
    assert rows.loc["(dataframe)", "checks"] == "x_positive"
