"""Benchmark the drift detector: speed, false alarms and detection power.

Run from the repository root::

    .venv/bin/python bench/drift.py

Measured on synthetic data with 15 numeric columns (normal, log-normal,
exponential, integer, bimodal, uniform, one with 5 % missing values) and 5
categorical ones (2 to 12 categories, some rare), as pandas ``str`` columns:

1. speed: ``fit`` on 1,000,000 reference rows and ``test`` of 1,000,000 current
   rows (median of 3), 20 columns (goal: a test in <= 5 s), and the same test
   over 10 partitions (``test_partitions``: summarized one at a time, merged),
   which must give the same report;
2. false alarms: 100 current samples drawn from the reference distribution, of
   5,000 and of 100,000 rows, plus samples with a tiny, irrelevant shift
   (0.02 sd in every numeric column) of 100,000 rows -- the share flagged as
   dataset drift (goal <= 5 %) and the share of features flagged;
3. detection: 100 samples of 5,000 rows each with a 0.5 sd mean shift in a
   quarter of the features (5 numeric columns), a new category holding 5 % of
   one column, a category mix change, and a 0.5 sd shift of every numeric
   column;
4. the churn sample (``generate_churn``): drift 0 (other seeds) and drift 0.5.

Every scenario is also scored with the naive approach -- an uncorrected KS
(numeric) or chi-square (categorical) test per feature at p < 0.05 on all
rows, without effect size -- alarming when any feature is flagged. The exit
status is 0 when the goals (test <= 5 s, false dataset-drift alarms <= 5 %)
are met. The whole run takes a minute or two.
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlops_nb.data import generate_churn
from mlops_nb.monitoring import DriftDetector

BIG_ROWS = 1_000_000
REFERENCE_ROWS = 200_000
SAMPLES = 100
SMALL_ROWS = 5_000
LARGE_ROWS = 100_000
GOAL_TEST_SECONDS = 5.0
GOAL_FALSE_ALARMS = 0.05
NUMERIC = [f"n{i:02d}" for i in range(15)]
CATEGORICAL = [f"c{i}" for i in range(5)]
CATEGORY_SHARES = [
    [0.55, 0.25, 0.20],
    [0.30, 0.25, 0.20, 0.15, 0.10],
    [0.30, 0.20, 0.15, 0.12, 0.10, 0.08, 0.04, 0.01],
    [0.20, 0.15, 0.12, 0.10, 0.10, 0.08, 0.08, 0.06, 0.05, 0.03, 0.02, 0.01],
    [0.70, 0.30],
]
MIX_CHANGE = [0.40, 0.33, 0.27]
NEW_CATEGORY_SHARE = 0.05
SHIFTED = NUMERIC[:5]


@dataclass(frozen=True)
class Change:
    """How a current sample differs from the reference distribution."""

    shift: float = 0.0
    shifted: tuple[str, ...] = ()
    new_category: bool = False
    mix: bool = False

    @property
    def changed(self) -> tuple[str, ...]:
        """Columns whose distribution differs (a shift of 0.02 sd does not count)."""
        columns = self.shifted if self.shift >= 0.1 else ()
        return (*columns, *(("c1",) if self.new_category else ()), *(("c0",) if self.mix else ()))


def _numeric(rng: np.random.Generator, rows: int) -> dict[str, np.ndarray]:
    normal = rng.standard_normal
    columns = {
        "n00": 50 + 10 * normal(rows),
        "n01": -3 + 0.5 * normal(rows),
        "n02": 1e5 + 2e4 * normal(rows),
        "n03": normal(rows),
        "n04": 7 + 2 * normal(rows),
        "n05": rng.lognormal(3.0, 0.8, rows),
        "n06": rng.lognormal(0.0, 0.3, rows),
        "n07": rng.lognormal(5.0, 1.2, rows),
        "n08": rng.exponential(2.0, rows),
        "n09": rng.exponential(30.0, rows),
        "n10": rng.poisson(30, rows).astype(np.int64),
        "n11": np.clip(np.rint(45 + 14 * normal(rows)), 18, 90).astype(np.int64),
        "n12": np.where(rng.random(rows) < 0.4, 20 + 3 * normal(rows), 60 + 8 * normal(rows)),
        "n13": rng.uniform(0, 100, rows),
        "n14": 10 + 3 * normal(rows),
    }
    columns["n14"][rng.random(rows) < 0.05] = np.nan
    return columns


# Standard deviation of each numeric column's distribution (for shifts in sd units).
SD = {
    name: float(np.nanstd(values))
    for name, values in _numeric(np.random.default_rng(99), 400_000).items()
}


def make_frame(rows: int, seed: int, change: Change = Change()) -> pd.DataFrame:
    """Synthetic rows from the reference distribution, altered by ``change``."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for name, values in _numeric(rng, rows).items():
        moved = change.shift * SD[name] if name in change.shifted else 0.0
        data[name] = values + moved if moved else values
    for index, shares in enumerate(CATEGORY_SHARES):
        name = CATEGORICAL[index]
        labels = np.array([f"{name}_{k}" for k in range(len(shares))] + [f"{name}_new"])
        p = np.array(MIX_CHANGE if (change.mix and index == 0) else shares)
        codes = rng.choice(len(shares), size=rows, p=p / p.sum())
        if change.new_category and index == 1:
            codes[rng.random(rows) < NEW_CATEGORY_SHARE] = len(shares)
        data[name] = pd.array(labels[codes], dtype="str")
    return pd.DataFrame(data)


