"""The compiled pipeline gives what scikit-learn gives, or is not used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, PolynomialFeatures, StandardScaler

from mlops_nb.registry import Registry
from mlops_nb.serving.compiled import compile_model, probe_frame, steps
from mlops_nb.serving.compiled.model import reference_outputs
from mlops_nb.serving.scoring import Scorer
from tests.serving.conftest import valid_inputs


def assert_same(model, compiled, frame, probabilistic=True):
    predictions, probs = compiled.score(frame)
    expected, expected_probs = reference_outputs(model, frame, probabilistic)
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(predictions, expected, rtol=1e-9, atol=1e-12)
    else:
        np.testing.assert_array_equal(predictions, expected)
    if expected_probs is None:
        assert probs is None
    else:
        np.testing.assert_allclose(probs, expected_probs, rtol=1e-9, atol=1e-12)


@pytest.fixture(scope="module")
def scorer(serving_project):
    with Registry.from_settings(serving_project.settings) as registry:
        return Scorer(registry.load("churn@production"))


def test_the_churn_pipeline_compiles_and_agrees_on_new_rows(scorer):
    assert scorer.compiled is not None and scorer.compiled.linear
    frame = valid_inputs(3000, seed=23)  # other rows than the probes, nulls included
    assert frame.isna().any().any()
    assert_same(scorer.loaded.model, scorer.compiled, frame)


def test_json_records_score_as_the_frame_does(scorer, serving_project):
    checked = scorer.checker.check_records(serving_project.records)
    assert checked.ok
    fast = scorer.score_checked(checked)
    frame = scorer.checker.build_frame(checked)
    np.testing.assert_array_equal(fast.predictions, scorer.loaded.model.predict(frame))
    np.testing.assert_allclose(
        fast.probabilities, scorer.loaded.model.predict_proba(frame), rtol=1e-9, atol=1e-12
    )


def test_unseen_and_rare_categories_score_as_scikit_learn_scores_them(scorer):
    frame = valid_inputs(50, seed=5)
    frame["region"] = ["nowhere-seen", *frame["region"][1:]]  # the contract would refuse it
    assert_same(scorer.loaded.model, scorer.compiled, frame)


def test_scikit_learn_scores_when_compiling_is_off(serving_project):
    with Registry.from_settings(serving_project.settings) as registry:
        plain = Scorer(registry.load("churn@production"), compile=False)
    assert plain.compiled is None
    scores = plain.score_checked(plain.checker.check_records(serving_project.records[:5]))
    expected = serving_project.model.predict(serving_project.frame.iloc[:5])
    np.testing.assert_array_equal(scores.predictions, expected)


def test_the_probes_pass_the_signature_and_vary_every_column(scorer):
    probes = probe_frame(scorer.checker)
    assert len(probes) > 20
    valid, errors = scorer.checker.check_frame(probes)
    assert not errors and len(valid) == len(probes)
    assert set(probes["contract"].dropna()) == {"month-to-month", "one-year", "two-year"}
    assert probes["age"].nunique() > 3


def numbers(rows=300, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"a": rng.normal(size=rows), "b": rng.integers(0, 50, rows), "c": rng.normal(size=rows)}
    )
    frame.loc[::7, "a"] = np.nan
    return frame


def test_multiclass_logistic_regression_and_ridge_agree():
    frame = numbers()
    labels = np.array(["x", "y", "z"])[(frame["b"] % 3).to_numpy()]
    steps = [("impute", SimpleImputer()), ("scale", StandardScaler())]
    classifier = Pipeline([*steps, ("model", LogisticRegression())]).fit(frame, labels)
    regressor = Pipeline([*steps, ("model", Ridge())]).fit(frame, frame["c"] * 2)
    for model, probabilistic in ((classifier, True), (regressor, False)):
        compiled = compile_model(model, frame.iloc[:20], probabilistic)
        assert compiled is not None and compiled.linear
        assert_same(model, compiled, numbers(seed=1), probabilistic)


def test_other_final_estimators_run_on_the_compiled_features():
    from sklearn.ensemble import RandomForestClassifier

    frame = numbers()
    model = Pipeline(
        [("impute", SimpleImputer()), ("model", RandomForestClassifier(n_estimators=5))]
    ).fit(frame, frame["b"] > 25)
    compiled = compile_model(model, frame.iloc[:20], True)
    assert compiled is not None and not compiled.linear
    assert_same(model, compiled, numbers(seed=2))


def test_one_hot_with_infrequent_categories_and_unknown_values_agrees():
    frame = pd.DataFrame({"k": ["a"] * 50 + ["b"] * 30 + ["c"] * 2 + ["d"] * 1, "n": range(83)})
    encode = OneHotEncoder(
        handle_unknown="infrequent_if_exist", min_frequency=3, sparse_output=False
    )
    transform = ColumnTransformer([("k", encode, ["k"]), ("n", StandardScaler(), ["n"])])
    model = Pipeline([("t", transform), ("model", LogisticRegression())])
    model.fit(frame, frame["n"] % 2)
    compiled = compile_model(model, frame, True)
    assert compiled is not None
    assert_same(model, compiled, pd.DataFrame({"k": ["a", "c", "d", "new", "b"], "n": range(5)}))


class ShiftedScaler(StandardScaler):
    """A subclass may compute something else: it is never compiled."""

    def transform(self, X, copy=None):
        return super().transform(X, copy=copy) + 1


@pytest.mark.parametrize("step", [PolynomialFeatures(), ShiftedScaler()])
def test_unsupported_steps_leave_the_model_to_scikit_learn(step):
    frame = numbers().fillna(0)
    model = Pipeline([("step", step), ("model", LogisticRegression(max_iter=5000))])
    model.fit(frame, frame["b"] > 25)
    assert compile_model(model, frame, True) is None


def test_a_compiled_model_that_disagrees_on_the_probes_is_not_used(monkeypatch):
    frame = numbers().fillna(0)
    model = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())])
    model.fit(frame, frame["b"] > 25)
    assert compile_model(model, frame, True) is not None
    wrong = steps.Step("float", lambda values: values + 1)
    monkeypatch.setitem(steps.COMPILERS, StandardScaler, lambda _: wrong)
    assert compile_model(model, frame, True) is None
    assert compile_model(model, frame.iloc[:0], True) is None  # nothing to compare: not used
