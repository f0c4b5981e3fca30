"""Benchmark what personal-data handling adds to ingest, and how well detection does.

Run from the repository root::

    .venv/bin/python bench/privacy.py [ROWS]

On the churn sample (1,000,000 rows by default) with four planted columns (e-mail,
phone, Luhn-valid card number, name) it prints, each the median of 3:

1. ``detect_pii`` on the sample without personal data and with it (a fixed sample
   of values per text column, so its cost hardly grows with rows);
2. pseudonymising the four columns, and the time per million values;
3. the share each ingest step adds: the time of ``snapshot_source`` on a CSV of
   the planted data with the ``PersonalData`` guard against the same call without it
   (a ratio measured in this one run);
4. detection quality: the planted columns found with their kind, and every
   column of the plain churn sample left alone (false positives).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlops_nb.data import generate_churn, snapshot_source  # noqa: E402
from mlops_nb.data.personal import PersonalData  # noqa: E402
from mlops_nb.privacy import detect_pii, luhn_valid, pseudonymize  # noqa: E402

PLANTED = {
    "email": "email",
    "phone": "phone",
    "card_number": "payment_card",
    "full_name": "person_name",
}


def _cards(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    found: list[str] = []
    while len(found) < n:
        digits = "4" + "".join(map(str, rng.integers(0, 10, 15)))
        if luhn_valid(digits):
            found.append(" ".join(digits[i : i + 4] for i in range(0, 16, 4)))
    return found


def planted(rows: int) -> pd.DataFrame:
    frame = generate_churn(rows=rows, seed=0)
    n = len(frame)
    first = np.array(["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken"])
    last = np.array(["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen"])
    index = np.arange(n)
    frame["email"] = [f"person{i}@example.org" for i in index]
    frame["phone"] = [f"+44 20 7{i % 1000:03d} {i % 10000:04d}" for i in index]
    cards = _cards(1000)
    frame["card_number"] = [cards[i % 1000] for i in index]
    frame["full_name"] = first[index % len(first)] + " " + last[index % len(last)]
    return frame


def median_seconds(work: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(rows: int) -> int:
    plain = generate_churn(rows=rows, seed=0)
    data = planted(rows)
    key = b"k" * 32
    print(
        f"rows: {len(data):,}; columns: {plain.shape[1]} plain, {data.shape[1]} with personal data"
    )

    none_found = detect_pii(plain)
    found = detect_pii(data)
    kinds = dict(zip(found["column"], found["kind"], strict=True))
    print(f"detection: planted found as {kinds}; expected {PLANTED}: {kinds == PLANTED}")
    print(
        f"false positives on the plain sample: {len(none_found)} column(s) "
        f"{list(none_found['column'])}"
    )

    print(f"detect_pii, plain:   {median_seconds(lambda: detect_pii(plain)):.3f} s")
    print(f"detect_pii, planted: {median_seconds(lambda: detect_pii(data)):.3f} s")
    masking = median_seconds(lambda: pseudonymize(data, list(PLANTED), key))
    values = len(data) * len(PLANTED)
    print(
        f"pseudonymise {values:,} values: {masking:.2f} s "
        f"({masking / values * 1e6:.2f} s per million)"
    )

    with tempfile.TemporaryDirectory() as folder:
        csv = Path(folder) / "planted.csv"
        data.to_csv(csv, index=False)
        snapshots = Path(folder) / "snapshots"

        def bare() -> None:
            snapshot_source(str(csv), snapshots / "bare", target="churned")

        def guarded() -> None:
            guard = PersonalData(key, target="churned")
            snapshot_source(str(csv), snapshots / "guarded", target="churned", protect=guard)

        before, after = median_seconds(bare), median_seconds(guarded)
    print(
        f"ingest of the CSV: {before:.2f} s bare, {after:.2f} s with the guard: "
        f"{after / before:.2f}x"
    )
    return 0 if kinds == PLANTED and none_found.empty else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
