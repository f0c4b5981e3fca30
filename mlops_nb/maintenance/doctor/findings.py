"""What ``mlops-nb doctor`` reports: a :class:`Finding` per problem, in a :class:`Report`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["CHECKS", "Finding", "Report", "permissions_fix"]

CHECKS = ("store", "registry", "runs", "cache", "snapshots", "kernels")
"""The parts of a project the doctor checks, in the order it reports them."""


def permissions_fix(path: object) -> str:
    """The fix of a file or folder the doctor cannot read."""
    return (
        f"check its permissions and owner (ls -ld {path}): the user running mlops-nb must "
        f"be able to read it (and list it, for a folder); then run the doctor again"
    )


@dataclass
class Finding:
    """One problem: what is wrong, where, and how to fix it.

    Attributes:
        check: The part of the project it belongs to (one of :data:`CHECKS`).
        kind: A short, stable name of the problem (``sha256-mismatch``, ``stale-run``...).
        where: The file, folder, row or run concerned.
        message: What is wrong, in a sentence.
        fix: What fixes it: what ``--repair`` does, or what a person must do.
        repairable: Whether ``--repair`` may fix it without losing anything.
        repaired: Whether this doctor run fixed it.
    """

    check: str
    kind: str
    where: str
    message: str
    fix: str
    repairable: bool = False
    repaired: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    """Everything one doctor run looked at and found.

    Attributes:
        store: The store's display URL.
        repair: Whether repairs were asked for.
        checked: Check → what was looked at (``{"registry": 3}``: three versions).
        findings: The problems, in the order found.
        notes: What was skipped and why (not problems: they do not change the exit code).
    """

    store: str
    repair: bool
    checked: dict[str, dict[str, int]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        check: str,
        kind: str,
        where: object,
        message: str,
        fix: str,
        repair: Callable[[], None] | None = None,
    ) -> Finding:
        """Record a problem; with ``--repair``, fix it now through ``repair`` (None: a person must).

        A repair that fails leaves the finding unrepaired, its error added to the message.
        """
        finding = Finding(check, kind, str(where), message, fix, repairable=repair is not None)
        self.findings.append(finding)
        if self.repair and repair is not None:
            try:
                repair()
            except Exception as exc:  # a repair must never stop the other checks
                finding.message += f" (the repair failed: {type(exc).__name__}: {exc})"
            else:
                finding.repaired = True
        return finding

    def unreadable(self, check: str, exc: OSError, what: object, skipped: str) -> Finding:
        """Record that ``what`` could not be read (``exc``) and that ``skipped`` was not checked."""
        where = exc.filename if exc.filename is not None else what
        reason = exc.strerror or str(exc) or type(exc).__name__
        return self.add(
            check,
            "unreadable",
            where,
            f"{where} cannot be read ({type(exc).__name__}: {reason}): {skipped} not checked",
            permissions_fix(where),
        )

    def count(self, check: str, what: str, number: int = 1) -> None:
        """Count ``number`` more ``what`` looked at by ``check``."""
        counts = self.checked.setdefault(check, {})
        counts[what] = counts.get(what, 0) + number

    @property
    def remaining(self) -> list[Finding]:
        """The problems still there (not repaired)."""
        return [finding for finding in self.findings if not finding.repaired]

    @property
    def exit_code(self) -> int:
        """0 when nothing remains to fix, 1 otherwise."""
        return 1 if self.remaining else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "repair": self.repair,
            "checked": self.checked,
            "findings": [finding.to_dict() for finding in self.findings],
            "notes": list(self.notes),
            "repaired": sum(finding.repaired for finding in self.findings),
            "remaining": len(self.remaining),
            "ok": not self.remaining,
        }
