"""Batch inference with predict_file and score_frame, against a real registered churn model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from mlops_nb.data import generate_churn
from mlops_nb.errors import DataSourceError, DataValidationError, ServingError
from mlops_nb.features import build_feature_pipeline, infer_feature_types
from mlops_nb.prep import cleanse, standardize
from mlops_nb.registry import Registry
from mlops_nb.serving.batch import predict, predict_file, score_frame
from mlops_nb.validation import input_contract, load_contract, validate

CONTRACT = Path(__file__).parents[2] / "contracts" / "churn.yaml"
REF = "churn@production"
ROWS = 1000
BAD_ROW = 437  # in the third chunk of 150 rows


def register_churn(root: Path) -> Registry:
    """Train a small churn pipeline and register it as churn:1, alias production."""
    raw = generate_churn(500, seed=1)
    data = cleanse(standardize(raw, "churned")[0], "churned").data
    steps = build_feature_pipeline(infer_feature_types(data, "churned"), "binary").steps
    model = Pipeline([*steps, ("model", LogisticRegression(max_iter=500))])
    model.fit(data.drop(columns="churned"), data["churned"])
    registry = Registry(root / "mlops.db", root / "registry")
    registry.register(
        "churn",
        model,
        signature=input_contract(load_contract(CONTRACT), "churned"),
        task="binary",
        target="churned",
        metrics={"roc_auc": 0.8},
        data_version="x",
        pipeline_run=None,
        training_run=None,
    )
    registry.set_alias("churn", "production", 1, reason="tests")
    return registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory):
    with register_churn(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


@pytest.fixture(scope="module")
def loaded(registry: Registry):
    return registry.load(REF)


@pytest.fixture(scope="module")
def inputs() -> pd.DataFrame:
    """Input rows (no target) with a row breaking two checks in the middle."""
    frame = generate_churn(ROWS, seed=5).drop(columns="churned")
    frame.loc[BAD_ROW, ["age", "contract"]] = [150, "ten-year"]
    return frame


def expected(loaded, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What scoring must give: the valid rows and the model's own predictions on them."""
    result = validate(frame, loaded.signature, on_invalid="quarantine", max_invalid_fraction=1.0)
    return result.valid, result.quarantined


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def check_scored(loaded, frame: pd.DataFrame, out: pd.DataFrame, invalid: pd.DataFrame) -> None:
    valid, quarantined = expected(loaded, frame)
    assert out["row"].tolist() == valid.index.tolist()
    assert BAD_ROW not in set(out["row"]) and {BAD_ROW - 1, BAD_ROW + 1} <= set(out["row"])
    assert list(out.columns) == ["row", *frame.columns, "prediction", "proba_0", "proba_1"]
    np.testing.assert_array_equal(out["prediction"], loaded.model.predict(valid))
    proba = loaded.model.predict_proba(valid)
    np.testing.assert_allclose(out[["proba_0", "proba_1"]].to_numpy(), proba, rtol=1e-12)
    np.testing.assert_allclose(out["proba_0"] + out["proba_1"], 1.0)
    assert invalid["row"].tolist() == quarantined.index.tolist()
    assert list(invalid.columns) == ["row", *frame.columns, "_reasons"]
    reasons = invalid.set_index("row")["_reasons"]
    assert "age: in_range(18, 100)" in reasons[BAD_ROW] and "contract: isin(" in reasons[BAD_ROW]


def test_csv_in_several_chunks(registry, loaded, inputs, tmp_path):
    inputs.to_csv(tmp_path / "in.csv", index=False)
    calls: list[tuple[int, int | None]] = []
    result = predict_file(
        registry,
        REF,
        tmp_path / "in.csv",
        tmp_path / "scores.csv",
        chunk_rows=150,
        progress=lambda done, total: calls.append((done, total)),
    )
    valid, quarantined = expected(loaded, inputs)
    assert (result.rows, result.scored, result.invalid) == (ROWS, len(valid), len(quarantined))
    assert (result.model, result.version) == ("churn", 1)
    assert result.invalid_output == tmp_path / "scores.invalid.csv"
    out = pd.read_csv(result.output, dtype={"customer_id": str})
    invalid = pd.read_csv(result.invalid_output, dtype=str).astype({"row": "int64"})
    check_scored(loaded, inputs, out, invalid)
    done = [d for d, _ in calls]
    assert done[:8] == [0, 150, 300, 450, 600, 750, 900, ROWS] and calls[-1] == (ROWS, ROWS)
    assert done == sorted(done) and len(set(done[:-1])) == len(done) - 1
    assert all(total is not None and total >= d for d, total in calls)
    assert result.summary()["scored"] == len(valid) and leftovers(tmp_path) == []


def test_parquet_in_several_chunks(registry, loaded, inputs, tmp_path):
    inputs.to_parquet(tmp_path / "in.parquet")
    calls: list[tuple[int, int | None]] = []
    result = predict_file(
        registry,
        REF,
        tmp_path / "in.parquet",
        tmp_path / "out" / "scores.parquet",
        chunk_rows=150,
        progress=lambda done, total: calls.append((done, total)),
    )
    out, invalid = pd.read_parquet(result.output), pd.read_parquet(result.invalid_output)
    check_scored(loaded, inputs, out, invalid)
    assert out["age"].dtype == "int64" and out["prediction"].dtype == "int64"
    assert [total for _, total in calls] == [ROWS] * 8
    assert [done for done, _ in calls] == [0, 150, 300, 450, 600, 750, 900, ROWS]


