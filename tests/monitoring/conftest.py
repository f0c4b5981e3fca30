"""Shared data for the monitoring tests: a small synthetic table with every column kind."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_nb.monitoring import DriftDetector

REGIONS = np.array(["north", "south", "east", "west"])
REGION_P = np.array([0.4, 0.3, 0.2, 0.1])


def make_frame(
    rows: int,
    seed: int,
    *,
    shift: float = 0.0,
    regions: np.ndarray = REGIONS,
    region_p: np.ndarray = REGION_P,
) -> pd.DataFrame:
    """Rows of the reference distribution; ``shift`` moves ``income`` by that many sd."""
    rng = np.random.default_rng(seed)
    income = rng.normal(50_000, 10_000, rows) + shift * 10_000
    age = np.clip(np.rint(rng.normal(45, 12, rows)), 18, 90).astype(np.int64)
    score = rng.lognormal(0.0, 0.5, rows)
    score[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "income": income,
            "age": age,
            "score": score,
            "children": rng.poisson(1.2, rows).clip(0, 6).astype(np.int64),
            "region": pd.array(regions[rng.choice(len(regions), rows, p=region_p)], dtype="str"),
            "member": rng.random(rows) < 0.3,
        }
    )


@pytest.fixture(scope="package")
def reference() -> pd.DataFrame:
    return make_frame(20_000, 0)


@pytest.fixture(scope="package")
def detector(reference: pd.DataFrame) -> DriftDetector:
    return DriftDetector().fit(reference)
