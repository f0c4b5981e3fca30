"""Broken and hostile input gets a clear answer, and leaves nothing half done.

Every case of :mod:`tests.reliability.corpus_cases` runs ``mlops-nb`` as a user
would (a subprocess in a fresh project) and must give the documented exit code,
a message naming what is wrong, where, and the fix, no Python traceback, no run
left ``running`` or wrongly ``succeeded``, and an unchanged store.
``python bench/corpus.py`` prints the same cases as a table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.corpus_cases import CASES, Case, Outcome, Workspace, execute, registry_part

MAX_MESSAGE_CHARS = 10_000
"""An error is a message, never a dump of the input."""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("corpus"))


def _cases() -> list[object]:
    return [
        pytest.param(case, id=case.name, marks=[pytest.mark.slow] if case.slow else [])
        for case in CASES
    ]


def test_the_corpus_covers_every_kind_of_input() -> None:
    names = [case.name for case in CASES]
    assert len(names) >= 50 and len(set(names)) == len(names)
    assert {case.category for case in CASES} == {
        "data",
        "source",
        "names",
        "pipeline.yaml",
        "params",
        "registry",
    }
    assert all(case.code in (0, 1, 2) and case.says for case in CASES)


@pytest.mark.parametrize("case", _cases())
def test_hostile_input_gets_a_clear_answer(case: Case, workspace: Workspace) -> None:
    outcome = execute(case, workspace)
    shown = f"mlops-nb {' '.join(outcome.args)}\n--- stdout\n{outcome.stdout[-3000:]}\n" + (
        f"--- stderr\n{outcome.stderr[-3000:]}"
    )
    assert outcome.code == case.code, shown
    for words in case.says:
        assert words in outcome.output, f"the message lacks {words!r}\n{shown}"
    assert "Traceback" not in outcome.output, shown
    assert len(outcome.stderr) < MAX_MESSAGE_CHARS, shown
    if case.code:
        assert "error:" in outcome.stderr, shown
    _check_runs(case, outcome)
    _check_store(case, outcome)
    assert outcome.kept_after == outcome.kept_before, "a file the case must not change changed"
    for name in case.absent:
        assert not Path(outcome.root, name).exists(), f"{name} exists: hostile content ran"


def _check_runs(case: Case, outcome: Outcome) -> None:
    """No run for a refused request; one run, recorded as it ended, for one that started."""
    if case.run == "none":
        assert outcome.runs == [], "a refused request left a run behind"
        return
    assert len(outcome.runs) == 1, [r["id"] for r in outcome.runs]
    record = outcome.runs[0]
    assert record["status"] == case.run, record["status"]
    statuses = {stage["name"]: stage["status"] for stage in record["stages"]}
    assert "running" not in statuses.values(), statuses
    if case.run == "failed":
        assert list(statuses.values()).count("failed") == 1, statuses
        assert record.get("error") or any(s.get("error") for s in record["stages"]), record


def _check_store(case: Case, outcome: Outcome) -> None:
    """The store as it was: all of it for a refused request, the registry for any run."""
    if case.run == "none":
        assert outcome.store_after == outcome.store_before, "a refused request changed the store"
    else:
        assert registry_part(outcome.store_after) == registry_part(outcome.store_before)
