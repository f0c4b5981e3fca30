"""The ingest stage's guard against personal data (see :mod:`mlops_nb.privacy`).

:class:`PersonalData` is handed to :func:`~mlops_nb.data.snapshot_source` as its
``protect`` step: it finds the columns holding personal data (those the
contract marks ``pii: true`` and those :func:`~mlops_nb.privacy.detect_pii`
flags) and pseudonymises them before the snapshot is written, so the snapshot,
the profile and every later artifact of the run hold tokens, never raw values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from mlops_nb.errors import DataSourceError
from mlops_nb.privacy import detect_pii, pseudonymize

__all__ = ["PII_MODES", "PersonalData"]

PII_MODES = ("mask", "keep")


@dataclass
class PersonalData:
    """Finds and pseudonymises personal-data columns; remembers what it did.

    Args:
        key: The pseudonymisation key (:func:`~mlops_nb.privacy.pii_key`).
        marked: Columns the contract marks ``pii: true``.
        mode: ``mask`` (pseudonymise) or ``keep`` (flag only: the raw values
            stay, and the findings say so).
        target: The label column, never treated as personal data.
    """

    key: bytes
    marked: Iterable[str] = ()
    mode: str = "mask"
    target: str | None = None
    findings: pd.DataFrame = field(init=False)

    def __post_init__(self) -> None:
        if self.mode not in PII_MODES:
            raise DataSourceError(
                f"pii={self.mode!r} is not one of {', '.join(PII_MODES)}; use -p pii=mask "
                f"(pseudonymise personal data at ingest) or -p pii=keep."
            )
        self.marked = tuple(self.marked)
        self.findings = pd.DataFrame(columns=["column", "kind", "share", "source", "action"])

    @property
    def columns(self) -> list[str]:
        """The personal-data columns found by the last call."""
        return [str(c) for c in self.findings["column"]]

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with its personal-data columns pseudonymised (mode ``mask``)."""
        detected = detect_pii(frame.drop(columns=[self.target], errors="ignore"))
        rows = {
            row.column: {
                "column": row.column,
                "kind": row.kind,
                "share": row.share,
                "source": "detected",
            }
            for row in detected.itertuples()
        }
        for column in self.marked:
            if column == self.target or column not in frame.columns:
                continue
            known = rows.get(column)
            rows[column] = {
                "column": column,
                "kind": known["kind"] if known else "marked",
                "share": known["share"] if known else None,
                "source": "contract and detected" if known else "contract",
            }
        action = "pseudonymised" if self.mode == "mask" else "kept (pii=keep)"
        ordered = [rows[c] for c in frame.columns if c in rows]
        self.findings = pd.DataFrame(
            [{**row, "action": action} for row in ordered],
            columns=["column", "kind", "share", "source", "action"],
        )
        if self.mode != "mask" or not ordered:
            return frame
        return pseudonymize(frame, [row["column"] for row in ordered], self.key)
