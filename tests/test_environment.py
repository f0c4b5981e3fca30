"""The environment records of mlops_nb/environment.py keep their three shapes."""

from __future__ import annotations

import platform
import sys

from mlops_nb.environment import (
    KEY_PACKAGES,
    MODEL_PACKAGES,
    installed_version,
    model_environment,
    package_versions,
    run_environment,
)


def test_a_runs_environment_has_its_shape():
    env = run_environment()
    assert set(env) == {"python", "implementation", "platform", "executable", "packages"}
    assert env["python"] == sys.version.split()[0] and env["executable"] == sys.executable
    assert env["platform"] == platform.platform()
    assert set(env["packages"]) <= set(KEY_PACKAGES) and env["packages"]["pandas"]
    assert all(isinstance(version, str) for version in env["packages"].values())


def test_a_models_environment_has_its_shape():
    env = model_environment()
    assert env["python"] == platform.python_version() and env["platform"] == sys.platform
    assert list(env["packages"]) == list(MODEL_PACKAGES)
    assert env["packages"]["scikit-learn"] == installed_version("scikit-learn")


def test_a_missing_package_is_left_out_or_none():
    assert installed_version("no-such-package-mlops-nb") is None
    assert package_versions(("numpy", "no-such-package-mlops-nb")) == {
        "numpy": installed_version("numpy")
    }
