"""Several processes registering the same model at once get distinct, gapless numbers."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from mlops_nb.registry import Registry

PROCESSES = 4
EACH = 3
FILES = {"model.skops", "signature.yaml", "metadata.json", "model_card.md", "model_card.html"}


def _register_many(database: str, root: str, worker: int, barrier) -> None:
    from .conftest import fit_pipeline, register_model

    model = fit_pipeline(seed=worker)
    with Registry(Path(database), Path(root)) as reg:
        barrier.wait(timeout=120)
        for step in range(EACH):
            register_model(reg, "churn", model, training_run=f"w{worker}-{step}")


def test_concurrent_registrations_are_numbered_without_gaps(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    database, root = tmp_path / "mlops.db", tmp_path / "registry"
    workers = [
        context.Process(target=_register_many, args=(str(database), str(root), n, barrier))
        for n in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=180)
    assert [worker.exitcode for worker in workers] == [0] * PROCESSES

    with Registry(database, root) as reg:
        versions = reg.versions("churn")
        assert versions["version"].tolist() == list(range(1, PROCESSES * EACH + 1))
        assert versions["training_run"].nunique() == PROCESSES * EACH
        for number in versions["version"]:
            folder = root / "churn" / str(number)
            assert {p.name for p in folder.iterdir()} == FILES
            meta = json.loads((folder / "metadata.json").read_text())
            assert meta["version"] == number
            assert reg.load("churn", int(number)).version.version == number
    assert sorted(p.name for p in root.iterdir()) == ["churn"]
    assert sorted(p.name for p in (root / "churn").iterdir()) == sorted(
        str(n) for n in range(1, PROCESSES * EACH + 1)
    )
