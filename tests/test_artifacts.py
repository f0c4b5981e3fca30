"""The one skops trust policy of mlops_nb/artifacts.py."""

from __future__ import annotations

import importlib
import io
import json
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from scipy import stats
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from mlops_nb.artifacts import TRUSTED_MODULE_PREFIXES, _refusal, read_model, trusted_types
from mlops_nb.errors import ArtifactError


def _double(x: np.ndarray) -> np.ndarray:
    return 2 * x


def test_trusted_types_refuses_foreign_types() -> None:
    data = sio.dumps(FunctionTransformer(_double))

    with pytest.raises(ArtifactError, match="_double"):
        trusted_types(data)


def test_a_file_with_foreign_types_is_not_loaded(tmp_path: Path) -> None:
    path = tmp_path / "model.skops"
    path.write_bytes(sio.dumps(FunctionTransformer(_double)))

    with pytest.raises(ArtifactError, match="holds types that are not trusted") as caught:
        read_model(path)
    assert caught.value.path == path
    assert read_model(path, extra_trusted=("tests.",)).func.__name__ == "_double"


def test_trusted_types_are_those_of_the_trusted_modules() -> None:
    data = sio.dumps(StandardScaler().fit(np.arange(6.0).reshape(3, 2)))

    assert all(t.startswith(TRUSTED_MODULE_PREFIXES) for t in trusted_types(data))
    assert isinstance(sio.loads(data, trusted=trusted_types(data)), StandardScaler)


# -- planted types: names a hand-made file gives to reach code that runs ---------------

MARKER = "PWNED"
"""The file a planted type would create if the check or the load built it."""


