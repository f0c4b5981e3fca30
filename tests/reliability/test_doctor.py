"""``mlops-nb doctor`` on a project after a real run: clean, then with each kind of damage planted.

One real ``run train --until register`` (module scope); each test works on its own
copy of those outputs, plants one kind of damage, and checks that the doctor
names it, where, and the fix; that ``--repair`` fixes what is safe (a second
doctor is then clean) and leaves evidence (a registered version's files, a
run's files, audit rows) exactly as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_nb.processes import start_tick
from tests.conftest import REPO, run_cli

pytestmark = pytest.mark.slow

TRAIN = ["run", "train", "--until", "register", "-p", "budget=1"]
TRAIN += ["-p", "data_source=sample:churn?rows=400&seed=1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The outputs of one real train run (never changed: tests copy them)."""
    outputs = tmp_path_factory.mktemp("doctor") / "outputs"
    done = run_cli(outputs, *TRAIN)
    assert done.returncode == 0, done.stdout + done.stderr
    return outputs


@pytest.fixture
def outputs(trained: Path, tmp_path: Path) -> Path:
    """A private copy of the trained project's outputs, to damage."""
    copy = tmp_path / "outputs"
    shutil.copytree(trained, copy, symlinks=True)
    return copy


def doctor(outputs: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(outputs, "doctor", *args, timeout=120)


def findings(outputs: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    done = doctor(outputs, "--json", *args)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)["findings"]


def run_dir(outputs: Path) -> Path:
    (folder,) = (outputs / "runs").iterdir()
    return folder


def rows(outputs: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(outputs / "mlops.db") as conn:
        return conn.execute(sql).fetchall()


def dead_process() -> tuple[int, str | None]:
    """The pid and start tick of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    tick = start_tick(child.pid)
    child.wait()
    return child.pid, tick


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def evidence(outputs: Path) -> Iterator[dict[str, Any]]:
    """What must never change: the package's files, the audit rows, the run's files."""
    kept = {
        "package": files_of(outputs / "registry" / "churn" / "1"),
        "history": rows(outputs, "SELECT * FROM registry_alias_history ORDER BY id"),
        "versions": rows(outputs, "SELECT * FROM registry_versions"),
    }
    yield kept


def test_a_clean_project_after_a_real_run_has_nothing_to_fix(trained: Path) -> None:
    done = doctor(trained)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no problems found" in done.stdout
    report = json.loads(doctor(trained, "--json").stdout)
    assert report["ok"] and report["findings"] == []
    assert report["checked"]["registry"]["versions"] == 1
    assert report["checked"]["runs"] == {"runs": 1, "succeeded stages": 7}
    assert report["checked"]["cache"]["entries"] == 7
    assert report["checked"]["snapshots"]["snapshots"] == 1
    assert report["checked"]["kernels"]["kernels"] == 1  # every template names the project's


def test_a_tampered_model_is_a_sha256_mismatch_that_repair_leaves_to_a_person(
    outputs: Path,
) -> None:
    model = outputs / "registry" / "churn" / "1" / "model.skops"
    model.write_bytes(model.read_bytes() + b"tampered")
    done = doctor(outputs)
    assert done.returncode == 1
    assert f"sha256-mismatch: {model}" in done.stdout
    assert "changed after it was written" in done.stdout
    assert "mlops-nb models retire churn 1" in done.stdout  # the fix
    repaired = doctor(outputs, "--repair")
    assert repaired.returncode == 1, "a changed registered model needs a person"
    assert "1 left that need a person" in repaired.stdout
    assert model.read_bytes().endswith(b"tampered"), "the evidence is kept as found"


def test_a_deleted_model_file_is_named_with_its_path(outputs: Path) -> None:
    model = outputs / "registry" / "churn" / "1" / "model.skops"
    model.unlink()
    code, found = findings(outputs)
    assert code == 1
    (finding,) = found
    assert finding["kind"] == "missing-file" and finding["where"] == str(model)
    assert "churn:1" in finding["message"] and "restore" in finding["fix"]
    assert not finding["repairable"]
    code, _ = findings(outputs, "--repair")
    assert code == 1 and not model.exists()
    assert (outputs / "registry" / "churn" / "1" / "metadata.json").is_file()


def test_a_run_left_running_by_a_dead_process_is_marked_interrupted(
    outputs: Path, evidence: dict[str, Any]
) -> None:
    folder = run_dir(outputs)
    record = json.loads((folder / "run.json").read_text())
    pid, tick = dead_process()
    record.update(status="running", pid=pid, pid_started=tick, finished_at=None)
    record["stages"][-1]["status"] = "running"
    (folder / "run.json").write_text(json.dumps(record))
    with sqlite3.connect(outputs / "mlops.db") as conn:  # a stage's tracking run, too
        conn.execute(
            "UPDATE tracking_runs SET status = 'running', pid = ?, pid_started = ? "
            "WHERE run_id = (SELECT min(run_id) FROM tracking_runs)",
            (pid, tick),
        )

    done = doctor(outputs)
    assert done.returncode == 1
    assert f"stale-run: {folder}" in done.stdout and f"pid {pid}" in done.stdout
    assert "killed during register" in done.stdout
    assert f"mlops-nb run --resume {folder.name}" in done.stdout
    assert "stale-tracking-run" in done.stdout

    repaired = doctor(outputs, "--repair")
    assert repaired.returncode == 0, repaired.stdout
    marked = json.loads((folder / "run.json").read_text())
    assert marked["status"] == "interrupted"
    assert marked["stages"][-1]["status"] == "interrupted"
    assert [s["status"] for s in marked["stages"][:-1]] == ["succeeded"] * 6
    assert rows(outputs, "SELECT status FROM pipeline_runs") == [("interrupted",)]
    assert rows(outputs, "SELECT count(*) FROM tracking_runs WHERE status = 'running'") == [(0,)]
    assert doctor(outputs).returncode == 0
    assert files_of(outputs / "registry" / "churn" / "1") == evidence["package"]
    listed = run_cli(outputs, "runs", "list")
    assert "interrupted" in listed.stdout


def test_a_cache_entry_whose_files_are_gone_is_dropped(
    outputs: Path, evidence: dict[str, Any]
) -> None:
    with sqlite3.connect(outputs / "mlops.db") as conn:
        conn.execute(
            "INSERT INTO cache_entries (fingerprint, run, dir, stored_at) VALUES (?, ?, ?, 0)",
            ("f" * 64, "20990101T000000.000000Z-dead", "05_train"),
        )
    code, found = findings(outputs)
    assert code == 1
    (finding,) = found
    assert finding["kind"] == "dangling-entry" and finding["repairable"]
    assert finding["where"].startswith("20990101T000000.000000Z-dead/05_train")
    assert "stage folder is gone" in finding["message"]
    code, found = findings(outputs, "--repair")
    assert code == 0 and found[0]["repaired"]
    assert rows(outputs, "SELECT count(*) FROM cache_entries") == [(7,)], "only that entry"
    assert findings(outputs) == (0, [])
    assert rows(outputs, "SELECT * FROM registry_alias_history ORDER BY id") == evidence["history"]


def test_a_changed_stage_file_is_reported_and_its_cache_entry_dropped(outputs: Path) -> None:
    train = run_dir(outputs) / "05_train" / "model.skops"
    train.write_bytes(b"not the model")
    code, found = findings(outputs, "--repair")
    assert code == 1, "the run folder is evidence: a person restores it"
    kinds = {(f["check"], f["kind"]): f for f in found}
    assert kinds[("runs", "sha256-mismatch")]["where"] == str(train)
    assert not kinds[("runs", "sha256-mismatch")]["repaired"]
    assert kinds[("cache", "dangling-entry")]["repaired"], "no later run reuses the damage"
    assert train.read_bytes() == b"not the model"
    assert rows(outputs, "SELECT count(*) FROM cache_entries WHERE dir = '05_train'") == [(0,)]


def test_leftovers_of_cut_short_writes_are_removed_and_a_rowless_package_set_aside(
    outputs: Path, evidence: dict[str, Any]
) -> None:
    folder = run_dir(outputs)
    planted = [
        outputs / "snapshots" / ".tmp-abcd1234.parquet",  # a snapshot being written
        folder / ".run.json.k2j4h5g6",  # run.json being rewritten
        folder / "05_train" / ".leaderboard.parquet.a1b2c3d4",  # an artifact being saved
    ]
    for path in planted:
        path.write_bytes(b"half")
    restoring = folder / ".06_evaluate.restoring"  # a cached stage being linked in
    shutil.copytree(folder / "06_evaluate", restoring)
    staging = outputs / "registry" / ".staging-q1w2e3r4"  # a package being written
    shutil.copytree(outputs / "registry" / "churn" / "1", staging)
    rowless = outputs / "registry" / "churn" / "2"  # moved into place, its row never committed
    shutil.copytree(outputs / "registry" / "churn" / "1", rowless)

    code, found = findings(outputs)
    assert code == 1
    where = {f["where"]: f for f in found}
    for path in [*planted, restoring, staging]:
        assert where[str(path)]["kind"] == "leftover" and where[str(path)]["repairable"]
    assert where[str(rowless)]["kind"] == "unregistered-package"
    assert "never registered" in where[str(rowless)]["message"]

    code, found = findings(outputs, "--repair")
    assert code == 0 and all(f["repaired"] for f in found)
    assert not any(p.exists() for p in [*planted, restoring, staging, rowless])
    (aside,) = (outputs / "registry" / "churn").glob(".orphan-2-*")
    assert files_of(aside) == evidence["package"], "set aside whole, not deleted"
    assert files_of(outputs / "registry" / "churn" / "1") == evidence["package"]
    assert (folder / "06_evaluate" / "stage.json").is_file()
    assert findings(outputs) == (0, [])


@pytest.mark.parametrize("where", ["header", "page"])
def test_a_corrupt_sqlite_store_is_found_and_kept_for_a_person(outputs: Path, where: str) -> None:
    database = outputs / "mlops.db"
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'registry_versions'"
        ).fetchone()
    data = bytearray(database.read_bytes())
    if where == "header":
        data[0:100] = b"\x42" * 100
    else:  # the first bytes of a table's b-tree page overwritten
        start = (root - 1) * size
        data[start : start + 64] = b"\xff" * 64
    database.write_bytes(bytes(data))

    done = doctor(outputs)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"damaged: {database}" in done.stdout
    assert ".recover" in done.stdout  # the fix
    assert "Traceback" not in done.stdout + done.stderr
    assert "runs       ok (1 runs" in done.stdout, "what does not need the store is still checked"
    package = files_of(outputs / "registry" / "churn" / "1")
    repaired = doctor(outputs, "--repair")
    assert repaired.returncode == 1
    assert database.read_bytes() == bytes(data), "the damaged store is kept as found"
    assert "registry-unchecked" in repaired.stdout, "the skipped registry checks are a finding"
    assert "unregistered-package:" not in repaired.stdout
    assert files_of(outputs / "registry" / "churn" / "1") == package, "never set aside"
    assert list((outputs / "registry" / "churn").iterdir()) == [
        outputs / "registry" / "churn" / "1"
    ]


def test_a_deleted_store_leaves_every_registered_package_where_it_is(outputs: Path) -> None:
    for path in outputs.glob("mlops.db*"):  # the database, and its -wal / -shm if any
        path.unlink()
    package = files_of(outputs / "registry" / "churn" / "1")
    code, found = findings(outputs, "--repair")
    assert code == 1
    kinds = {f["kind"]: f for f in found}
    assert "unregistered-package" not in kinds
    unchecked = kinds["registry-unchecked"]
    assert unchecked["where"] == str(outputs / "registry") and not unchecked["repaired"]
    assert "does not exist" in unchecked["message"] and "backup" in unchecked["fix"]
    assert files_of(outputs / "registry" / "churn" / "1") == package
    assert [p.name for p in (outputs / "registry" / "churn").iterdir()] == ["1"]
    assert not (outputs / "mlops.db").exists(), "the doctor does not create a store"


def test_an_empty_run_folder_is_removed_only_once_it_is_old(outputs: Path) -> None:
    empty = outputs / "runs" / "20990101T000000.000000Z-e0e0"
    empty.mkdir()  # a run may be starting now: it writes run.json next
    code, found = findings(outputs, "--repair")
    assert code == 1
    (finding,) = found
    assert finding["kind"] == "empty-run-folder" and finding["where"] == str(empty)
    assert not finding["repairable"] and not finding["repaired"]
    assert "may be a run starting now" in finding["fix"]
    assert empty.is_dir(), "a fresh empty run folder is kept"

    an_hour_ago = time.time() - 3600
    os.utime(empty, (an_hour_ago, an_hour_ago))
    code, found = findings(outputs, "--repair")
    assert code == 0 and [f["kind"] for f in found] == ["empty-run-folder"]
    assert found[0]["repaired"] and not empty.exists()
    assert findings(outputs) == (0, [])


def test_only_the_temporary_names_of_mlops_nb_writers_are_leftovers(outputs: Path) -> None:
    folder = run_dir(outputs)
    train = folder / "05_train"
    kept = [
        folder / ".env.template",  # a person's files: 8 letters after the last dot
        folder / ".train.notebook",
        train / ".env.template",
        train / ".train.notebook",
        outputs / "snapshots" / ".env.template",
        outputs / "registry" / ".train.notebook",
        train / "extra" / ".leaderboard.parquet.a1b2c3d4",  # no writer's temporary is this deep
        folder / ".leaderboard.parquet.a1b2c3d4",  # artifacts are written in stage folders
    ]
    (train / "extra").mkdir()
    for path in kept:
        path.write_text("mine")
    leftover = folder / ".run.json.k2j4h5g6"
    leftover.write_text("half")

    code, found = findings(outputs, "--repair")
    assert code == 0, found
    assert [(f["kind"], f["where"], f["repaired"]) for f in found] == [
        ("leftover", str(leftover), True)
    ]
    assert not leftover.exists()
    assert all(path.read_text() == "mine" for path in kept), "a person's files stay"


def unreadable(path: Path) -> OSError:
    return PermissionError(13, "Permission denied", str(path))


def test_files_the_doctor_cannot_read_are_findings_naming_them(
    outputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_nb.artifacts import sha256 as hashed
    from mlops_nb.config import load_settings
    from mlops_nb.maintenance import doctor as doctor_package
    from mlops_nb.maintenance.doctor import checksums

    model = outputs / "registry" / "churn" / "1" / "model.skops"
    folder = run_dir(outputs)
    listed = Path.iterdir

    def sha256(path: Path) -> str:  # as if chmod 000 (root reads anything: so injected)
        if path == model:
            raise unreadable(path)
        return hashed(path)

    def iterdir(self: Path) -> Iterator[Path]:
        if self == folder:
            raise unreadable(self)
        return listed(self)

    def cache(project: Any) -> None:  # an OSError without a file name, from anywhere
        raise OSError("Input/output error")

    monkeypatch.setattr(checksums, "sha256", sha256)
    monkeypatch.setattr(Path, "iterdir", iterdir)
    monkeypatch.setattr(doctor_package, "check_cache", cache)
    monkeypatch.setenv("MLOPS_NB_OUTPUTS", str(outputs))
    report = doctor_package.doctor(load_settings(REPO), repair=True)

    where = {(f.check, f.kind, f.where): f for f in report.findings}
    model_finding = where[("registry", "unreadable-file", str(model))]
    assert "cannot be read (Permission denied)" in model_finding.message
    assert f"check its permissions and owner (ls -ld {model})" in model_finding.fix
    run_finding = where[("runs", "unreadable", str(folder))]
    assert "Permission denied" in run_finding.message and "permissions" in run_finding.fix
    (cache_finding,) = [f for f in report.findings if f.check == "cache"]
    assert cache_finding.kind == "unreadable" and "Input/output error" in cache_finding.message
    assert report.checked["snapshots"]["snapshots"] == 1, "the checks after it still ran"
    assert report.exit_code == 1 and not any(f.repaired for f in report.findings)
    assert model.is_file()


def test_an_oserror_escaping_the_checks_is_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlops_nb.cli import doctor as command
    from mlops_nb.errors import MlopsNbError
    from mlops_nb.maintenance import doctor as doctor_package

    def failing(settings: Any, *, repair: bool) -> None:
        raise unreadable(Path("/somewhere/run.json"))

    monkeypatch.setattr(doctor_package, "doctor", failing)
    with pytest.raises(MlopsNbError, match=r"cannot read /somewhere/run\.json .*permissions"):
        command.doctor(repair=False, as_json=True)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway")
def test_a_chmod_000_file_and_folder_are_findings_not_a_traceback(outputs: Path) -> None:
    model = outputs / "registry" / "churn" / "1" / "model.skops"
    stage = run_dir(outputs) / "05_train"
    model.chmod(0)
    stage.chmod(0)
    try:
        done = doctor(outputs, "--json")
    finally:
        model.chmod(0o644)
        stage.chmod(0o755)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    found = {f["where"]: f for f in json.loads(done.stdout)["findings"]}
    assert found[str(model)]["kind"] == "unreadable-file"
    assert "permissions" in found[str(model)]["fix"]


def test_an_unreachable_store_exits_2_with_a_message(
    outputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_NB_STORE", "postgresql://nobody:secret@127.0.0.1:1/none")
    done = doctor(outputs)
    assert done.returncode == 2
    assert "cannot reach the PostgreSQL store" in done.stderr
    assert "secret" not in done.stderr and "Traceback" not in done.stderr


def test_a_newer_schema_is_named_with_the_upgrade(outputs: Path) -> None:
    with sqlite3.connect(outputs / "mlops.db") as conn:
        conn.execute("UPDATE schema_version SET version = 99 WHERE component = 'cache'")
    code, found = findings(outputs, "--repair")
    assert code == 1
    assert [f["kind"] for f in found] == ["schema-newer"]
    assert "upgrade mlops-nb" in found[0]["fix"]


def test_nothing_a_live_run_may_be_writing_is_touched(outputs: Path) -> None:
    folder = run_dir(outputs)
    record = json.loads((folder / "run.json").read_text())
    record.update(status="running", pid=os.getpid(), pid_started=start_tick(os.getpid()))
    (folder / "run.json").write_text(json.dumps(record))
    leftover = outputs / "snapshots" / ".tmp-zzzz9999.parquet"
    leftover.write_bytes(b"being written")

    done = doctor(outputs, "--repair")
    assert done.returncode == 1
    assert f"run {folder.name} is running: not checked" in done.stdout
    assert "stale-run" not in done.stdout
    assert "may be writing" in done.stdout
    assert leftover.read_bytes() == b"being written"
    assert json.loads((folder / "run.json").read_text())["status"] == "running"


def test_the_doctor_knows_the_registry_package_file_names() -> None:
    from mlops_nb.maintenance.doctor import registry as checks
    from mlops_nb.registry import package

    names = (package.MODEL_FILE, package.SIGNATURE_FILE, package.METADATA_FILE)
    assert names == (checks.MODEL_FILE, checks.SIGNATURE_FILE, checks.METADATA_FILE)


def test_the_doctor_checks_a_postgresql_store(
    outputs: Path, postgres: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_nb.config import load_settings
    from mlops_nb.maintenance.store import migrate_store

    url = postgres.fresh_schema()
    monkeypatch.setenv("MLOPS_NB_OUTPUTS", str(outputs))
    report = migrate_store(load_settings(REPO), url)
    assert report.ok, report.problems
    (outputs / "mlops.db").unlink()  # only the PostgreSQL store is left
    monkeypatch.setenv("MLOPS_NB_STORE", url)
    clean = doctor(outputs, "--json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert json.loads(clean.stdout)["checked"]["registry"]["versions"] == 1

    shutil.rmtree(outputs / "runs")  # the cache index now points at nothing
    done = doctor(outputs, "--repair", "--json")
    fixed = json.loads(done.stdout)["findings"]
    assert done.returncode == 0, done.stdout
    assert {f["kind"] for f in fixed} == {"dangling-entry"} and len(fixed) == 7
    assert all(f["repaired"] for f in fixed)
    assert doctor(outputs).returncode == 0
