"""Temporary files a killed writer leaves behind, and removing them.

Every writer of the package writes to a hidden temporary name beside the
target and renames it into place, so a crash leaves, at worst, one of these
next to an intact file (never a half-written one under the real name):

==============================  ==============================================================
name                            written by
==============================  ==============================================================
``.NAME.xxxxxxxx``              :func:`mlops_nb.artifacts.write_json` and artifact writes
``.NAME.xxxxxxxx.tmp``          contracts, batch outputs
``.NAME.restoring``             a cached stage being linked into a run (a folder)
``.NAME.tmp-xxxxxxxx``          a file being published to the artifact location
``.NAME.fetch-xxxxxxxx``        a file being fetched from it
``index.tmp``                   a run report being rewritten
``.tmp-xxxxxxxx.parquet``       a data snapshot being written
``.staging-xxxxxxxx``           a model package being registered (a folder)
==============================  ==============================================================

``.orphan-*`` folders of the registry are no leftovers: they are packages set
aside (never deleted) and stay where they are.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

__all__ = ["is_leftover", "leftovers", "remove"]

_RANDOM = r"[a-z0-9_]{8}"
_PATTERNS = (
    re.compile(rf"^\..+\.{_RANDOM}(\.tmp)?$"),
    re.compile(r"^\..+\.restoring$"),
    re.compile(r"^\..+\.(tmp|fetch)-[0-9a-f]{8}$"),
    re.compile(rf"^\.tmp-{_RANDOM}\.parquet$"),
    re.compile(rf"^\.staging-{_RANDOM}$"),
    re.compile(r"^index\.tmp$"),
)


def is_leftover(name: str) -> bool:
    """Whether a file or folder name is one of the temporary names above."""
    return not name.startswith(".orphan-") and any(p.match(name) for p in _PATTERNS)


def leftovers(folder: Path, *, deep: bool = True) -> Iterator[Path]:
    """The leftovers in ``folder`` (and, with ``deep``, its subfolders), sorted by path."""
    if not folder.is_dir():
        return
    for entry in sorted(folder.iterdir()):
        if is_leftover(entry.name):
            yield entry
        elif deep and entry.is_dir() and not entry.is_symlink():
            yield from leftovers(entry)


def remove(path: Path) -> None:
    """Remove a leftover file or folder."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