class Naive:
    """Uncorrected per-feature tests at p < 0.05 on all rows, no effect size."""

    def __init__(self, reference: pd.DataFrame) -> None:
        self.numeric = {
            name: np.sort(reference[name].dropna().to_numpy(float))
            for name in reference.columns
            if pd.api.types.is_numeric_dtype(reference[name])
        }
        self.categorical = {
            name: reference[name].value_counts()
            for name in reference.columns
            if name not in self.numeric
        }

    def flags(self, current: pd.DataFrame) -> dict[str, bool]:
        """Which columns the naive approach flags."""
        flagged = {}
        for name, reference in self.numeric.items():
            values = np.sort(current[name].dropna().to_numpy(float))
            flagged[name] = bool(ks_p_value(reference, values) < 0.05)
        for name, reference in self.categorical.items():
            counts = current[name].value_counts()
            table = pd.concat([reference, counts], axis=1).fillna(0).to_numpy().T
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p_value = stats.chi2_contingency(table, correction=False).pvalue
            flagged[name] = bool(p_value < 0.05)
        return flagged


def ks_p_value(reference: np.ndarray, current: np.ndarray) -> float:
    """Asymptotic two-sample KS p-value of two sorted samples (Kolmogorov distribution).

    Between two distinct current values the current ECDF is flat, so the
    largest gap is at a current value or just before the next one: searching
    the current values in the (large, pre-sorted) reference is enough.
    """
    n, m = reference.size, current.size
    values, counts = np.unique(current, return_counts=True)
    after = np.cumsum(counts) / m
    before = np.concatenate([[0.0], after[:-1]])
    at = np.searchsorted(reference, values, side="right") / n
    below = np.searchsorted(reference, values, side="left") / n
    gap = max(np.max(np.abs(at - after)), np.max(np.abs(below - before)))
    return float(stats.kstwobign.sf(gap * np.sqrt(n * m / (n + m))))


@dataclass
class Outcome:
    """Rates over the samples of one scenario."""

    label: str
    rows: int
    samples: int
    ours_dataset: float
    ours_significant: float
    ours_changed: float
    ours_unchanged: float
    naive_any: float
    naive_changed: float
    naive_unchanged: float
    test_seconds: float
    changed: bool


