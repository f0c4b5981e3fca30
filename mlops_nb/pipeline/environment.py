"""What a run records about where it ran: git commit, Python, package versions."""

from __future__ import annotations

import platform
import subprocess
import sys
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

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


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (missing packages are left out), read once per process."""
    return dict(_versions(names))


@cache
def _versions(names: tuple[str, ...]) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


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


def environment() -> dict[str, Any]:
    """Python, platform and key package versions of this process."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "executable": sys.executable,
        "packages": package_versions(),
    }
