"""DAG order on graphlib: declaration order among ready stages, cycles named as a reader would."""

from __future__ import annotations

from mlops_nb.dag import ReadyStages, ancestors, cycle, run_order


def test_ready_stages_go_declared_first_first():
    needs = {"a": [], "c": ["a"], "b": ["a"], "d": ["b", "c"], "e": []}
    assert run_order(needs) == ["a", "c", "b", "d", "e"]
    ready = ReadyStages(needs)
    assert [ready.pop(), ready.pop(), ready.pop()] == ["a", "e", None]
    ready.done("a")
    assert [ready.pop(), ready.pop()] == ["c", "b"]
    ready.done("b")
    assert ready.pop() is None  # d still waits for c
    ready.done("c")
    assert ready.pop() == "d"


def test_stages_that_cannot_run_are_left_out():
    assert run_order({"a": ["nowhere"], "b": [], "c": ["a"]}) == ["b"]
    assert run_order({"a": ["b"], "b": ["a"], "c": []}) == ["c"]


def test_a_cycle_is_named_from_the_first_stage_that_cannot_run():
    assert cycle({"a": [], "b": ["a"]}) is None
    assert cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]
    # z comes after the cycle; the walk starts there and names the cycle it meets
    assert cycle({"ok": [], "z": ["y"], "y": ["x"], "x": ["y"]}) == ["y", "x", "y"]


def test_ancestors_include_the_stage_itself():
    needs = {"a": [], "b": ["a"], "c": ["b"], "d": []}
    assert ancestors("c", needs) == {"a", "b", "c"}
    assert ancestors("d", needs) == {"d"}
