"""SIGKILL a train run at its worst moments: nothing corrupt, nothing left running, resume works.

Each case kills ``mlops-nb run train`` (the cheap one of
:data:`~tests.reliability.crashes.CHEAP`) at a named crash point (see
:mod:`mlops_nb.faults`) or once a stage runs, the runner or the stage's
kernel, then checks:

* no descendant of the runner (fork server, kernels) outlives it;
* ``mlops-nb doctor`` finds nothing that ``--repair`` does not fix: after the
  repair it is clean;
* ``mlops-nb run --resume RUN`` completes the crashed run.

The cases share one project, in order: the first crash is in the first run's
first stage, so its resume is the one full run; later ones reuse its results
(``--force register`` executes the stage a point is in; ``--force ingest`` the
first stage, whose results are the same each time, so the others stay cached).
The random cases use a fixed seed. ``bench/crash.py`` runs the campaign at 20 random times.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.reliability.crashes import CHEAP, Crash, crash, recover

pytestmark = pytest.mark.slow

SEED = 15
FORCE_REGISTER = [*CHEAP, "--force", "register"]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crash") / "outputs"


def check(outputs: Path, crashed: Crash, *, expected: set[str]) -> list[str]:
    """The invariants after a crash; the kinds the doctor found before repairing."""
    assert crashed.returncode != 0, f"not cut short ({crashed.killed}): {crashed.output}"
    assert crashed.survivors() == [], f"processes outlived the runner ({crashed.killed})"
    recovery = recover(outputs, crashed.run_id)
    kinds = sorted({finding["kind"] for finding in recovery.before})
    assert set(kinds) <= expected, recovery.before
    assert recovery.after == [], f"left after --repair: {recovery.after}"
    assert recovery.resumed is not None and recovery.resumed.returncode == 0, (
        recovery.resumed and recovery.resumed.stdout + recovery.resumed.stderr
    )
    resumed = sorted((outputs / "runs").iterdir())[-1]
    record = json.loads((resumed / "run.json").read_text())
    assert record["status"] == "succeeded" and record["resumed_from"] == crashed.run_id
    return kinds


def test_killed_mid_snapshot_the_kernel_leaves_only_a_temporary_file(outputs: Path) -> None:
    crashed = crash(outputs, *CHEAP, fault="snapshot")
    assert crashed.killed == "kernel at snapshot" and crashed.returncode == 1
    assert check(outputs, crashed, expected={"leftover"}) == ["leftover"]
    assert len(list((outputs / "snapshots").glob("data-*.parquet"))) == 1


def test_killed_mid_cache_restore_the_runner_leaves_a_run_marked_running(outputs: Path) -> None:
    crashed = crash(outputs, *CHEAP, fault="cache-restore")
    assert crashed.killed == "runner at cache-restore"
    assert check(outputs, crashed, expected={"stale-run", "leftover"}) == ["leftover", "stale-run"]


def test_killed_mid_register_the_package_without_a_row_is_set_aside(outputs: Path) -> None:
    crashed = crash(outputs, *FORCE_REGISTER, fault="register")
    assert crashed.killed == "kernel at register"
    kinds = check(outputs, crashed, expected={"unregistered-package", "stale-tracking-run"})
    assert "unregistered-package" in kinds
    assert list((outputs / "registry" / "churn").glob(".orphan-*")), "set aside, not deleted"


def test_killed_mid_alias_move_the_transaction_leaves_nothing_half_done(outputs: Path) -> None:
    crashed = crash(outputs, *FORCE_REGISTER, fault="alias")
    assert crashed.killed == "kernel at alias"
    check(outputs, crashed, expected={"stale-tracking-run"})


def test_killed_mid_cache_store_the_runner_and_its_kernels_are_gone(outputs: Path) -> None:
    crashed = crash(outputs, *FORCE_REGISTER, fault="cache-store")
    assert crashed.killed == "runner at cache-store"
    assert crashed.descendants, "the fork server and a kernel were running"
    check(outputs, crashed, expected={"stale-run"})


@pytest.mark.parametrize("target", ["runner", "kernel"])
def test_killed_at_a_random_time_during_ingest(outputs: Path, target: str) -> None:
    # a kernel is killed within half a second of its first cell, so the kill lands
    # while ingest runs (the small sample's cells take about a second)
    high = 2.0 if target == "runner" else 0.5
    delay = random.Random(f"{SEED}-{target}").uniform(0.05, high)
    args = [*CHEAP, "--force", "ingest"]
    crashed = crash(outputs, *args, stage="ingest", delay=delay, target=target)
    assert crashed.killed.startswith(target), crashed.killed
    check(outputs, crashed, expected={"stale-run", "stale-tracking-run", "leftover"})
