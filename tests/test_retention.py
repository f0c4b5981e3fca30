"""``runs gc``: old runs and unused snapshots go; what a version or an audit row needs stays."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from mlops_nb.data import snapshot
from mlops_nb.errors import ConfigError
from mlops_nb.maintenance.retention import collect, parse_age, plan_gc
from mlops_nb.pipeline.cache import CacheIndex
from mlops_nb.registry import Registry
from tests.pipeline.test_compare import make_record, write_run
from tests.registry.conftest import register_model

OLD = (datetime.now(UTC) - timedelta(days=90)).isoformat()
NEW = datetime.now(UTC).isoformat()


def run(settings, run_id: str, started: str, data_version: str | None = None, **extra):
    record = make_record(run_id, started_at=started, **extra)
    record["data_versions"] = {"raw": data_version} if data_version else {}
    return write_run(settings.runs_dir, record)


@pytest.fixture
def archive(make_project):
    """Five runs and three snapshots; the registry refers to two of the old runs."""
    settings = make_project()
    versions = {}
    for seed in (1, 2, 3):
        frame = pd.DataFrame({"x": range(seed * 10)})
        versions[seed] = snapshot(frame, settings.snapshots_dir).version
    run(settings, "old-plain", OLD, versions[1])
    run(settings, "old-model", OLD, versions[2])
    run(settings, "old-retired", OLD, versions[3])
    run(settings, "old-audited", OLD)
    run(settings, "new-plain", NEW, versions[1])
    run(settings, "old-running", OLD, status="running")
    with Registry.from_settings(settings) as registry:
        register_model(registry, pipeline_run="old-model", data_version=versions[2])
        register_model(registry, pipeline_run="old-retired", data_version=versions[3])
        registry.set_alias("churn", "staging", 2, reason="by hand", run="old-audited")
        registry.retire("churn", 2, reason="superseded")
    CacheIndex(settings).store("f" * 64, "old-plain", "01_train")
    return settings, versions


def test_a_plan_keeps_evidence_and_says_why(archive):
    settings, versions = archive
    plan = plan_gc(settings, timedelta(days=30))
    actions = {r["id"]: (r["action"], r["reasons"]) for r in plan.runs}
    assert actions["old-plain"] == ("remove", [])
    assert actions["old-retired"][0] == "remove", "a retired version's run may go"
    assert actions["old-model"][0] == "keep"
    assert "model churn v1 (active) came from it" in actions["old-model"][1]
    assert actions["old-audited"][0] == "keep"
    assert any("audit history" in why for why in actions["old-audited"][1])
    assert actions["new-plain"] == ("keep", ["newer than the cutoff"])
    assert actions["old-running"][0] == "keep" and "it is running" in actions["old-running"][1]
    snaps = {s["version"]: s["action"] for s in plan.snapshots}
    # v1's snapshot is used by a kept (new) run, v2's by an active version, v3's by a retired one
    assert snaps == {versions[1]: "keep", versions[2]: "keep", versions[3]: "remove"}
    assert all((settings.runs_dir / r["id"]).is_dir() for r in plan.runs), (
        "planning removes nothing"
    )


def test_collect_removes_folders_index_and_cache_entries_and_keeps_the_rest(archive):
    settings, versions = archive
    plan = collect(settings, plan_gc(settings, timedelta(days=30)))
    left = sorted(p.name for p in settings.runs_dir.iterdir())
    assert left == ["new-plain", "old-audited", "old-model", "old-running"]
    assert sorted(p.stem for p in settings.snapshots_dir.glob("*.parquet")) == sorted(
        f"data-{versions[k]}" for k in (1, 2)
    )
    assert CacheIndex(settings).lookup("f" * 64) is None
    assert plan.done and plan.freed > 0
    with Registry.from_settings(settings) as registry:
        assert len(registry.versions("churn")) == 2, "registry rows are never deleted"
        assert len(registry.history("churn")) == 2


@pytest.mark.parametrize("text", ["30", "d", "0d", "-3d", "3 months", "1x"])
def test_an_age_is_a_number_and_a_unit(text):
    with pytest.raises(ConfigError, match="12h, 30d or 2w"):
        parse_age(text)


def test_ages():
    assert parse_age("12h") == timedelta(hours=12)
    assert parse_age(" 30d") == timedelta(days=30)
    assert parse_age("2w") == timedelta(weeks=2)


def cli(settings, *args):
    env = {
        **os.environ,
        "MLOPS_NB_PROJECT": str(settings.root),
        "MLOPS_NB_OUTPUTS": str(settings.outputs),
    }
    return subprocess.run(
        [sys.executable, "-m", "mlops_nb", "runs", "gc", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_dry_runs_collects_and_refuses_a_bad_age(archive):
    settings, _ = archive
    dry = cli(settings, "--older-than", "30d", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert not planned["done"] and {
        r["id"] for r in planned["runs"] if r["action"] == "remove"
    } == {
        "old-plain",
        "old-retired",
    }
    assert (settings.runs_dir / "old-plain").is_dir()
    text = cli(settings, "--older-than", "30d")
    assert text.returncode == 0, text.stderr
    assert "removed 2 run(s) and 1 snapshot(s)" in text.stdout
    assert not (settings.runs_dir / "old-plain").exists()
    bad = cli(settings, "--older-than", "a month")
    assert bad.returncode == 2 and "12h, 30d or 2w" in bad.stderr and "Traceback" not in bad.stderr
