"""Temporary files a killed writer leaves behind, and removing them.

Every writer of the package writes to a hidden temporary name beside the
target and renames it into place, so a crash leaves, at worst, one of these
next to an intact file (never a half-written one under the real name). Only
these exact names, where their writer creates them, are leftovers; anything
else (a person's ``.env.template``, ``.train.notebook``...) is never touched:

=====================================  ===========================  ==========================
name                                   where                        written by
=====================================  ===========================  ==========================
``.run.json.xxxxxxxx``                 a run folder                 run.json's rewrite
``index.tmp``                          a run folder                 a run report's rewrite
``.NN_stage.restoring`` (a folder)     a run folder                 a cached stage linked in
``.NAME.xxxxxxxx``, ``….tmp``          a stage folder of the run    an artifact or stage.json
``.NAME.fetch-xxxxxxxx``               a run or stage folder        a file fetched from the
                                                                    artifact location
``.tmp-xxxxxxxx.parquet``              the snapshots folder         a data snapshot
``.staging-xxxxxxxx`` (a folder)       the registry folder          a model being registered
=====================================  ===========================  ==========================

In a stage folder ``NAME`` must be a file the stage writes: ``stage.json``, an
artifact its ``stage.json`` lists, a file (with an extension) beside the
temporary one, or an artifact's name with one of the extensions artifacts are
saved under (``.parquet``, ``.json``, ``.skops``, ``.png``, the text ones).
``xxxxxxxx`` is :func:`tempfile.mkstemp`'s eight characters (``[a-z0-9_]``), or
eight hexadecimal digits for a fetch.

``.orphan-*`` folders of the registry are no leftovers: they are packages set
aside (never deleted) and stay where they are.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mlops_nb.artifacts import TEXT_SUFFIXES
from mlops_nb.pipeline.archive import INDEX, RUN_FILE
from mlops_nb.stage import MANIFEST

__all__ = ["registry_leftovers", "remove", "run_leftovers", "snapshot_leftovers"]

_MKSTEMP = r"[a-z0-9_]{8}"  # tempfile's random part: 8 of [a-z0-9_]
_FETCH = re.compile(r"^\.[^.].*\.fetch-[0-9a-f]{8}$")
_SNAPSHOT = re.compile(rf"^\.tmp-{_MKSTEMP}\.parquet$")
_STAGING = re.compile(rf"^\.staging-{_MKSTEMP}$")
_INDEX_TMP = Path(INDEX).with_suffix(".tmp").name


# an artifact's file name (mlops_nb.stage's rule) with an extension mlops_nb.artifacts gives:
# its temporary name before the first write of it finished (no stage.json lists it yet)
_SUFFIXES = sorted({".json", ".parquet", ".png", ".skops", *TEXT_SUFFIXES})
_ARTIFACT = rf"[A-Za-z0-9][A-Za-z0-9_.-]*(?:{'|'.join(re.escape(s) for s in _SUFFIXES)})"


def _written(names: set[str], *, artifacts: bool = False) -> re.Pattern[str]:
    """``.NAME.xxxxxxxx`` (or ``….tmp``) of a mkstemp-based writer, for one of ``names``."""
    alternatives = [re.escape(name) for name in sorted(names)] + ([_ARTIFACT] if artifacts else [])
    return re.compile(rf"^\.(?:{'|'.join(alternatives)})\.{_MKSTEMP}(?:\.tmp)?$")


def run_leftovers(folder: Path, record: Mapping[str, Any]) -> Iterator[Path]:
    """The leftovers in the run folder ``folder`` (and its stages' folders), sorted by path."""
    dirs = {str(s["dir"]) for s in record.get("stages", []) if isinstance(s, dict) and s.get("dir")}
    restoring = {f".{name}.restoring" for name in dirs}
    run_file = _written({RUN_FILE})
    for entry in _entries(folder):
        name = entry.name
        if entry.is_symlink():
            continue
        if entry.is_dir():
            if name in restoring:
                yield entry
            elif name in dirs:
                yield from _stage_leftovers(entry)
        elif entry.is_file() and (name == _INDEX_TMP or run_file.match(name) or _FETCH.match(name)):
            yield entry


def _stage_leftovers(folder: Path) -> Iterator[Path]:
    entries = _entries(folder)
    names = {MANIFEST, *_manifest_files(folder)}
    names |= {e.name for e in entries if "." in e.name.strip(".") and not e.name.startswith(".")}
    written = _written(names, artifacts=True)
    for entry in entries:
        temporary = written.match(entry.name) or _FETCH.match(entry.name)
        if temporary and entry.is_file() and not entry.is_symlink():
            yield entry


def _manifest_files(folder: Path) -> list[str]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return []
    artifacts = manifest.get("artifacts") if isinstance(manifest, dict) else None
    if not isinstance(artifacts, dict):
        return []
    return [str(a["file"]) for a in artifacts.values() if isinstance(a, dict) and a.get("file")]


def snapshot_leftovers(folder: Path) -> Iterator[Path]:
    """Temporary files of snapshots whose write was cut short."""
    for entry in _entries(folder):
        if _SNAPSHOT.match(entry.name) and entry.is_file() and not entry.is_symlink():
            yield entry


def registry_leftovers(folder: Path) -> Iterator[Path]:
    """Staging folders of registrations that never finished."""
    for entry in _entries(folder):
        if _STAGING.match(entry.name) and entry.is_dir() and not entry.is_symlink():
            yield entry


def _entries(folder: Path) -> list[Path]:
    """The entries of ``folder``, sorted (none when it is no folder).

    Raises:
        OSError: the folder cannot be read (the doctor reports it).
    """
    return sorted(folder.iterdir()) if folder.is_dir() else []


def remove(path: Path) -> None:
    """Remove a leftover file or folder."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
