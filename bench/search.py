"""Benchmark the search strategies of ``tune``: the halving race against the full search.

Run from the repository root::

    .venv/bin/python bench/search.py                    # 20,000 and 200,000 rows
    .venv/bin/python bench/search.py --rows 20000 --rows 1000000
    .venv/bin/python bench/search.py --quick            # 5,000 rows, a smoke run

For each size, the churn sample (cleansed as the prepare stage does) is split
80/20 (stratified, seed 0); ``tune`` runs with the train template's defaults
(budget 6, 3 folds, all candidates, seed 0) once with ``strategy="full"``
and once with ``strategy="halving"`` (default ``search_rows``), both with
``n_jobs=1``, then the halving race again with ``n_jobs=-1``. Printed per
run: wall seconds, the winner, its holdout ROC AUC, the difference to the
full search's, and the time ratio full/this. Figures, never assertions.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import search_data, table


def one_size(rows: int) -> list[list[str]]:
    from sklearn.model_selection import train_test_split

    from mlops_nb.modeling import evaluate, tune

    features, X, y = search_data(rows)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    measured: list[tuple[str, float, Any]] = []
    for label, options in (
        ("full, n_jobs=1", {"strategy": "full", "n_jobs": 1}),
        ("halving, n_jobs=1", {"strategy": "halving", "n_jobs": 1}),
        ("halving, n_jobs=-1", {"strategy": "halving", "n_jobs": -1}),
    ):
        print(f"{rows:,} rows: {label} ...", flush=True)
        started = time.perf_counter()
        result = tune(features, X_train, y_train, "binary", budget=6, cv=3, seed=0, **options)
        measured.append((label, time.perf_counter() - started, result))
    full_s, full = measured[0][1], measured[0][2]
    full_auc = evaluate(full.best_estimator, X_test, y_test, "binary")["roc_auc"]
    lines = []
    for label, seconds, result in measured:
        auc = evaluate(result.best_estimator, X_test, y_test, "binary")["roc_auc"]
        lines.append(
            [
                f"{rows:,}",
                label,
                f"{seconds:.1f}",
                f"{full_s / seconds:.2f}x",
                result.best_name,
                f"{result.search_rows:,}",
                f"{auc:.4f}",
                f"{auc - full_auc:+.4f}",
            ]
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, action="append", help="rows (repeatable)")
    parser.add_argument("--quick", action="store_true", help="5,000 rows only")
    args = parser.parse_args(argv)
    sizes = args.rows or ([5_000] if args.quick else [20_000, 200_000])
    lines = [line for rows in sizes for line in one_size(rows)]
    table(
        [
            "rows",
            "search",
            "seconds",
            "full/this",
            "winner",
            "rows scored",
            "holdout AUC",
            "vs full",
        ],
        lines,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
