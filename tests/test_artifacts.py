"""The one skops trust policy of mlops_nb/artifacts.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from mlops_nb.artifacts import TRUSTED_MODULE_PREFIXES, read_model, trusted_types
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
