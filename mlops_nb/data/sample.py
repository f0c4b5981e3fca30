"""Deterministic sample data sets, reachable as ``sample:<name>`` data sources.

The only sample today is ``churn``: synthetic telecom customers, one row per
customer, with a binary target ``churned``. :func:`generate_churn` is pure and
vectorised: the same ``(rows, seed, drift)`` always gives an identical frame.

Contract of the generator (``drift=0``):

* Columns, in order: :data:`CHURN_COLUMNS`.
* ``customer_id`` ("C0000001", ...) is unique before duplication; ``age`` is
  an int in 18-90; ``tenure_months`` an int in 0-72; ``monthly_charges`` a
  float around 20-120; ``total_charges`` ≈ tenure × monthly charges with
  noise; ``support_calls`` an int in 0-15; ``churned`` an int 0/1 drawn from
  a logistic model of contract, tenure, monthly charges, support calls,
  internet service and payment method (churn rate ≈ 25 %, a plain logistic
  regression reaches ROC AUC ≈ 0.8).
* Deliberate data-quality issues, as shares of the rows (counts are rounded):

  - 3 % missing ``total_charges`` (NaN);
  - 2 % missing ``payment_method`` (NaN);
  - 1 % exact duplicate rows (copies of other rows, at random positions);
  - 1 % outliers in ``monthly_charges``, uniform in 300-900 (extreme but
    inside the 0-1000 range the churn contract allows);
  - 0.5 % invalid rows, each with one defect: ``age`` negative or above 120,
    ``contract`` = "monthly" (not an allowed value) or ``support_calls``
    negative. Duplicates can copy them, so invalid rows stay well below 1 %.

``drift`` (0 = the reference distribution, at most :data:`MAX_DRIFT`) moves
the data monotonically: the ``monthly_charges`` mean rises by about ``drift``
reference standard deviations, tenure falls, the contract mix moves toward
month-to-month, support calls rise, and from ``drift >= 1`` a new payment
method, "crypto-wallet", appears (and its users churn more). Different seeds
at the same drift draw from the same distribution.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mlops_nb.data.sample_options import (
    DEFAULT_ROWS,
    SAMPLE_NAMES,
    checked_args,
    sample_options,
)

__all__ = [
    "CHURN_COLUMNS",
    "SAMPLE_NAMES",
    "generate_churn",
    "generate_sample",
    "sample_options",
]

CHURN_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "age",
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "contract",
    "payment_method",
    "internet_service",
    "region",
    "support_calls",
    "churned",
)
CONTRACTS: tuple[str, ...] = ("month-to-month", "one-year", "two-year")
PAYMENT_METHODS: tuple[str, ...] = (
    "electronic-check",
    "mailed-check",
    "bank-transfer",
    "credit-card",
)
NEW_PAYMENT_METHOD = "crypto-wallet"
INTERNET_SERVICES: tuple[str, ...] = ("dsl", "fiber", "none")
REGIONS: tuple[str, ...] = ("north", "south", "east", "west")
INVALID_CONTRACT = "monthly"

MISSING_TOTAL_SHARE = 0.03
MISSING_PAYMENT_SHARE = 0.02
DUPLICATE_SHARE = 0.01
OUTLIER_SHARE = 0.01
INVALID_SHARE = 0.005


MONTHLY_REFERENCE_STD = 27.3
"""Standard deviation of ``monthly_charges`` at drift 0 (outliers excluded)."""

_CONTRACT_P = np.array([0.55, 0.21, 0.24])
_INTERNET_P = np.array([0.35, 0.44, 0.21])
_REGION_P = np.array([0.27, 0.25, 0.26, 0.22])
_PAYMENT_P = np.array([0.34, 0.23, 0.22, 0.21])
_TENURE_SHARE = np.array([0.25, 0.55, 0.78])
_TENURE_CONCENTRATION = 2.5
_MONTHLY_MEAN = np.array([55.0, 88.0, 22.0])
_MONTHLY_STD = np.array([10.0, 12.0, 3.0])
_CHURN_INTERCEPT = -0.7
_CHURN_CONTRACT = np.array([0.0, -0.9, -1.8])
_CHURN_INTERNET = np.array([0.0, 0.35, -0.42])
_CHURN_PAYMENT = np.array([0.25, 0.0, 0.0, 0.0, 0.5])


def generate_churn(rows: int = DEFAULT_ROWS, seed: int = 0, drift: float = 0.0) -> pd.DataFrame:
    """Generate the synthetic customer-churn data set.

    Args:
        rows: Number of rows, duplicates included (1 to 10,000,000).
        seed: Seed of the random generator (an int >= 0).
        drift: How far the data moves from the reference distribution
            (0 to :data:`MAX_DRIFT`); see the module docstring.

    Returns:
        A frame with the columns :data:`CHURN_COLUMNS` and ``rows`` rows.

    Raises:
        DataSourceError: If an argument is out of range or of the wrong type.
    """
    rows, seed, drift = checked_args(rows, seed, drift)
    rng = np.random.default_rng(seed)
    n_duplicates = round(rows * DUPLICATE_SHARE)
    base = rows - n_duplicates
    columns = _draw_customers(rng, base, drift)
    columns["churned"] = _draw_churn(rng, columns, drift)
    _inject_missing_and_outliers(rng, columns)
    _inject_invalid(rng, columns)
    return _to_frame(_with_duplicates(rng, columns, n_duplicates))


def _draw_customers(rng: np.random.Generator, n: int, drift: float) -> dict[str, np.ndarray]:
    """Draw the customer attributes as integer codes and numbers."""
    toward_monthly = 1.0 - math.exp(-0.35 * drift)
    contract_p = (1.0 - toward_monthly) * _CONTRACT_P + toward_monthly * np.array([1.0, 0, 0])
    contract = rng.choice(3, size=n, p=contract_p)
    internet = rng.choice(3, size=n, p=_INTERNET_P)
    share = _TENURE_SHARE[contract] * math.exp(-0.25 * drift)
    tenure = np.rint(
        72 * rng.beta(share * _TENURE_CONCENTRATION, (1 - share) * _TENURE_CONCENTRATION)
    )
    age = np.clip(np.rint(rng.normal(45.0, 14.0, n)), 18, 90)
    noise = rng.standard_normal(n) * _MONTHLY_STD[internet]
    shift = drift * MONTHLY_REFERENCE_STD
    monthly = np.round(np.maximum(_MONTHLY_MEAN[internet] + noise, 18.0) + shift, 2)
    calls_rate = 1.0 + 0.7 * (internet == 1) + 0.3 * (contract == 0) + 0.15 * drift
    calls = np.minimum(rng.poisson(calls_rate), 15)
    total = np.round(tenure * monthly * np.exp(rng.normal(0.0, 0.03, n)), 2)
    return {
        "customer_id": np.arange(1, n + 1),
        "age": age.astype(np.int64),
        "tenure_months": tenure.astype(np.int64),
        "monthly_charges": monthly,
        "total_charges": total,
        "contract": contract,
        "payment_method": _draw_payment(rng, n, drift),
        "internet_service": internet,
        "region": rng.choice(4, size=n, p=_REGION_P),
        "support_calls": calls.astype(np.int64),
    }


def _draw_payment(rng: np.random.Generator, n: int, drift: float) -> np.ndarray:
    """Draw payment-method codes; code 4 (crypto-wallet) appears from drift 1."""
    codes = rng.choice(4, size=n, p=_PAYMENT_P)
    new_share = min(0.03 + 0.02 * (drift - 1.0), 0.15) if drift >= 1.0 else 0.0
    is_new = rng.random(n) < new_share
    codes[is_new] = 4
    return codes


def _draw_churn(
    rng: np.random.Generator, columns: dict[str, np.ndarray], drift: float
) -> np.ndarray:
    """Draw the 0/1 target from a logistic model of the customer attributes."""
    logit = (
        _CHURN_INTERCEPT
        + _CHURN_CONTRACT[columns["contract"]]
        - 0.021 * columns["tenure_months"]
        + 0.65 * np.tanh((columns["monthly_charges"] - 65.0) / 30.0)
        + (0.21 + 0.03 * drift) * columns["support_calls"]
        + _CHURN_INTERNET[columns["internet_service"]]
        + _CHURN_PAYMENT[columns["payment_method"]]
    )
    probability = 1.0 / (1.0 + np.exp(-logit))
    churned: np.ndarray = (rng.random(logit.shape[0]) < probability).astype(np.int64)
    return churned


def _pick(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """Choose ``round(n * share)`` distinct row positions."""
    return rng.choice(n, size=round(n * share), replace=False)


def _inject_missing_and_outliers(rng: np.random.Generator, columns: dict[str, np.ndarray]) -> None:
    """Blank some charges and payment methods and add monthly-charge outliers."""
    n = columns["age"].shape[0]
    columns["total_charges"][_pick(rng, n, MISSING_TOTAL_SHARE)] = np.nan
    columns["payment_method"][_pick(rng, n, MISSING_PAYMENT_SHARE)] = -1
    outliers = _pick(rng, n, OUTLIER_SHARE)
    columns["monthly_charges"][outliers] = np.round(rng.uniform(300.0, 900.0, outliers.size), 2)


def _inject_invalid(rng: np.random.Generator, columns: dict[str, np.ndarray]) -> None:
    """Give some rows one defect each that the churn contract rejects."""
    rows = _pick(rng, columns["age"].shape[0], INVALID_SHARE)
    kind = rng.integers(0, 4, size=rows.size)
    young, old, bad_contract, bad_calls = (rows[kind == k] for k in range(4))
    columns["age"][young] = -rng.integers(1, 10, size=young.size)
    columns["age"][old] = rng.integers(121, 200, size=old.size)
    columns["contract"][bad_contract] = len(CONTRACTS)
    columns["support_calls"][bad_calls] = -rng.integers(1, 4, size=bad_calls.size)


def _labels(codes: np.ndarray, labels: tuple[str, ...]) -> pd.api.extensions.ExtensionArray:
    """Map integer codes to a "str" array; code -1 becomes missing."""
    taken = pa.array(labels, type=pa.string()).take(pa.array(codes, mask=codes < 0))
    return pd.array(taken, dtype="str")


def _identifiers(numbers: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Format customer numbers as "C0000001" (at least seven digits)."""
    width = max(7, len(str(int(numbers.max(initial=0)))))
    digits = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width, "0")
    return pd.array(pc.binary_join_element_wise("C", digits, ""), dtype="str")


