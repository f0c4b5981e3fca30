"""The rows of a drift report: their empty form, and the sentence saying why.

:class:`~mlops_nb.monitoring.drift.DriftDetector` fills a row per column
(statistics, effect size, decision); these functions start a row and put its
decision into words (``mean 70.1 → 75.3; KS p=1.2e-05, normalized Wasserstein
0.21 ≥ 0.1``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mlops_nb.monitoring.profile import ColumnProfile

__all__ = ["base_row", "categorical_reason", "numeric_reason", "skipped_row"]

EFFECT_LABELS = {"wasserstein": "normalized Wasserstein", "psi": "PSI", "js": "JS distance"}


def base_row(column: ColumnProfile, n_rows: int, n_current: int) -> dict[str, Any]:
    return {
        "column": column.name,
        "kind": column.kind,
        "status": "skipped",
        "test": "",
        "statistic": math.nan,
        "p_value": math.nan,
        "p_adjusted": math.nan,
        "effect_name": "",
        "effect": math.nan,
        "threshold": math.nan,
        "psi": math.nan,
        "n_reference": column.n_valid,
        "n_current": n_current,
        "missing_reference": column.missing_share,
        "missing_current": 1.0 - n_current / n_rows if n_rows else 0.0,
        "new_categories": [],
        "missing_categories": [],
        "drifted": False,
        "reason": "",
    }


def skipped_row(
    column: ColumnProfile, n_rows: int, n_current: int, present: bool
) -> dict[str, Any]:
    row = base_row(column, n_rows, n_current)
    row["reason"] = f"skipped: {column.note}"
    if not present:
        row["missing_current"] = math.nan
    return row


def numeric_reason(row: dict[str, Any], significant: bool, large: bool, alpha: float) -> str:
    """Why a numeric column drifted, or did not."""
    test = f"KS {_p_text(row['p_adjusted'])}"
    effect = _effect_text(row, large)
    if row["drifted"]:
        mean_ref, mean_cur, std_ref, std_cur = row["_moments"]
        moved = f"mean {_num(mean_ref)} → {_num(mean_cur)}"
        if std_ref > 0 and std_cur > 0 and abs(math.log(std_cur / std_ref)) > 0.1:
            moved += f", sd {_num(std_ref)} → {_num(std_cur)}"
        return f"{moved}; {test}, {effect}"
    if significant:
        return f"no drift: {effect} ({test}: detectable, but too small to matter)"
    return f"no drift: {test} ≥ {alpha:g} ({effect})"


def categorical_reason(
    row: dict[str, Any],
    significant: bool,
    large: bool,
    new: list[tuple[str, float]],
    gone: list[tuple[str, float]],
    alpha: float,
) -> str:
    """Why a categorical column drifted, or did not (new and vanished categories named)."""
    test = f"chi² {_p_text(row['p_adjusted'])}"
    effect = _effect_text(row, large)
    if row["drifted"]:
        parts = []
        if new:
            parts.append(_new_text(new))
        if gone:
            parts.append(_gone_text(gone))
        if parts and large:
            parts.append(effect)
        elif not parts:
            parts.append(f"{effect}{_largest_move(row['_shares'])}")
        return f"{'; '.join(parts)} ({test})"
    if significant:
        reason = f"no drift: {effect} ({test}: detectable, but too small to matter)"
    else:
        reason = f"no drift: {test} ≥ {alpha:g} ({effect})"
    if row["_new"]:
        reason += f"; {_new_text(row['_new'])}"
    return reason


def _p_text(p: float) -> str:
    if p < 1e-12:
        return "p<1e-12"
    if p < 1e-3:
        return f"p={p:.1e}"
    return f"p={p:.2g}"


def _num(value: float) -> str:
    """``70.1``, ``0.0123``, ``54,901``: three significant digits, whole numbers from 100."""
    if math.isfinite(value) and abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _effect_text(row: dict[str, Any], large: bool) -> str:
    label = EFFECT_LABELS[row["effect_name"]]
    return f"{label} {row['effect']:.2g} {'≥' if large else '<'} {row['threshold']:g}"


def _largest_move(shares: tuple[list[str], np.ndarray, np.ndarray]) -> str:
    """`` ('a' 55.0% → 80.0%)`` for the category whose share moved most."""
    keys, before, after = shares
    index = int(np.argmax(np.abs(after - before)))
    return f" ('{keys[index]}' {before[index]:.1%} → {after[index]:.1%})"


def _new_text(items: list[tuple[str, float]]) -> str:
    if len(items) == 1:
        key, share = items[0]
        return f"new category '{key}' in {share:.1%} of rows"
    shown = ", ".join(f"'{key}' ({share:.1%})" for key, share in items[:3])
    more = f" and {len(items) - 3} more" if len(items) > 3 else ""
    return f"new categories {shown}{more}"


def _gone_text(items: list[tuple[str, float]]) -> str:
    shown = ", ".join(f"'{key}' ({share:.1%} of reference)" for key, share in items[:3])
    more = f" and {len(items) - 3} more" if len(items) > 3 else ""
    noun = "category" if len(items) == 1 else "categories"
    return f"{noun} {shown}{more} absent"