def test_csv_to_parquet_with_an_explicit_invalid_file(registry, loaded, inputs, tmp_path):
    frame = inputs.head(500).copy()
    frame["customer_id"] = [f"{i:05d}" for i in range(len(frame))]  # looks numeric
    frame.to_csv(tmp_path / "in.csv", index=False)
    result = predict_file(
        registry,
        REF,
        tmp_path / "in.csv",
        tmp_path / "scores.parquet",
        invalid_path=tmp_path / "rejected.csv",
    )
    out = pd.read_parquet(result.output)
    assert out["customer_id"].iloc[0] == "00000"  # read as text: leading zeros kept
    assert result.invalid_output == tmp_path / "rejected.csv"
    rejected = pd.read_csv(result.invalid_output)
    assert rejected["row"].tolist() == expected(loaded, frame)[1].index.tolist()
    assert BAD_ROW in set(rejected["row"]) and result.scored + result.invalid == 500


def test_no_invalid_rows_still_writes_an_empty_invalid_file(registry, loaded, inputs, tmp_path):
    valid, _ = expected(loaded, inputs)
    valid.head(50).to_parquet(tmp_path / "in.parquet")
    result = predict_file(registry, REF, tmp_path / "in.parquet", tmp_path / "scores.parquet")
    assert (result.scored, result.invalid) == (50, 0)
    invalid = pd.read_parquet(result.invalid_output)
    assert invalid.empty and list(invalid.columns) == ["row", *inputs.columns, "_reasons"]


def test_score_frame_keeps_the_index(loaded, inputs):
    frame = inputs.iloc[400:480].set_axis(range(1000, 1080))
    scored, invalid = score_frame(loaded, frame)
    assert 1000 + BAD_ROW - 400 in invalid.index
    assert set(scored.index) | set(invalid.index) == set(frame.index)
    np.testing.assert_array_equal(
        scored["prediction"], loaded.model.predict(frame.loc[scored.index])
    )
    assert "_reasons" in invalid.columns


def test_score_frame_refuses_output_names(loaded, inputs):
    with pytest.raises(ServingError, match="prediction"):
        score_frame(loaded, inputs.head(5).assign(prediction=1))


def test_missing_column_stops_before_anything_is_written(registry, inputs, tmp_path):
    inputs.drop(columns=["age"]).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(DataValidationError, match=r"missing column.*age") as info:
        predict_file(registry, REF, tmp_path / "in.csv", tmp_path / "scores.csv")
    assert info.value.columns == ["age"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_target_column_is_named_as_unexpected(registry, inputs, tmp_path):
    inputs.assign(churned=0).to_parquet(tmp_path / "in.parquet")
    with pytest.raises(DataValidationError, match="Drop the target column 'churned'"):
        predict_file(registry, REF, tmp_path / "in.parquet", tmp_path / "scores.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("zero.csv", b""),
        ("header.csv", b"customer_id,age\n\n"),
        ("zero.parquet", b""),
    ],
)
def test_empty_input(registry, tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataSourceError, match="is empty"):
        predict_file(registry, REF, tmp_path / name, tmp_path / "scores.csv")


def test_empty_input_with_the_right_columns(registry, inputs, tmp_path):
    inputs.head(0).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(DataSourceError, match="no rows"):
        predict_file(registry, REF, tmp_path / "in.csv", tmp_path / "scores.csv")
    inputs.head(0).to_parquet(tmp_path / "in.parquet")
    with pytest.raises(DataSourceError, match="no rows"):
        predict_file(registry, REF, tmp_path / "in.parquet", tmp_path / "scores.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "in.parquet"]


def test_unknown_suffixes_and_missing_input(registry, inputs, tmp_path):
    inputs.head(5).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(ServingError, match=r"\.csv, \.parquet"):
        predict_file(registry, REF, tmp_path / "in.csv", tmp_path / "scores.json")
    (tmp_path / "in.xlsx").write_bytes(b"x")
    with pytest.raises(DataSourceError, match=r"unsupported suffix \.xlsx.*\.csv.*\.parquet"):
        predict_file(registry, REF, tmp_path / "in.xlsx", tmp_path / "scores.csv")
    with pytest.raises(DataSourceError, match="not found"):
        predict_file(registry, REF, tmp_path / "missing.csv", tmp_path / "scores.csv")
    with pytest.raises(ServingError, match="is the input file"):
        predict_file(registry, REF, tmp_path / "in.csv", tmp_path / "in.csv")
    with pytest.raises(ServingError, match="chunk_rows"):
        predict_file(registry, REF, tmp_path / "in.csv", tmp_path / "s.csv", chunk_rows=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "in.xlsx"]


def test_failure_midway_leaves_no_output(registry, inputs, tmp_path, monkeypatch):
    inputs.to_csv(tmp_path / "in.csv", index=False)
    (tmp_path / "scores.csv").write_text("from an earlier run\n")
    real, calls = predict.score_frame, []

    def failing(loaded, df, **kwargs):
        calls.append(len(df))
        if len(calls) == 3:
            raise RuntimeError("scorer failed")
        return real(loaded, df, **kwargs)

    monkeypatch.setattr(predict, "score_frame", failing)
    with pytest.raises(RuntimeError, match="scorer failed"):
        predict_file(registry, REF, tmp_path / "in.csv", tmp_path / "scores.csv", chunk_rows=200)
    assert len(calls) == 3
    assert (tmp_path / "scores.csv").read_text() == "from an earlier run\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "scores.csv"]


def test_malformed_csv_is_reported_with_its_position(registry, inputs, tmp_path):
    text = inputs.head(300).to_csv(index=False).splitlines()
    text[250] += ",extra"
    (tmp_path / "in.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(DataSourceError, match="line 251, saw 11"):
        predict_file(registry, REF, tmp_path / "in.csv", tmp_path / "scores.csv", chunk_rows=100)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]