def _to_frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """Assemble the columns, turning codes into labels, in :data:`CHURN_COLUMNS` order."""
    data: dict[str, Any] = dict(columns)
    data["customer_id"] = _identifiers(columns["customer_id"])
    data["contract"] = _labels(columns["contract"], (*CONTRACTS, INVALID_CONTRACT))
    data["payment_method"] = _labels(
        columns["payment_method"], (*PAYMENT_METHODS, NEW_PAYMENT_METHOD)
    )
    data["internet_service"] = _labels(columns["internet_service"], INTERNET_SERVICES)
    data["region"] = _labels(columns["region"], REGIONS)
    return pd.DataFrame({name: data[name] for name in CHURN_COLUMNS})


def _with_duplicates(
    rng: np.random.Generator, columns: dict[str, np.ndarray], count: int
) -> dict[str, np.ndarray]:
    """Add ``count`` copies of random rows and shuffle them in (``count`` may be 0)."""
    if count == 0:
        return columns
    n = columns["age"].shape[0]
    order = np.concatenate([np.arange(n), rng.choice(n, size=count, replace=count > n)])
    order = order[rng.permutation(order.size)]
    return {name: values[order] for name, values in columns.items()}


_GENERATORS: dict[str, Callable[..., pd.DataFrame]] = {"churn": generate_churn}
assert set(_GENERATORS) == set(SAMPLE_NAMES), "a sample lacks its options in sample_options"


def generate_sample(name: str, options: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Generate the sample ``name`` from its text options (see :func:`sample_options`)."""
    kwargs = sample_options(name, options or {})
    return _GENERATORS[name](**kwargs)
