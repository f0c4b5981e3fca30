"""Files against the SHA-256 recorded when they were written (stage artifacts, packages)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from mlops_nb.artifacts import sha256

__all__ = ["UNREADABLE", "Problem", "file_problems"]

Problem = tuple[str, str, Path]
"""``(kind, what is wrong, where)``."""

UNREADABLE = "unreadable-file"
"""The kind of a file that cannot be read: its fix is its permissions (see ``permissions_fix``)."""


def file_problems(path: Path, expected: str | None) -> Iterator[Problem]:
    """A missing or unreadable file, or one whose SHA-256 is not ``expected`` (None: unknown)."""
    try:
        if not path.is_file():
            yield "missing-file", f"{path.name} is gone", path
            return
        found = sha256(path)
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        yield UNREADABLE, f"{path.name} cannot be read ({reason}), so it was not checked", path
        return
    if expected is not None and found != expected:
        yield (
            "sha256-mismatch",
            f"{path.name} was changed after it was written (sha256 {found[:12]}…, "
            f"recorded {expected[:12]}…)",
            path,
        )