def _planted(module: str, name: str, marker: Path) -> bytes:
    """A logistic regression whose ``C`` is built by calling ``module.name(["sh", "-c", ...])``.

    As the registry cases of tests/reliability/corpus_cases.py do: the saved
    file's schema.json is rewritten, the rest kept.
    """
    model = LogisticRegression().fit(np.arange(8.0).reshape(4, 2), [0, 1, 0, 1])
    with zipfile.ZipFile(io.BytesIO(sio.dumps(model))) as original:
        members = {member: original.read(member) for member in original.namelist()}
    schema = json.loads(members["schema.json"])
    text = {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode"}
    word = [{**text, "content": json.dumps(w), "is_json": True} for w in ("sh", "-c")]
    command = {**text, "content": json.dumps(f"touch {marker}"), "is_json": True}
    argv = {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode"}
    arguments = {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode"}
    schema["content"]["content"]["C"] = {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": {**arguments, "content": [{**argv, "content": [*word, command]}]},
    }
    members["schema.json"] = json.dumps(schema).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as written:
        for member, data in members.items():
            written.writestr(member, data)
    return out.getvalue()


REEXPORTS = [
    ("numpy.distutils.fcompiler.gnu", "Popen"),  # subprocess.Popen
    ("numpy.f2py.diagnose", "os"),  # a module, not a type
    ("sklearn.callback._progressbar", "Thread"),  # threading.Thread
    ("sklearn.callback._progressbar", "RichProgressMonitor"),  # defined there, on a Thread
    ("sklearn.datasets._openml", "TemporaryDirectory"),  # tempfile.TemporaryDirectory
    ("sklearn.utils._testing", "TempMemmap"),
    ("numpy.ctypeslib._ctypeslib", "_ndptr"),  # a ctypes pointer
]
"""Names under a trusted prefix for classes that run processes or threads or touch files."""

SCRIPTS = [
    ("mlops_nb.__main__", "main"),  # importing it runs the command line, which exits
    ("mlops_nb.serving.worker.__main__", "main"),
    ("mlops_nb.cli", "app"),
    ("numpy.conftest", "Popen"),
    ("scipy.conftest", "Popen"),
    ("numpy.distutils", "Popen"),
    ("scipy.special._precompute.cosine_cdf", "Popen"),
]
"""Names whose module runs code when imported: refused before anything is imported."""


@pytest.mark.parametrize(("module", "name"), REEXPORTS + SCRIPTS)
def test_a_planted_type_is_refused_and_nothing_runs(
    module: str, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / MARKER
    path = tmp_path / "model.skops"
    path.write_bytes(_planted(module, name, marker))
    loaded_before = set(sys.modules)

    with pytest.raises(ArtifactError, match="holds types that are not trusted") as caught:
        read_model(path)
    assert f"{module}.{name} (" in str(caught.value)
    with pytest.raises(ArtifactError, match="holds types that are not trusted"):
        trusted_types(path.read_bytes())
    assert not marker.exists()
    if (module, name) in SCRIPTS:
        assert not {m for m in set(sys.modules) - loaded_before if m.startswith(module)}


@pytest.mark.parametrize(
    ("type_name", "says"),
    [
        ("numpy.distutils.fcompiler.gnu.Popen", "from a testing, script or build module"),
        ("sklearn.callback._progressbar.Thread", "another name of threading.Thread"),
        ("sklearn.callback._progressbar.RichProgressMonitor", "built on threading.Thread"),
        ("mlops_nb.__main__.main", "from a testing, script or build module"),
        ("numpy._core.memmap.memmap", "another name of numpy.memmap"),
        ("numpy.memmap", "opens files"),
    ],
)
def test_why_a_planted_type_is_refused(type_name: str, says: str) -> None:
    assert says in _refusal(type_name, ())


def test_a_module_ending_the_process_on_import_is_a_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def exits(name: str, package: str | None = None) -> object:
        raise SystemExit(2)

    monkeypatch.setattr(importlib, "import_module", exits)

    assert _refusal("sklearn.linear_model._exits.Thing", ()) == (
        "its module sklearn.linear_model._exits does not import here (SystemExit)"
    )


def test_a_missing_module_is_told_apart_from_a_refusal() -> None:
    why = _refusal("sklearn.linear_model._future_logistic.LogisticRegression", ())

    assert why.startswith("missing: ") and "sklearn.linear_model._future_logistic" in why


def _every_kind_of_model() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=60),
            "b": np.where(rng.random(60) < 0.1, np.nan, rng.normal(size=60)),
            "c": rng.choice(["x", "y", "z"], 60),
        }
    )
    labels, values = (frame["a"] > 0).astype(int), frame["a"] * 2
    columns = ColumnTransformer(
        [
            ("num", Pipeline([("fill", SimpleImputer()), ("scale", StandardScaler())]), ["a", "b"]),
            ("cat", OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=2), ["c"]),
        ]
    )
    fitted: dict[str, Any] = {
        "logistic": (LogisticRegression(), labels),
        "forest": (RandomForestClassifier(n_estimators=2, random_state=0), labels),
        "forest_regressor": (RandomForestRegressor(n_estimators=2, random_state=0), values),
        "boosting": (HistGradientBoostingClassifier(max_iter=3), labels),
        "boosting_regressor": (HistGradientBoostingRegressor(max_iter=3), values),
        "ridge": (Ridge(), values),
    }
    models: dict[str, Any] = {
        name: Pipeline([("columns", clone(columns)), ("model", model)]).fit(frame, target)
        for name, (model, target) in fitted.items()
    }
    models["distributions"] = {"norm": stats.norm(0, 1), "uniform": stats.uniform, "rng": rng}
    models["dtypes"] = [np.dtype("float32"), np.float64(1.5), np.arange(3)]
    return models


def test_every_kind_of_model_mlops_nb_trains_is_trusted() -> None:
    for name, model in _every_kind_of_model().items():
        data = sio.dumps(model)
        trusted = trusted_types(data)

        assert all(t.startswith(TRUSTED_MODULE_PREFIXES) for t in trusted), name
        assert type(sio.loads(data, trusted=trusted)) is type(model), name
