"""The wheels a bundle carries: mlops-nb's own, and on request every wheel the image installs.

mlops-nb is rarely on the package index a team's image builds from, so every
bundle carries its wheel in ``wheels/`` and the Dockerfile installs with
``--find-links wheels/``. The wheel is made one of two ways:

* **from the source tree**, when the running ``mlops_nb`` package sits in one
  (an editable install, ``pip install -e .``, or a checkout on ``sys.path``):
  the RECORD of an editable install lists only its import hook, not the code.
  The files the wheel is made of (``pyproject.toml``, its readme, the package,
  the data files it names) are copied to a temporary folder and built there by
  ``pip wheel --no-deps`` (or ``uv build --wheel`` where pip is absent) with the
  project's own build backend, so the work tree gets no ``build/`` folder;
* **by re-packing the installed distribution** otherwise: the files its RECORD
  lists (package, ``.dist-info``, data files; not byte code, and not the console
  script, which the installer writes again from ``entry_points.txt``), zipped
  with a fresh RECORD. No build backend, no index, no network: the wheel holds
  exactly what was installed and tested here.

Either way the wheel is cached under ``$MLOPS_NB_CACHE`` (default
``$XDG_CACHE_HOME/mlops-nb``, else ``~/.cache/mlops-nb``) in ``wheels/VERSION-DIGEST/``,
DIGEST being the SHA-256 of the source files or of the installed RECORD, so
bundles of an unchanged mlops-nb copy it instead of building it again.

``wheels="all"`` also downloads every other wheel ``requirements.txt`` needs,
for the image's Python and Linux on this machine's architecture
(:func:`download_wheels`), so that ``docker build`` installs with ``--no-index``
and needs no network.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

from mlops_nb.errors import ServingError, cap_lines

__all__ = [
    "CACHE_ENV",
    "GLIBC_MAX",
    "cache_dir",
    "download_wheels",
    "mlops_nb_wheel",
    "source_root",
    "wheel_platforms",
]

CACHE_ENV = "MLOPS_NB_CACHE"
DISTRIBUTION = "mlops-nb"
GLIBC_MAX = 36
"""The newest glibc (2.36: Debian 12, the oldest ``python:*-slim`` still built) a wheel may need."""
BUILD_TIMEOUT_S = 600
SKIPPED_DIST_INFO = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
"""Written by the installer, not part of a wheel (``uv_*.json`` too)."""


def cache_dir() -> Path:
    """The cache: ``$MLOPS_NB_CACHE``, ``$XDG_CACHE_HOME/mlops-nb`` or ``~/.cache/mlops-nb``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "mlops-nb"


