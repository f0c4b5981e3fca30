"""Stages and what they need: run order, ancestors and cycles of a pipeline's DAG.

A DAG here is a mapping from each stage to the stages it needs, in declaration
order (pipeline.yaml's order). The order a run takes is
``graphlib.TopologicalSorter``'s, with one rule of ours on top: among the stages
that are ready, the one declared first goes first, so the order is the same on
every run and reads like the file (``static_order`` alone may interleave
branches differently).

This module sits below both :mod:`mlops_nb.stage` (which names missing upstream
stages in run order) and :mod:`mlops_nb.pipeline` (which checks and runs
pipelines), and imports nothing of theirs.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Collection, Mapping
from graphlib import CycleError, TopologicalSorter

Needs = Mapping[str, Collection[str]]
"""Each stage's name → the names of the stages it needs, in declaration order."""


class ReadyStages:
    """The stages that may start, declared-first first, as the stages they need finish.

    ``pop()`` hands out the next ready stage (None when none is ready now);
    ``done(name)`` marks one finished, which may make others ready. A stage that
    needs a name the mapping does not declare, or that sits on (or after) a
    cycle, never becomes ready (see :func:`cycle`).
    """

    def __init__(self, needs: Needs) -> None:
        self._index = {name: position for position, name in enumerate(needs)}
        self._sorter: TopologicalSorter[str] = TopologicalSorter()
        for name, wanted in needs.items():
            self._sorter.add(name, *wanted)
        with contextlib.suppress(CycleError):  # what comes before a cycle is still ordered
            self._sorter.prepare()
        self._heap: list[tuple[int, str]] = []
        self._take()

    def pop(self) -> str | None:
        """The ready stage declared first (it is no longer ready), or None."""
        if not self._heap:
            return None
        return heapq.heappop(self._heap)[1]

    def done(self, name: str) -> None:
        """Mark ``name`` (a stage :meth:`pop` gave) finished."""
        self._sorter.done(name)
        self._take()

    def _take(self) -> None:
        for name in self._sorter.get_ready():
            if name in self._index:  # a name only needed is never declared, never ready
                heapq.heappush(self._heap, (self._index[name], name))


def run_order(needs: Needs) -> list[str]:
    """The stages in the order a run takes them (see the module's documentation).

    Stages that can never run (an undeclared need, a cycle) are left out;
    :class:`ReadyStages` says why.
    """
    ready = ReadyStages(needs)
    order: list[str] = []
    while (name := ready.pop()) is not None:
        order.append(name)
        ready.done(name)
    return order


def ancestors(name: str, needs: Needs) -> set[str]:
    """``name`` and every stage it needs, directly or not (undeclared names included)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(needs.get(current, ()))
    return seen


def cycle(needs: Needs) -> list[str] | None:
    """A cycle of stages needing each other, ``[a, b, c, a]`` (a needs b ...), or None.

    ``graphlib`` finds whether there is one; the cycle named is found as a
    reader would: from the first declared stage that cannot run, following the
    first need that cannot run either, until a stage repeats. Every need must
    name a declared stage (:mod:`mlops_nb.pipeline.spec` checks that first).
    """
    try:
        TopologicalSorter(needs).prepare()
    except CycleError:
        pass
    else:
        return None
    placed = set(run_order(needs))
    left = {s: [n for n in wanted if n not in placed] for s, wanted in needs.items()}
    path = [next(s for s in needs if s not in placed)]
    while path.count(path[-1]) < 2:
        path.append(left[path[-1]][0])
    return path[path.index(path[-1]) :]


__all__ = ["Needs", "ReadyStages", "ancestors", "cycle", "run_order"]
