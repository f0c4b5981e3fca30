"""Several processes registering the same model at once get distinct, gapless numbers,
and every alias move they make is in the audit history, on each store backend."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from mlops_nb.registry import Registry

PROCESSES = 8
FILES = {"model.skops", "signature.yaml", "metadata.json", "model_card.md", "model_card.html"}


def _register(location: str, root: str, worker: int, barrier) -> None:
    from .conftest import fit_pipeline, register_model

    model = fit_pipeline(seed=worker)
    with Registry(location, Path(root)) as reg:
        barrier.wait(timeout=120)
        version = register_model(reg, "churn", model, training_run=f"w{worker}")
        reg.set_alias("churn", "staging", version.version, reason=f"registered by w{worker}")


def test_concurrent_registrations_are_numbered_without_gaps_or_lost_moves(
    store_url: str, tmp_path: Path
) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    root = tmp_path / "registry"
    workers = [
        context.Process(target=_register, args=(store_url, str(root), n, barrier))
        for n in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES

    with Registry(store_url, root) as reg:
        versions = reg.versions("churn")
        assert versions["version"].tolist() == list(range(1, PROCESSES + 1))
        assert versions["training_run"].nunique() == PROCESSES
        for number in versions["version"]:
            folder = root / "churn" / str(number)
            assert {p.name for p in folder.iterdir()} == FILES
            meta = json.loads((folder / "metadata.json").read_text())
            assert meta["version"] == number
            assert reg.load("churn", int(number)).version.version == number
        # one audit row per move, each starting where the previous one ended: none lost
        history = reg.history("churn", "staging")
        assert len(history) == PROCESSES
        assert history["from_version"].isna().iloc[0]
        moves = zip(history["from_version"].iloc[1:], history["to_version"].iloc[:-1], strict=True)
        assert all(int(a) == int(b) for a, b in moves)
        assert sorted(history["to_version"].astype(int)) == list(range(1, PROCESSES + 1))
        assert reg.get("churn", "staging").version == int(history["to_version"].iloc[-1])
    assert sorted(p.name for p in root.iterdir()) == ["churn"]
    assert sorted(p.name for p in (root / "churn").iterdir()) == sorted(
        str(n) for n in range(1, PROCESSES + 1)
    )