def source_root() -> Path | None:
    """The source tree the running ``mlops_nb`` package is in, or None for an installed copy."""
    root = Path(__file__).resolve().parents[3]
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        name = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["name"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return root if name == DISTRIBUTION else None


def _source_files(root: Path) -> list[Path]:
    """What the wheel is built from: pyproject, readme, the package and the named data files."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    readme = project["project"].get("readme")
    found = {root / "pyproject.toml"}
    if isinstance(readme, str):
        found.add(root / readme)
    found.update(
        path
        for path in (root / "mlops_nb").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )
    data_files = project.get("tool", {}).get("setuptools", {}).get("data-files", {})
    for patterns in data_files.values():
        for pattern in patterns:
            found.update(path for path in root.glob(pattern) if path.is_file())
    return sorted(path for path in found if path.is_file())


def _digest(parts: list[tuple[str, bytes]]) -> str:
    hasher = hashlib.sha256()
    for name, content in parts:
        hasher.update(name.encode("utf-8") + b"\0" + hashlib.sha256(content).digest())
    return hasher.hexdigest()[:16]


def _run(command: list[str], what: str, fix: str, cwd: Path | None = None) -> None:
    try:
        done = subprocess.run(
            command,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServingError(f"{what} failed ({exc}); {fix}", command=command) from exc
    if done.returncode != 0:
        output = cap_lines("\n".join((done.stdout + done.stderr).strip().splitlines()[-15:]))
        shown = " ".join(command)
        raise ServingError(
            f"{what} failed (`{shown}` exited with {done.returncode}):\n{output}\n{fix}",
            command=command,
        )


def _has_pip() -> bool:
    try:
        metadata.version("pip")
    except metadata.PackageNotFoundError:
        return False
    return True


def _build_from_source(root: Path, files: list[Path], out: Path) -> Path:
    """Copy ``files`` to a temporary tree and build the wheel there into ``out``."""
    fix = (
        "build the wheel yourself (`pip wheel --no-deps -w dist .` in the mlops-nb folder) "
        "and pass it as wheel=..., or wheels=None to carry none."
    )
    with tempfile.TemporaryDirectory(prefix="mlops-nb-source-") as tmp:
        tree = Path(tmp) / "src"
        for path in files:
            copy = tree / path.relative_to(root)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)
        if _has_pip():
            command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), "."]
        elif shutil.which("uv"):
            command = ["uv", "build", "--wheel", "--out-dir", str(out), "."]
        else:
            raise ServingError(
                f"building mlops-nb's wheel from {root} needs pip or uv, and this environment "
                f"has neither: `python -m ensurepip`, or {fix}"
            )
        _run(command, f"building mlops-nb's wheel from {root}", fix, cwd=tree)
    built = sorted(out.glob("mlops_nb-*.whl"))
    if len(built) != 1:
        raise ServingError(f"building mlops-nb's wheel left {len(built)} wheels in {out}; {fix}")
    return built[0]


def _record_hash(content: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
    return f"sha256={digest.decode('ascii')}"


def _installed_files(dist: metadata.Distribution) -> list[tuple[str, Path]]:
    """``(name in the wheel, file)`` for each file of the installed ``dist`` a wheel holds."""
    version = dist.version
    data_root = Path(sysconfig.get_path("data")).resolve()
    scripts = Path(sysconfig.get_path("scripts")).resolve()
    chosen = []
    for entry in dist.files or []:
        if entry.suffix == ".pyc" or "__pycache__" in entry.parts:
            continue
        name = entry.as_posix()
        if ".dist-info/" in name and (
            entry.name in SKIPPED_DIST_INFO or entry.name.startswith("uv_")
        ):
            continue
        path = Path(str(dist.locate_file(entry))).resolve()
        if not name.startswith("../"):
            chosen.append((name, path))
        elif path.is_relative_to(scripts):
            continue  # the console script: installers write it again from entry_points.txt
        elif path.is_relative_to(data_root):
            data = path.relative_to(data_root).as_posix()
            chosen.append((f"mlops_nb-{version}.data/data/{data}", path))
    return chosen


def _repack_installed(dist: metadata.Distribution, out: Path) -> Path:
    """Zip the installed files of ``dist`` into a wheel in ``out``, with a new RECORD."""
    files = _installed_files(dist)
    info = f"mlops_nb-{dist.version}.dist-info"
    tags = [
        line.split(":", 1)[1].strip()
        for line in (dist.read_text("WHEEL") or "").splitlines()
        if line.startswith("Tag:")
    ]
    wheel = out / f"mlops_nb-{dist.version}-{tags[0] if tags else 'py3-none-any'}.whl"
    rows: list[list[str]] = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in files:
            try:
                content = path.read_bytes()
            except OSError as exc:
                raise ServingError(
                    f"{path}, a file of the installed mlops-nb, cannot be read ({exc}); "
                    f"reinstall mlops-nb, or pass a wheel as wheel=...",
                    path=path,
                ) from exc
            archive.writestr(name, content)
            rows.append([name, _record_hash(content), str(len(content))])
        rows.append([f"{info}/RECORD", "", ""])
        record = io.StringIO()
        csv.writer(record, lineterminator="\n").writerows(rows)
        archive.writestr(f"{info}/RECORD", record.getvalue())
    return wheel


def _installed() -> metadata.Distribution:
    try:
        return metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError as exc:
        raise ServingError(
            "mlops-nb is neither installed here nor run from its source tree, so its wheel "
            "cannot be made; pass one as wheel=..., or wheels=None to carry none."
        ) from exc


def mlops_nb_wheel(version: str) -> Path:
    """mlops-nb's wheel, from the cache or made now (from source, or re-packed) and cached.

    Raises:
        ServingError: The build failed (its output is in the message) or there is
            neither a source tree nor an installed distribution.
    """
    root = source_root()
    if root is not None:
        files = _source_files(root)
        digest = _digest([(p.relative_to(root).as_posix(), p.read_bytes()) for p in files])
    else:
        dist = _installed()
        version = dist.version
        digest = _digest([("RECORD", (dist.read_text("RECORD") or "").encode("utf-8"))])
    cached = cache_dir() / "wheels" / f"{version}-{digest}"
    found = sorted(cached.glob("mlops_nb-*.whl")) if cached.is_dir() else []
    if found:
        return found[0]
    cached.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{cached.name}.", dir=cached.parent))
    try:
        if root is not None:
            _build_from_source(root, files, staging)
        else:
            _repack_installed(dist, staging)
        try:
            os.replace(staging, cached)
        except OSError:  # another bundle cached it meanwhile: use theirs
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(cached.glob("mlops_nb-*.whl"))[0]


def wheel_platforms(machine: str | None = None) -> list[str]:
    """The ``pip --platform`` tags of a ``python:*-slim`` image on this machine's architecture.

    pip matches ``--platform`` exactly, so every manylinux glibc level up to
    :data:`GLIBC_MAX` is listed, with the legacy ``manylinux1/2010/2014`` names.
    """
    arch = (machine or platform.machine()).lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch)
    legacy = ["manylinux1", "manylinux2010", "manylinux2014"] if arch == "x86_64" else []
    if arch == "aarch64":
        legacy = ["manylinux2014"]
    levels = [f"manylinux_2_{minor}" for minor in range(GLIBC_MAX, 4, -1)]
    return [f"{tag}_{arch}" for tag in [*levels, *legacy]] + [f"linux_{arch}"]


def download_wheels(requirements: Path, wheels: Path, python: str) -> None:
    """Download every wheel ``requirements`` needs, for CPython ``python`` on Linux, to ``wheels``.

    mlops-nb's own wheel is found in ``wheels`` already (``--find-links``).

    Raises:
        ServingError: pip is missing, or a requirement has no wheel for the image
            (pip's message names it).
    """
    if not _has_pip():
        raise ServingError(
            "wheels='all' downloads the wheels with pip, which is not installed here: "
            "`python -m ensurepip`, or build the bundle with the default wheels='mlops-nb'."
        )
    command = [sys.executable, "-m", "pip", "download", "--only-binary=:all:"]
    command += ["--python-version", python, "--implementation", "cp"]
    for tag in wheel_platforms():
        command += ["--platform", tag]
    command += ["--find-links", str(wheels), "-d", str(wheels), "-r", str(requirements)]
    _run(
        command,
        f"downloading the wheels of {requirements.name} for Python {python}",
        "a package with no Linux wheel for this Python cannot be installed offline: build "
        "the bundle with the default wheels='mlops-nb' (docker build then uses the index).",
    )
