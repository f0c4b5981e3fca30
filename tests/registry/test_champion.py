"""Champion vs challenger on rows neither model trained on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops_nb.errors import ModelingError, RegistryError
from mlops_nb.modeling import predict
from mlops_nb.prep.keys import KEY_COLUMN, SplitRule, row_keys
from mlops_nb.registry import Registry
from mlops_nb.registry.champion import TRAINING_KEYS_FILE, judge_challenger, training_keys
from mlops_nb.registry.gate import PromotionRecord
from tests.registry.conftest import churn_frame, register_model

TARGET = "churned"


def dataset(rows: int = 400) -> pd.DataFrame:
    X, y = churn_frame(rows=rows, seed=3)
    return X.assign(**{TARGET: y})


def fit(frame: pd.DataFrame, c: float = 1.0) -> Pipeline:
    prep = ColumnTransformer(
        [("num", StandardScaler(), ["tenure", "charges"]), ("cat", OneHotEncoder(), ["plan"])]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression(C=c))])
    return model.fit(frame.drop(columns=[TARGET]), frame[TARGET])


def rule_for(frame: pd.DataFrame, **changes) -> SplitRule:
    return SplitRule(
        **{"method": "hash", "test_size": 0.25, "columns": tuple(sorted(frame.columns)), **changes}
    )


def register_champion(
    registry: Registry,
    tmp_path: Path,
    frame: pd.DataFrame,
    rows: slice,
    *,
    keys: bool = True,
    rule=None,
) -> int:
    trained = frame.iloc[rows]
    extra = {}
    if keys:
        path = tmp_path / "champion_keys.parquet"
        row_keys(frame).iloc[rows].to_frame().to_parquet(path, index=False)
        extra = {
            "attachments": {TRAINING_KEYS_FILE: path},
            "split": (rule or rule_for(frame)).to_dict(),
        }
    version = register_model(registry, "churn", fit(trained), **extra)
    registry.set_alias("churn", "production", version.version, reason="first model")
    return version.version


def judge(registry: Registry, frame: pd.DataFrame, holdout_rows: slice, train_rows, **options):
    keys = row_keys(frame)
    holdout = frame.iloc[holdout_rows]
    train = frame.drop(index=holdout.index)
    if train_rows is not None:
        train = frame.iloc[train_rows]
    return judge_challenger(
        registry,
        "churn",
        fit(train, c=0.5),
        holdout,
        target=TARGET,
        task="binary",
        holdout_keys=keys.loc[holdout.index],
        train_keys=keys.loc[train.index],
        rule=options.pop("rule", rule_for(frame)),
        **options,
    )


def test_rows_the_champion_trained_on_are_left_out(registry: Registry, tmp_path: Path) -> None:
    frame = dataset()
    champion = register_champion(registry, tmp_path, frame, slice(0, 300))
    # holdout rows 250..349: the first 50 are in the champion's training rows
    result = judge(registry, frame, slice(250, 350), None, min_rows=30)

    seen = set(row_keys(frame).iloc[0:300])
    assert result.holdout_rows == 100 and result.compared_rows == 50
    assert result.excluded[f"in v{champion}'s training rows"] == 50
    assert not seen & set(result.rows[KEY_COLUMN])
    assert result.rows.index.equals(frame.index[300:350])
    assert result.decided
    assert list(result.table["model"]) == ["challenger", f"champion v{champion}"]
    assert set(result.table["n"]) == {50}
    assert result.decision.champion == pytest.approx(
        float(result.table.loc[result.table["model"] != "challenger", "roc_auc"].iloc[0])
    )
    assert "on 50 of the 100 holdout rows" in result.summary
    assert f"50 in v{champion}'s training rows" in result.summary


def test_too_few_unseen_rows_is_not_decided(registry: Registry, tmp_path: Path) -> None:
    frame = dataset()
    register_champion(registry, tmp_path, frame, slice(0, 300))
    result = judge(registry, frame, slice(250, 350), None, min_rows=51)

    assert not result.decided and not result.decision.promote
    assert "only 50 holdout row(s) were seen by neither model" in result.decision.reason
    record = result.record("churn")
    assert record["decided"] is False and record["compared_rows"] == 50
    assert record["champion_version"] == 1 and record["alias"] == "production"
    assert isinstance(record, PromotionRecord) and record.verdict == "not decided"
    assert list(record.to_dict()) == [  # decision.json's keys, in its order
        "promote",
        "reason",
        "margin",
        "champion",
        "challenger",
        "decided",
        "model_name",
        "metric",
        "alias",
        "champion_version",
        "holdout_rows",
        "compared_rows",
        "excluded",
        "summary",
        "required_margin",
        "min_quality",
        "min_compared_rows",
        "rejudged",
        "fairness",
    ]
    assert (record.required_margin, record.min_compared_rows, record.rejudged) == (0.0, 51, 0)
    assert record.summary == result.summary and record.excluded == result.excluded
    assert PromotionRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record


def test_a_champion_without_recorded_training_rows_is_not_judged(
    registry: Registry, tmp_path: Path
) -> None:
    frame = dataset()
    register_champion(registry, tmp_path, frame, slice(0, 300), keys=False)
    result = judge(registry, frame, slice(300, 400), None)

    assert training_keys(registry, registry.get("churn", 1)) is None
    assert not result.decided and not result.decision.promote
    assert "v1 recorded no training rows" in result.decision.reason
    assert "mlops-nb models promote" in result.decision.reason


def test_keys_over_other_columns_are_not_compared(registry: Registry, tmp_path: Path) -> None:
    frame = dataset()
    register_champion(
        registry, tmp_path, frame, slice(0, 300), rule=rule_for(frame, columns=("tenure",))
    )
    result = judge(registry, frame, slice(300, 400), None)

    assert not result.decided
    assert "identified by other columns" in result.decision.reason


def test_unseen_holdout_is_compared_whole_and_the_gate_decides(
    registry: Registry, tmp_path: Path
) -> None:
    frame = dataset()
    register_champion(registry, tmp_path, frame, slice(0, 300))
    result = judge(registry, frame, slice(300, 400), slice(0, 300), margin=0.0)

    assert result.compared_rows == 100 and result.decided
    assert sum(result.excluded.values()) == 0
    assert "none was left out" in result.summary
    improvement = result.decision.challenger - result.decision.champion
    assert result.decision.promote is (improvement >= -1e-9)


def test_without_champion_the_minimum_quality_decides(registry: Registry) -> None:
    frame = dataset()
    passed = judge(registry, frame, slice(300, 400), None, min_quality={"roc_auc": 0.5})
    failed = judge(registry, frame, slice(300, 400), None, min_quality={"roc_auc": 1.01})

    assert passed.champion is None and passed.decision.promote and passed.decided
    assert list(passed.table["model"]) == ["challenger"]
    assert not failed.decision.promote and "minimum quality" in failed.decision.reason
    assert passed.record("churn")["champion_version"] is None


def test_holdout_rows_in_the_challengers_training_rows_are_left_out(registry: Registry) -> None:
    frame = dataset()
    result = judge(registry, frame, slice(300, 400), slice(0, 320), min_quality=None)
    assert result.excluded["also in the challenger's training rows"] == 20
    assert result.compared_rows == 80


def test_keys_that_do_not_match_the_holdout_are_refused(registry: Registry) -> None:
    frame = dataset()
    with pytest.raises(RegistryError, match="holdout_keys has 3 value"):
        judge_challenger(
            registry,
            "churn",
            fit(frame),
            frame.iloc[:10],
            target=TARGET,
            task="binary",
            holdout_keys=np.arange(3, dtype="uint64"),
            train_keys=np.arange(3, dtype="uint64"),
            rule=rule_for(frame),
        )


def test_the_challengers_own_predictions_give_the_same_judgement(
    registry: Registry, tmp_path: Path
) -> None:
    frame = dataset()
    register_champion(registry, tmp_path, frame, slice(0, 300))
    keys = row_keys(frame)
    holdout, train = frame.iloc[250:350], frame.iloc[:250]
    challenger = fit(train, c=0.5)
    options = dict(
        target=TARGET,
        task="binary",
        holdout_keys=keys.loc[holdout.index],
        train_keys=keys.loc[train.index],
        rule=rule_for(frame),
        min_rows=30,
    )
    made = predict(challenger, holdout.drop(columns=[TARGET]), holdout[TARGET], "binary")

    fresh = judge_challenger(registry, "churn", challenger, holdout, **options)
    reused = judge_challenger(
        registry, "churn", challenger, holdout, challenger_predictions=made, **options
    )

    pd.testing.assert_frame_equal(reused.table, fresh.table)
    assert reused.decision == fresh.decision and reused.compared_rows == 50
    with pytest.raises(ModelingError, match="100 row\\(s\\) for 99 labelled"):
        judge_challenger(
            registry,
            "churn",
            challenger,
            holdout.iloc[1:],
            challenger_predictions=made,
            **{**options, "holdout_keys": keys.loc[holdout.index[1:]]},
        )
