"""The value converters of mlops_nb/jsonvalues.py, one home for every JSON/YAML output."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from mlops_nb.jsonvalues import finite_list, json_safe, jsonable, plain, scalar


def test_scalar_unwraps_numpy_scalars_only():
    assert scalar(np.int64(3)) == 3 and type(scalar(np.int64(3))) is int
    assert type(scalar(np.float32(0.5))) is float and scalar(np.bool_(True)) is True
    assert scalar(np.array(2.5)) == 2.5
    array = np.array([1, 2])
    assert scalar(array) is array and scalar("text") == "text" and scalar(None) is None


def test_jsonable_is_the_dumps_hook():
    value = {
        "n": np.int64(3),
        "x": np.float64(0.25),
        "flag": np.bool_(False),
        "path": Path("a/b"),
        "tags": {"only"},
        "array": np.array([[1, 2], [3, 4]]),
        "other": complex(1, 2),
    }
    assert json.loads(json.dumps(value, default=jsonable)) == {
        "n": 3,
        "x": 0.25,
        "flag": False,
        "path": "a/b",
        "tags": ["only"],
        "array": [[1, 2], [3, 4]],
        "other": "(1+2j)",
    }
    assert jsonable((1, 2)) == [1, 2] and jsonable(frozenset()) == []
    assert math.isnan(jsonable(math.nan))  # JSON's own values are left as they are


def test_json_safe_drops_non_finite_numbers_everywhere():
    value = {1: [np.float64("nan"), np.inf, (np.int32(2), np.bool_(True))], "a": np.arange(2.0)}
    assert json_safe(value) == {"1": [None, None, [2, True]], "a": [0.0, 1.0]}
    assert json.dumps(json_safe({"x": -math.inf}), allow_nan=False) == '{"x": null}'
    assert json_safe("text") == "text" and json_safe(None) is None


def test_plain_keeps_nan_and_sorts_sets_for_a_stable_text():
    value = {"allowed": {"b", "a", "c"}, "range": (np.int64(0), np.float64(math.nan))}
    out = plain(value)
    assert out["allowed"] == ["a", "b", "c"] and out["range"][0] == 0
    assert math.isnan(out["range"][1])
    assert yaml.safe_load(yaml.safe_dump(plain({"k": np.array([1, 2])}))) == {"k": [1, 2]}


def test_finite_list_gives_none_for_nan_and_infinities():
    assert finite_list(np.array([1.5, np.nan, -np.inf])) == [1.5, None, None]
    assert finite_list(np.array([[0.5, np.nan]])) == [[0.5, None]]
    assert finite_list(np.array([1, 2])) == [1, 2]
    assert finite_list(np.array(["a", "b"], dtype=object)) == ["a", "b"]


def test_the_module_imports_no_numpy():
    code = "import sys, mlops_nb.jsonvalues; print('numpy' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