def run_scenario(
    label: str,
    detector: DriftDetector,
    naive: Naive,
    draw: Callable[[int], pd.DataFrame],
    changed: tuple[str, ...],
    rows: int,
    samples: int = SAMPLES,
) -> Outcome:
    """Test ``samples`` frames from ``draw(seed)`` with both approaches."""
    started = time.perf_counter()
    testing = 0.0
    dataset, ours_any, ours_hits, ours_false, naive_any, naive_hits, naive_false = (
        [] for _ in range(7)
    )
    for seed in range(samples):
        current = draw(1_000 + seed)
        timer = time.perf_counter()
        report = detector.test(current)
        testing += time.perf_counter() - timer
        drifted = dict(zip(report.features["column"], report.features["drifted"], strict=True))
        tested = [name for name in drifted if name in naive.numeric or name in naive.categorical]
        flags = naive.flags(current)
        dataset.append(report.dataset_drift)
        ours_any.append(bool((report.features["p_adjusted"] < detector.alpha).any()))
        naive_any.append(any(flags.values()))
        for name in tested:
            (ours_hits if name in changed else ours_false).append(drifted[name])
            (naive_hits if name in changed else naive_false).append(flags[name])
    say(f"  {label}: {time.perf_counter() - started:.1f} s")
    return Outcome(
        label,
        rows,
        samples,
        _mean(dataset),
        _mean(ours_any),
        _mean(ours_hits),
        _mean(ours_false),
        _mean(naive_any),
        _mean(naive_hits),
        _mean(naive_false),
        testing / samples,
        bool(changed),
    )


def _mean(values: list[bool]) -> float:
    return float(np.mean(values)) if values else float("nan")


def say(message: str) -> None:
    sys.stderr.write(f"{message}\n")


PARTITIONS = 10


def measure_speed() -> tuple[float, float, str]:
    """Fit and test seconds on 1,000,000 x 20, and the report's verdict.

    The verdict also says how long the same test takes over the rows in
    ``PARTITIONS`` partitions (one summarized at a time, then merged) and
    whether that report equals the one of all rows at once.
    """
    say(f"generating 2 x {BIG_ROWS:,} rows x 20 columns ...")
    reference = make_frame(BIG_ROWS, 1)
    current = make_frame(BIG_ROWS, 2)
    fits, tests = [], []
    report = None
    for _ in range(3):
        started = time.perf_counter()
        detector = DriftDetector().fit(reference)
        fits.append(time.perf_counter() - started)
        started = time.perf_counter()
        report = detector.test(current)
        tests.append(time.perf_counter() - started)
    assert report is not None
    verdict = f"{report.n_drifted} of {report.n_checked} features drifted"
    started = time.perf_counter()
    parts = np.array_split(np.arange(len(current)), PARTITIONS)
    parted = detector.test_partitions(current.iloc[rows] for rows in parts)
    seconds = time.perf_counter() - started
    same = _same_report(parted.features, report.features)
    verdict += (
        f"; in {PARTITIONS} partitions {seconds:.2f} s, same report: {'yes' if same else 'NO'}"
    )
    return statistics.median(fits), statistics.median(tests), verdict


