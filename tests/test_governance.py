"""Governance end to end through the CLI: reviewed promotions, the fairness gate, personal data.

A project of its own (the demo's templates, a pipeline.yaml with a ``governance:``
section) trains on a CSV carrying planted personal data; different people act
through ``MLOPS_NB_USER``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

from mlops_nb.config import load_settings
from mlops_nb.data import generate_churn
from mlops_nb.privacy import luhn_valid
from mlops_nb.serving import start_server
from tests.conftest import REPO

pytestmark = pytest.mark.slow

ROWS = 1500


def _card(seed: int) -> str:
    """A 16-digit number that passes the Luhn check."""
    rng = np.random.default_rng(seed)
    while True:
        digits = "4" + "".join(str(d) for d in rng.integers(0, 10, 15))
        if luhn_valid(digits):
            return f"{digits[:4]} {digits[4:8]} {digits[8:12]} {digits[12:]}"


def planted(rows: int = ROWS) -> pd.DataFrame:
    """The churn sample with an e-mail, a phone number, a payment card and a name per customer."""
    frame = generate_churn(rows=rows, seed=3)
    first = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken"]
    last = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson"]
    n = len(frame)
    frame["email"] = [f"person{i}.secret@example.org" for i in range(n)]
    frame["phone"] = [f"+44 20 7{i:03d} {(i * 7919) % 10000:04d}"[:16] for i in range(n)]
    frame["card_number"] = [_card(i) for i in range(n)]
    frame["full_name"] = [f"{first[i % 8]} {last[(i // 8) % 8]}" for i in range(n)]
    return frame


def write_project(root: Path, governance: dict) -> None:
    """The demo project's templates with ``governance`` as its policy."""
    root.mkdir(parents=True, exist_ok=True)
    spec = yaml.safe_load((REPO / "pipeline.yaml").read_text())
    spec["governance"] = governance
    spec.pop("contracts", None)
    (root / "pipeline.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    shutil.copytree(REPO / "templates", root / "templates")


def cli(root: Path, *args: str, user: str = "alice") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLOPS_NB_PROJECT": str(root), "MLOPS_NB_USER": user}
    env.pop("MLOPS_NB_OUTPUTS", None)
    return subprocess.run(
        [sys.executable, "-m", "mlops_nb", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def as_json(result: subprocess.CompletedProcess[str]) -> dict:
    return json.loads(ok(result).stdout)


def refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    message = result.stdout + result.stderr
    assert result.returncode == 2, message  # bad input: the README's exit codes
    assert "Traceback" not in message, message
    for word in words:
        assert word in message, (word, message)
    return message


def raw_values_in(folder: Path, values: set[str]) -> list[str]:
    """Where any of ``values`` is under ``folder``: parquet cells read, other files as bytes."""
    hits = []
    encoded = [v.encode() for v in values]
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
            text = "\n".join(
                [
                    *map(str, frame.columns),
                    *(frame[c].astype(str).str.cat(sep="\n") for c in frame.columns),
                ]
            )
            hits += [f"{path}: {v}" for v in values if v in text]
            continue
        data = path.read_bytes()
        hits += [f"{path}: {v.decode()}" for v in encoded if v in data]
    return hits


@pytest.fixture(scope="module")
def governed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A protected production alias, region as the sensitive column; one full run by alice."""
    root = tmp_path_factory.mktemp("governed")
    write_project(
        root,
        {
            "protected_aliases": ["production"],
            "sensitive": ["region"],
            "max_disparity": {"selection_rate": 0.5},
        },
    )
    data = planted()
    data.to_csv(root / "customers.csv", index=False)
    run = ok(cli(root, "run", "train", "-p", "data_source=customers.csv"))
    return {"root": root, "data": data, "run": run}


def test_personal_data_never_reaches_the_run_the_registry_or_the_inference_log(
    governed, monkeypatch
):
    root, data = governed["root"], governed["data"]
    outputs = root / "outputs"
    monkeypatch.delenv("MLOPS_NB_OUTPUTS", raising=False)
    monkeypatch.delenv("MLOPS_NB_STORE", raising=False)
    served = start_server("customers@staging", load_settings(root), model_process=False)
    try:
        full = json.loads(data.drop(columns=["churned"]).head(20).to_json(orient="records"))
        with httpx.Client(base_url=served.url, timeout=30.0) as http:
            wanted = [c["name"] for c in http.get("/metadata").json()["signature"]["columns"]]
            records = [{k: r[k] for k in wanted} for r in full]
            answers = [http.post("/predict", json={"records": records[i : i + 5]}) for i in (0, 5)]
            # a client sending the personal data anyway is refused, and nothing of it is logged
            sent = http.post("/predict", json={"records": full[:3]})
    finally:
        served.stop()
    assert [a.status_code for a in answers] == [200, 200], answers[0].text
    assert sent.status_code == 422 and "email" in sent.text, sent.text
    planted_values = set()
    for column in ("email", "phone", "card_number", "full_name"):
        planted_values |= set(data[column].head(200))
    hits = raw_values_in(outputs, planted_values)
    assert not hits, hits[:10]
    # what was searched holds what was at risk: snapshots, run data, notebooks, reports, the log
    assert list((outputs / "snapshots").glob("*.parquet"))
    run = sorted((outputs / "runs").iterdir())[-1]
    for name in ("01_ingest/executed.ipynb", "01_ingest/report.html", "index.html"):
        assert (run / name).is_file(), name
    logs = list((outputs / "inference").glob("*.db"))
    assert logs, "the served requests are in an inference log"
    with sqlite3.connect(logs[0]) as conn:
        assert conn.execute("SELECT COUNT(*) FROM inference_log").fetchone()[0] > 0

    found = pd.read_parquet(next(run.glob("*_validate")) / "personal_data.parquet")
    kinds = dict(zip(found["column"], found["kind"], strict=True))
    assert kinds == {
        "email": "email",
        "phone": "phone",
        "card_number": "payment_card",
        "full_name": "person_name",
    }
    snapshot = pd.read_parquet(next((outputs / "snapshots").glob("*.parquet")))
    assert snapshot["email"].str.startswith("pii:").all()
    assert snapshot["email"].nunique() == len(data), "pseudonyms keep distinct values distinct"

    version = as_json(cli(root, "models", "show", "customers", "--json"))["versions"][0]
    package = outputs / "registry" / "customers" / str(version["version"])
    signature = yaml.safe_load((package / "signature.yaml").read_text())
    assert not set(signature["columns"]) & {"email", "phone", "card_number", "full_name"}
    card = (package / "model_card.md").read_text()
    assert "Personal data" in card and "card_number" in card and "payment_card" in card
    assert card.split("## Intended use")[1].split("##")[0].strip() == "Not stated."
    assert "Rank customers by churn risk" not in card


def test_the_gate_proposes_and_only_another_persons_approval_moves_production(governed):
    root = governed["root"]
    pending = as_json(cli(root, "models", "pending", "--json"))["pending"]
    assert [(p["name"], p["version"], p["alias"]) for p in pending] == [
        ("customers", 1, "production")
    ]
    proposal = pending[0]
    assert proposal["proposed_by"] == "alice" and proposal["report_sha256"]
    show = as_json(cli(root, "models", "show", "customers", "--json"))["versions"][0]
    assert "production" not in (show["aliases"] or ""), "a proposal moves nothing"

    refused(
        cli(root, "models", "promote", "customers", "1", "production", "--reason", "ship it"),
        "protected",
        "models approve customers 1 production",
    )
    refused(
        cli(root, "models", "approve", "customers", "1", "production", "--reason", "mine"),
        "alice registered customers v1",
    )
    refused(
        cli(
            root,
            *("models", "approve", "customers", "1", "production", "--reason", "looks fine"),
            *("--report-sha256", "0" * 64),
            user="bob",
        ),
        "changed since review",
    )
    approved = as_json(
        cli(
            root,
            *("models", "approve", "customers", "1", "production", "--reason", "reviewed"),
            *("--report-sha256", proposal["report_sha256"], "--json"),
            user="bob",
        )
    )
    assert approved["version"] == 1 and approved["report_sha256"] == proposal["report_sha256"]
    assert as_json(cli(root, "models", "pending", "--json"))["pending"] == []

    history = as_json(
        cli(root, "models", "history", "customers", "--alias", "production", "--json")
    )["history"]
    assert [(h["event"], h["actor"], h["to_version"]) for h in history] == [
        ("proposed", "alice", 1),
        ("approved", "bob", 1),
        ("approved move", "bob", 1),
    ]
    assert proposal["report_sha256"] in history[1]["reason"]


def test_lineage_follows_production_from_the_data_to_its_deployment_and_monitoring(governed):
    root = governed["root"]
    monitor = ok(
        cli(root, "run", "monitor", "-p", "model=customers", "-p", "current_data=customers.csv")
    )
    assert "succeeded" in monitor.stdout
    chain = as_json(cli(root, "lineage", "customers@production", "--json"))
    runs = sorted((root / "outputs" / "runs").iterdir())
    train = json.loads((runs[0] / "run.json").read_text())
    monitored = json.loads((runs[-1] / "run.json").read_text())
    assert chain["model"]["ref"] == "customers:1" and chain["model"]["registered_by"] == "alice"
    assert chain["run"]["id"] == train["id"] and chain["run"]["missing"] is False
    assert chain["data"]["source"] == "customers.csv"
    assert chain["data"]["data_version"] == train["data_versions"]["raw"]
    assert chain["data"]["snapshot"]["present"] is True
    assert [(s["name"], s["status"]) for s in chain["stages"]] == [
        (s["name"], s["status"]) for s in train["stages"]
    ]
    production = [(a["event"], a["actor"]) for a in chain["audit"] if a["alias"] == "production"]
    assert production == [("proposed", "alice"), ("approved", "bob"), ("approved move", "bob")]
    assert [d["run"] for d in chain["deployments"]] == [train["id"]]
    assert [m["run"] for m in chain["monitoring"]] == [monitored["id"]]
    assert chain["monitoring"][0]["decision"] in {"ok", "drift", "degraded"}

    text = ok(cli(root, "lineage", "customers@production")).stdout
    for link in (
        "data source",
        "snapshot",
        "run",
        "stage",
        "version",
        "approved move",
        "deployed",
        "monitored",
    ):
        assert link in text, link
    # the monitor run saved the current data pseudonymised too
    planted = set(governed["data"]["email"].head(50))
    assert not raw_values_in(runs[-1], planted)
    missing = cli(root, "lineage", "customers@nonexistent")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_an_emergency_rollback_needs_no_approval_and_is_recorded_as_one(governed):
    root = governed["root"]
    ok(
        cli(
            root,
            "run",
            "train",
            "-p",
            "data_source=customers.csv",
            "-p",
            "seed=1",
            "--until",
            "register",
        )
    )
    versions = as_json(cli(root, "models", "show", "customers", "--json"))["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    pending = as_json(cli(root, "models", "pending", "--json"))["pending"]
    if not pending:  # the gate kept the champion: propose by hand, as a reviewer would
        ok(cli(root, "models", "propose", "customers", "2", "production", "--reason", "retrained"))
    ok(cli(root, "models", "approve", "customers", "2", "production", "--reason", "ok", user="bob"))
    rolled = as_json(
        cli(
            root,
            "models",
            "rollback",
            "customers",
            "--reason",
            "errors spiked",
            "--json",
            user="carol",
        )
    )
    assert (rolled["from_version"], rolled["version"]) == (2, 1)
    last = as_json(cli(root, "models", "history", "customers", "--alias", "production", "--json"))[
        "history"
    ][-1]
    assert (last["event"], last["actor"], last["from_version"], last["to_version"]) == (
        "rollback",
        "carol",
        2,
        1,
    )
    assert "emergency rollback" in last["reason"] and "errors spiked" in last["reason"]


def test_the_fairness_gate_blocks_a_model_whose_selection_rate_differs_across_groups(tmp_path):
    root = tmp_path / "fair"
    write_project(root, {"sensitive": ["segment"], "max_disparity": {"selection_rate": 0.1}})
    data = generate_churn(rows=ROWS, seed=5)
    rng = np.random.default_rng(0)
    # churn depends strongly on the segment, and the model is allowed to read it
    data["segment"] = np.where(rng.random(len(data)) < 0.5, "a", "b")
    data["churned"] = np.where(
        data["segment"] == "a", rng.random(len(data)) < 0.8, rng.random(len(data)) < 0.05
    )
    data.to_csv(root / "biased.csv", index=False)
    ok(cli(root, "run", "train", "-p", "data_source=biased.csv", "--until", "register"))
    run = sorted((root / "outputs" / "runs").iterdir())[-1]
    decision = json.loads((next(run.glob("*_register")) / "decision.json").read_text())
    assert decision["promote"] is False
    assert decision["reason"].startswith("blocked by the fairness gate: selection_rate on segment")
    worst = next(d for d in decision["fairness"]["disparities"] if d["measure"] == "selection_rate")
    assert worst["exceeded"] and worst["difference"] > 0.1 and worst["limit"] == 0.1
    groups = pd.read_parquet(next(run.glob("*_evaluate")) / "fairness_groups.parquet")
    rates = groups.set_index("group")["selection_rate"]
    assert abs(rates["a"] - rates["b"]) == pytest.approx(worst["difference"])
    versions = as_json(cli(root, "models", "show", "biased", "--json"))["versions"]
    assert "production" not in (versions[0]["aliases"] or "")
    card = (root / "outputs" / "registry" / "biased" / "1" / "model_card.md").read_text()
    assert "Fairness check FAILED" in card
    assert (next(run.glob("*_evaluate")) / "fairness_figure.png").stat().st_size > 1000
