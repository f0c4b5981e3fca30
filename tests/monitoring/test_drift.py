"""The drift detector: decisions, reasons, errors and the scikit-learn contract."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from mlops_nb.data import generate_churn
from mlops_nb.errors import MlopsNbError
from mlops_nb.monitoring import DriftDetector, DriftReport, MonitoringError
from mlops_nb.monitoring.report import REPORT_COLUMNS
from tests.monitoring.conftest import REGION_P, REGIONS, make_frame


def rows_of(report: DriftReport) -> pd.DataFrame:
    return report.features.set_index("column")


def test_profile_infers_column_kinds(detector: DriftDetector) -> None:
    kinds = {name: column.kind for name, column in detector.profile_.columns.items()}
    assert kinds == {
        "income": "numeric",
        "age": "numeric",
        "score": "numeric",
        "children": "categorical",  # an integer column with <= 10 values
        "region": "categorical",
        "member": "categorical",
    }
    assert detector.profile_["score"].missing_share == pytest.approx(0.05, abs=0.01)
    assert detector.profile_["member"].counts.keys() == {"True", "False"}


def test_half_sd_mean_shift_of_one_feature_is_detected(detector: DriftDetector) -> None:
    report = detector.test(make_frame(5_000, 1, shift=0.5))

    table = rows_of(report)
    assert list(report.features.columns) == list(REPORT_COLUMNS)
    assert table.loc["income", "drifted"]
    assert (
        table.loc["income", "test"] == "ks" and table.loc["income", "effect_name"] == "wasserstein"
    )
    assert table.loc["income", "effect"] == pytest.approx(0.5, abs=0.1)
    assert table.loc["income", "reason"].startswith("mean 50,0")
    assert report.drifted_columns == ["income"]
    assert report.n_drifted == 1 and report.n_checked == 6
    assert report.drift_share == pytest.approx(1 / 6)
    assert not report.dataset_drift


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_same_distribution_is_not_flagged(detector: DriftDetector, seed: int) -> None:
    report = detector.test(make_frame(5_000, seed))

    assert not report.dataset_drift
    assert not report.features["drifted"].any(), report.summary()
    assert report.features["reason"].str.startswith("no drift: ").all()


def test_tiny_shift_on_large_samples_is_significant_but_not_drift() -> None:
    detector = DriftDetector().fit(make_frame(200_000, 0))
    report = detector.test(make_frame(200_000, 1, shift=0.01))

    income = rows_of(report).loc["income"]
    assert not income["drifted"] and not report.features["drifted"].any()
    assert income["effect"] < 0.05


def test_significant_but_small_shift_is_not_drift() -> None:
    everything = {"max_reference_sample": 200_000, "max_current_sample": 200_000}
    detector = DriftDetector(**everything).fit(make_frame(200_000, 0)[["income"]])
    report = detector.test(make_frame(200_000, 1, shift=0.03)[["income"]])

    income = rows_of(report).loc["income"]
    assert income["p_adjusted"] < 1e-6 and income["effect"] < 0.1
    assert not income["drifted"]
    assert re.match(r"no drift: normalized Wasserstein 0\.0\d+ < 0\.1 \(KS p=", income["reason"])
    assert income["reason"].endswith("detectable, but too small to matter)")


def test_half_sd_shift_is_detected_whatever_the_sample_size() -> None:
    detector = DriftDetector().fit(make_frame(50_000, 0))
    report = detector.test(make_frame(200_000, 1, shift=0.5))
    assert report.drifted_columns == ["income"]


def test_new_category_is_drift_with_its_share(detector: DriftDetector) -> None:
    regions = np.array([*REGIONS, "moon"])
    current = make_frame(5_000, 1, regions=regions, region_p=np.r_[REGION_P * 0.93, 0.07])

    region = rows_of(detector.test(current)).loc["region"]
    assert region["drifted"]
    assert region["test"] == "chi2"
    assert region["new_categories"] == ["moon"]
    assert region["missing_categories"] == []
    assert re.match(r"new category 'moon' in [67]\.\d% of rows; ", region["reason"])


def test_rare_new_category_is_listed_but_not_drift(detector: DriftDetector) -> None:
    regions = np.array([*REGIONS, "moon"])
    current = make_frame(5_000, 1, regions=regions, region_p=np.r_[REGION_P * 0.998, 0.002])

    region = rows_of(detector.test(current)).loc["region"]
    assert not region["drifted"]
    assert region["new_categories"] == ["moon"]
    assert re.search(r"; new category 'moon' in 0\.\d% of rows$", region["reason"])


def test_vanished_category_is_drift(detector: DriftDetector) -> None:
    current = make_frame(5_000, 1, regions=REGIONS[:3], region_p=REGION_P[:3] / 0.9)

    region = rows_of(detector.test(current)).loc["region"]
    assert region["drifted"]
    assert region["missing_categories"] == ["west"]
    assert region["new_categories"] == []
    assert "category 'west' (10.0% of reference) absent" in region["reason"]


def test_few_rows_are_insufficient_data_never_drift(detector: DriftDetector) -> None:
    report = detector.test(make_frame(40, 1, shift=3.0))

    income = rows_of(report).loc["income"]
    assert income["status"] == "insufficient data" and not income["drifted"]
    assert income["reason"] == "insufficient data: 40 rows < 100"
    assert np.isnan(income["p_value"]) and np.isnan(income["p_adjusted"])
    assert report.n_checked == 0 and report.drift_share == 0.0 and not report.dataset_drift


def test_missing_values_are_tracked_and_dropped(detector: DriftDetector) -> None:
    current = make_frame(5_000, 1)
    current.loc[current.index[:2_500], "score"] = np.nan

    score = rows_of(detector.test(current)).loc["score"]
    assert score["missing_current"] == pytest.approx(0.5 + 0.5 * 0.05, abs=0.01)
    assert score["missing_reference"] == pytest.approx(0.05, abs=0.01)
    assert score["n_current"] == current["score"].notna().sum()
    assert not score["drifted"]


def test_empty_current_data_is_refused(detector: DriftDetector, reference: pd.DataFrame) -> None:
    with pytest.raises(MonitoringError, match="no rows"):
        detector.test(reference.head(0))


def test_missing_columns_are_named(detector: DriftDetector) -> None:
    current = make_frame(500, 1).drop(columns=["age", "region"])

    with pytest.raises(MonitoringError, match="schema mismatch") as caught:
        detector.test(current)
    assert "'age'" in str(caught.value) and "'region'" in str(caught.value)
    assert caught.value.columns == ["age", "region"]
    assert isinstance(caught.value, MlopsNbError)


def test_changed_type_is_named(detector: DriftDetector) -> None:
    current = make_frame(500, 1)
    current["income"] = current["income"].map(lambda v: f"{v:.0f} USD")
    current["member"] = current["member"].astype(int)

    with pytest.raises(MonitoringError, match="type changed in 2 column") as caught:
        detector.test(current)
    message = str(caught.value)
    assert "'income' (numeric → text" in message and "'member' (boolean → numeric" in message
    assert caught.value.columns == ["income", "member"]


def test_integer_valued_floats_and_object_booleans_are_compatible(
    detector: DriftDetector,
) -> None:
    current = make_frame(5_000, 1)
    current["children"] = current["children"].astype(float)
    current.loc[current.index[0], "children"] = np.nan
    current["member"] = current["member"].astype(object)
    current.loc[current.index[0], "member"] = None

    table = rows_of(detector.test(current))
    assert table.loc["children", "new_categories"] == []
    assert not table["drifted"].any()


def test_extra_columns_are_ignored(detector: DriftDetector) -> None:
    current = make_frame(1_000, 1).assign(extra=1, other="x")
    report = detector.test(current)
    assert report.ignored_columns == ["extra", "other"]
    assert "extra" not in set(report.features["column"])


def test_prediction_is_reported_apart() -> None:
    reference = make_frame(10_000, 0)
    reference["prediction"] = np.random.default_rng(0).random(len(reference))
    current = make_frame(5_000, 1)
    current["prediction"] = np.random.default_rng(1).random(len(current)) ** 2
    detector = DriftDetector().fit(reference)

    report = detector.test(current)
    assert "prediction" not in set(report.features["column"])
    assert report.prediction is not None and report.prediction["drifted"]
    assert report.prediction_drift
    assert report.n_drifted == 0 and report.n_checked == 6
    line = report.summary().splitlines()[1]
    assert line.startswith("prediction column 'prediction': mean 0.499 → 0.331; KS p<1e-12")
    assert report.to_dict()["prediction"]["column"] == "prediction"


def test_report_to_dict_is_json_safe(detector: DriftDetector) -> None:
    report = detector.test(make_frame(5_000, 1, shift=0.5))

    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["drifted_columns"] == ["income"]
    assert data["features"][0]["column"] == "income" and data["features"][0]["drifted"] is True
    assert set(data["features"][0]) == set(REPORT_COLUMNS)
    assert "no dataset drift: 1 of 6 checked features drifted" in report.summary()
    assert "income: mean" in repr(report)


def test_correction_none_keeps_raw_p_values(reference: pd.DataFrame) -> None:
    current = make_frame(2_000, 1)
    raw = DriftDetector(correction="none").fit(reference).test(current).features
    holm = DriftDetector().fit(reference).test(current).features
    np.testing.assert_allclose(raw["p_adjusted"], raw["p_value"])
    assert (holm["p_adjusted"] >= raw["p_value"]).all()


def test_psi_can_decide_instead(reference: pd.DataFrame) -> None:
    detector = DriftDetector(numeric_effect="psi", categorical_effect="psi").fit(reference)
    table = rows_of(detector.test(make_frame(5_000, 1, shift=0.5)))
    assert table.loc["income", "effect_name"] == "psi"
    assert table.loc["income", "effect"] == table.loc["income", "psi"] > 0.2
    assert table.loc["region", "effect_name"] == "psi"
    assert table["drifted"].tolist() == [True, False, False, False, False, False]


def test_identifier_and_datetime_columns_are_skipped() -> None:
    reference = generate_churn(3_000, seed=0)
    reference["signed_up"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(
        np.arange(len(reference)), unit="h"
    )
    detector = DriftDetector().fit(reference)
    current = generate_churn(2_000, seed=1).drop(columns=["customer_id"])

    table = rows_of(detector.test(current))
    assert table.loc["customer_id", "status"] == "skipped"
    assert table.loc["signed_up", "reason"].startswith("skipped: datetime column")
    assert not table["drifted"].any()


def test_churn_drift_is_explained() -> None:
    detector = DriftDetector().fit(generate_churn(20_000, seed=0))
    report = detector.test(generate_churn(5_000, seed=1, drift=1.0))

    table = rows_of(report)
    assert table.loc["monthly_charges", "drifted"]
    assert table.loc["payment_method", "new_categories"] == ["crypto-wallet"]
    assert table.loc["payment_method", "reason"].startswith("new category 'crypto-wallet' in ")
    assert report.dataset_drift


def test_clone_and_params_follow_the_sklearn_contract(detector: DriftDetector) -> None:
    params = {"alpha": 0.01, "columns": ["income", "region"], "bins": 10}
    original = DriftDetector(**params)
    copy = clone(original)
    assert copy.get_params() == original.get_params()
    assert original.get_params()["columns"] is params["columns"], "stored unchanged"
    assert not hasattr(copy, "profile_")
    assert clone(detector).get_params() == detector.get_params()
    assert not hasattr(clone(detector), "profile_")


def test_unfitted_use_raises_not_fitted() -> None:
    with pytest.raises(NotFittedError):
        DriftDetector().test(make_frame(200, 0))


def test_fit_returns_self_with_fitted_attributes(reference: pd.DataFrame) -> None:
    detector = DriftDetector(columns=["income", "region"])
    assert detector.fit(reference, y=np.zeros(len(reference))) is detector
    assert list(detector.feature_names_in_) == ["income", "region"]
    assert detector.n_features_in_ == 2
    report = detector.test(make_frame(500, 1)[["income", "region"]])
    assert report.features["column"].tolist() == ["income", "region"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"alpha": 1.5}, "alpha"),
        ({"correction": "sidak"}, "correction"),
        ({"min_samples": 0}, "min_samples"),
        ({"js_threshold": -1}, "js_threshold"),
        ({"numeric_effect": "js"}, "numeric_effect"),
    ],
)
def test_bad_parameters_are_refused_when_used(
    reference: pd.DataFrame, params: dict, parameter: str
) -> None:
    detector = DriftDetector(**params)
    with pytest.raises(MonitoringError, match=parameter) as caught:
        detector.fit(reference)
    assert caught.value.parameter == parameter


def test_unknown_reference_column_is_refused(reference: pd.DataFrame) -> None:
    with pytest.raises(MonitoringError, match="'salary'"):
        DriftDetector(columns=["income", "salary"]).fit(reference)
