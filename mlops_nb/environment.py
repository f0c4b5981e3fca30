"""Where code runs: Python, the platform, package versions, the git commit.

Three persisted records are built from these; each keeps the shape it has
always had, because runs and packages written before read back the same:

* a run's ``environment`` in ``run.json`` (:func:`run_environment`): the full
  Python version, implementation, ``platform.platform()``, the executable and
  :data:`KEY_PACKAGES` (packages that are not installed left out);
* a registered version's ``environment`` in ``metadata.json``
  (:func:`model_environment`): ``platform.python_version()``, ``sys.platform``
  and :data:`MODEL_PACKAGES` (a package that is not installed as None);
* a deployment bundle's ``requirements.txt`` pins the packages the version
  recorded, and the others to :func:`installed_version`.

Stdlib only: the pipeline, the registry and serving all sit above it.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "KEY_PACKAGES",
    "MODEL_PACKAGES",
    "git_state",
    "installed_version",
    "model_environment",
    "package_versions",
    "run_environment",
]

KEY_PACKAGES = (
    "mlops-nb",
    "pandas",
    "numpy",
    "scikit-learn",
    "pandera",
    "papermill",
    "nbclient",
    "ipykernel",
    "pyarrow",
    "skops",
    "scipy",
    "matplotlib",
)
"""The packages a run records (and its cache fingerprint hashes)."""
MODEL_PACKAGES = ("scikit-learn", "numpy", "pandas", "scipy", "skops", "pandera", "mlops-nb")
"""The packages a registered model records: what it needs to load and predict."""


def installed_version(package: str) -> str | None:
    """The version of ``package`` installed here, or None."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (missing packages are left out), read once per process."""
    return dict(_versions(names))


@cache
def _versions(names: tuple[str, ...]) -> dict[str, str]:
    found = {name: installed_version(name) for name in names}
    return {name: version for name, version in found.items() if version is not None}


def git_state(root: Path) -> dict[str, Any] | None:
    """The commit and dirtiness of the git work tree at ``root``, if it is one."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
        )
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def run_environment() -> dict[str, Any]:
    """A run's record: Python, platform and :data:`KEY_PACKAGES` of this process."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "packages": package_versions(),
    }


def model_environment() -> dict[str, Any]:
    """A registered model's record: Python, the platform and :data:`MODEL_PACKAGES`."""
    packages = {package: installed_version(package) for package in MODEL_PACKAGES}
    return {"python": platform.python_version(), "platform": sys.platform, "packages": packages}