def _same_report(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Same decisions and reasons, statistics equal to 1e-9 (relative)."""
    numbers = ["statistic", "p_value", "effect", "psi"]
    exact = ["status", "drifted", "n_current", "reason"]
    close = np.allclose(a[numbers].to_numpy(float), b[numbers].to_numpy(float), rtol=1e-9)
    return bool(close and a[exact].equals(b[exact]))


def churn_outcomes() -> list[Outcome]:
    """False alarms and detection on the churn sample (reference: 100,000 rows, seed 0)."""
    reference = generate_churn(100_000, seed=0)
    detector = DriftDetector().fit(reference)
    naive = Naive(reference.drop(columns=["customer_id"]))
    moved = (
        "tenure_months",
        "monthly_charges",
        "total_charges",
        "contract",
        "support_calls",
        "churned",
    )
    return [
        run_scenario(
            "churn, drift 0",
            detector,
            naive,
            lambda seed: generate_churn(SMALL_ROWS, seed=seed),
            (),
            SMALL_ROWS,
        ),
        run_scenario(
            "churn, drift 0.5",
            detector,
            naive,
            lambda seed: generate_churn(SMALL_ROWS, seed=seed, drift=0.5),
            moved,
            SMALL_ROWS,
        ),
        run_scenario(
            "churn, drift 1",
            detector,
            naive,
            lambda seed: generate_churn(SMALL_ROWS, seed=seed, drift=1.0),
            (*moved, "payment_method"),
            SMALL_ROWS,
        ),
    ]


def synthetic_outcomes() -> list[Outcome]:
    """The synthetic scenarios against a reference of 200,000 rows."""
    reference = make_frame(REFERENCE_ROWS, 0)
    detector = DriftDetector().fit(reference)
    naive = Naive(reference)
    scenarios = [
        ("same distribution", Change(), SMALL_ROWS),
        ("same distribution", Change(), LARGE_ROWS),
        ("tiny shift 0.02 sd, all numeric", Change(0.02, tuple(NUMERIC)), LARGE_ROWS),
        ("0.5 sd shift, 5 of 20 features", Change(0.5, tuple(SHIFTED)), SMALL_ROWS),
        ("new category (5 % of c1)", Change(new_category=True), SMALL_ROWS),
        ("category mix change (c0)", Change(mix=True), SMALL_ROWS),
        ("0.5 sd shift, all 15 numeric", Change(0.5, tuple(NUMERIC)), SMALL_ROWS),
    ]
    outcomes = []
    for label, change, rows in scenarios:
        outcomes.append(
            run_scenario(
                label,
                detector,
                naive,
                lambda seed, change=change, rows=rows: make_frame(rows, seed, change),
                change.changed,
                rows,
            )
        )
    return outcomes


def percent(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.1%}"


def report(fit: float, test: float, verdict: str, outcomes: list[Outcome]) -> bool:
    """Print the results; True when the goals are met."""
    print(
        f"\nDrift detection benchmark, {BIG_ROWS:,} rows x 20 columns (15 numeric, 5 categorical)"
    )
    print(f"fit  (profile the reference): {fit:6.2f} s")
    print(f"test (drift report):          {test:6.2f} s   ({verdict}; same distribution)")
    print(
        "\nShares over the samples of each scenario. Ours: Holm-corrected tests + effect size; "
        "'dataset' = dataset drift,\n'p<a' = any corrected p-value below alpha (the tests' "
        "family-wise error before the effect-size gate),\n'changed'/'others' = share of the "
        "altered/unaltered columns flagged. Naive: uncorrected p < 0.05 per feature\n(KS / "
        "chi-square on all rows, no effect size), 'any' = at least one feature flagged.\n"
    )
    header = (
        f"{'scenario':<34} {'rows':>8} {'n':>4} | {'dataset':>7} {'p<a':>6} {'changed':>7}"
        f" {'others':>6} | {'any':>6} {'changed':>7} {'others':>6} | {'ms/test':>7}"
    )
    print(f"{'':<49}| {'ours':^30} | {'naive':^22} |")
    print(header)
    print("-" * len(header))
    for o in outcomes:
        print(
            f"{o.label:<34} {o.rows:>8,} {o.samples:>4} | {percent(o.ours_dataset):>7} "
            f"{percent(o.ours_significant):>6} {percent(o.ours_changed):>7} "
            f"{percent(o.ours_unchanged):>6} | {percent(o.naive_any):>6} "
            f"{percent(o.naive_changed):>7} {percent(o.naive_unchanged):>6} | "
            f"{o.test_seconds * 1000:>7.0f}"
        )
    null = [o for o in outcomes if not o.changed]
    worst = max(o.ours_dataset for o in null)
    speed_ok = test <= GOAL_TEST_SECONDS
    alarms_ok = worst <= GOAL_FALSE_ALARMS
    print(
        f"\ngoal: test of {BIG_ROWS:,} x 20 <= {GOAL_TEST_SECONDS:.0f} s: "
        f"{'PASS' if speed_ok else 'FAIL'} ({test:.2f} s)"
    )
    print(
        f"goal: false dataset-drift alarms <= {GOAL_FALSE_ALARMS:.0%} when nothing relevant "
        f"changed: {'PASS' if alarms_ok else 'FAIL'} (worst {worst:.1%})"
    )
    return speed_ok and alarms_ok


def main() -> int:
    started = time.perf_counter()
    fit, test, verdict = measure_speed()
    say("running the scenarios ...")
    outcomes = synthetic_outcomes() + churn_outcomes()
    passed = report(fit, test, verdict, outcomes)
    print(f"\n(benchmark took {time.perf_counter() - started:.0f} s)")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
