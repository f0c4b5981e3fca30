"""The executor seam: the runner drives any Executor, and needs no kernel to do it."""

from __future__ import annotations

import pickle
from concurrent.futures import CancelledError, Future
from pathlib import Path

import pytest

from mlops_nb.artifacts import write_json
from mlops_nb.errors import StageFailedError
from mlops_nb.pipeline.archive import list_runs
from mlops_nb.pipeline.executors import EXECUTED, StageResult, StageTask
from mlops_nb.pipeline.executors.local import LocalExecutor
from mlops_nb.pipeline.kernels.pool import KernelPool
from mlops_nb.pipeline.runner import Runner, plan_run

# declared a, c, b, d: c and b both need only a, d needs both
DIAMOND = """
pipelines:
  diamond:
    stages:
      a: {notebook: notebooks/produce.ipynb}
      c: {notebook: notebooks/produce.ipynb, needs: [a]}
      b: {notebook: notebooks/produce.ipynb, needs: [a]}
      d: {notebook: notebooks/produce.ipynb, needs: [b, c]}
"""


class FakeExecutor:
    """Executes a stage by writing what its template would; fails or hangs where told."""

    def __init__(self, slots: int = 1, fail: str = "", ctrl_c: str = "", hang: str = "") -> None:
        self.slots = slots
        self.fail, self.ctrl_c, self.hang = fail, ctrl_c, hang
        self.prepared: list[list[str]] = []
        self.tasks: list[StageTask] = []
        self.hanging: list[Future[StageResult]] = []
        self.interrupted = False
        self.closed = 0

    def prepare(self, tasks: list[StageTask]) -> None:
        self.prepared.append([task.stage for task in tasks])

    def submit(self, task: StageTask) -> Future[StageResult]:
        self.tasks.append(task)
        if task.stage == self.ctrl_c:
            raise KeyboardInterrupt  # as Ctrl-C does when a stage runs in the caller's thread
        future: Future[StageResult] = Future()
        if task.stage == self.hang:
            self.hanging.append(future)
        elif task.stage == self.fail:
            error = StageFailedError(
                f"stage '{task.stage}' failed in cell In [3]", stage=task.stage
            )
            future.set_result(StageResult(task.stage, error=error, kernel="fake"))
        else:
            manifest = {"stage": task.stage, "artifacts": {}, "metrics": {"order": len(self.tasks)}}
            write_json(Path(task.stage_dir) / "stage.json", manifest)
            (Path(task.stage_dir) / EXECUTED).write_text("{}")
            result = StageResult(
                task.stage,
                executed=task.executed,
                kernel_seconds=0.25,
                execute_seconds=0.5,
                kernel="fake",
                worker="fake-host",
            )
            future.set_result(result)
        return future

    def interrupt(self) -> None:
        self.interrupted = True
        for future in self.hanging:
            future.cancel()  # as a cluster's client cancels its tasks

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def no_kernels(monkeypatch):
    """Any attempt to start a kernel fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the runner started kernels itself")

    monkeypatch.setattr(KernelPool, "open", refuse)


def last_record(settings):
    return list_runs(settings.runs_dir)[-1]


def statuses(record):
    return {stage["name"]: stage["status"] for stage in record["stages"]}


def test_the_runner_submits_ready_stages_in_dag_order(make_project, no_kernels):
    settings = make_project(DIAMOND, notebooks=("produce",))
    fake = FakeExecutor()
    record = Runner(settings, executor=fake, cache=False).run(plan_run(settings))

    assert [task.stage for task in fake.tasks] == ["a", "c", "b", "d"]
    assert fake.prepared == [["a", "c", "b", "d"]] and fake.closed == 1
    first = fake.tasks[0]
    assert first.run_id == record["id"] and Path(first.run_dir) == Path(record["run_dir"])
    assert Path(first.stage_dir) == Path(record["run_dir"]) / "01_a"
    assert first.parameters == {"value": 1, "label": "x", "stage_dir": first.stage_dir}
    assert Path(first.cwd) == settings.root and first.notebook.endswith("produce.ipynb")
    assert record["status"] == "succeeded" and set(statuses(record).values()) == {"succeeded"}
    assert record["metrics"] == {"a.order": 1, "c.order": 2, "b.order": 3, "d.order": 4}
    stage = record["stages"][0]
    assert (stage["kernel"], stage["kernel_seconds"], stage["execute_seconds"]) == (
        "fake",
        0.25,
        0.5,
    )
    assert stage["executed"] == f"01_a/{EXECUTED}"


def test_a_cached_run_never_prepares_its_executor(make_project, no_kernels):
    settings = make_project(DIAMOND, notebooks=("produce",))
    Runner(settings, executor=FakeExecutor()).run(plan_run(settings))
    again = FakeExecutor()
    record = Runner(settings, executor=again).run(plan_run(settings))
    assert again.prepared == [] and again.tasks == [] and again.closed == 1
    assert all(stage["cached"] for stage in record["stages"])


def test_with_two_slots_a_failure_lets_the_running_stage_finish(make_project, no_kernels):
    settings = make_project(DIAMOND, notebooks=("produce",))
    fake = FakeExecutor(slots=2, fail="c")
    runner = Runner(settings, executor=fake, cache=False)
    with pytest.raises(StageFailedError):
        runner.run(plan_run(settings))
    record = last_record(settings)
    assert statuses(record) == {"a": "succeeded", "c": "failed", "b": "succeeded", "d": "skipped"}
    assert record["status"] == "failed" and record["error"]["stage"] == "c"
    assert record["stages"][1]["error"]["type"] == "StageFailedError"


def test_one_slot_failure_skips_even_independent_stages(make_project, no_kernels):
    settings = make_project(DIAMOND, notebooks=("produce",))
    runner = Runner(settings, executor=FakeExecutor(fail="c"), cache=False)
    with pytest.raises(StageFailedError):
        runner.run(plan_run(settings))
    assert statuses(last_record(settings)) == {
        "a": "succeeded",
        "c": "failed",
        "b": "skipped",
        "d": "skipped",
    }


def test_an_interruption_ends_the_running_stages_through_the_executor(make_project, no_kernels):
    settings = make_project(DIAMOND, notebooks=("produce",))
    fake = FakeExecutor(slots=2, hang="c", ctrl_c="b")
    runner = Runner(settings, executor=fake, cache=False)
    with pytest.raises(KeyboardInterrupt):
        runner.run(plan_run(settings))
    assert fake.interrupted and fake.closed == 1
    record = last_record(settings)
    assert record["status"] == "interrupted"
    assert statuses(record) == {
        "a": "succeeded",
        "c": "interrupted",
        "b": "interrupted",
        "d": "skipped",
    }
    assert record["stages"][1]["error"]["type"] == "CancelledError"


def test_a_result_marked_interrupted_interrupts_the_run(make_project, no_kernels):
    class Interrupted(FakeExecutor):
        def submit(self, task: StageTask) -> Future[StageResult]:
            future: Future[StageResult] = Future()
            future.set_result(StageResult(task.stage, kernel_seconds=1.5, interrupted=True))
            return future

    settings = make_project(DIAMOND, notebooks=("produce",))
    runner = Runner(settings, executor=Interrupted(), cache=False)
    with pytest.raises(KeyboardInterrupt):
        runner.run(plan_run(settings))
    record = last_record(settings)
    first = record["stages"][0]
    assert first["status"] == "interrupted" and first["kernel_seconds"] == 1.5
    assert record["status"] == "interrupted"


def test_tasks_and_results_travel_between_processes():
    task = StageTask("run-1", "train", "t.ipynb", "/r", "/r/05_train", {"seed": 1}, "/p")
    assert pickle.loads(pickle.dumps(task)) == task
    error = StageFailedError("stage 'train' failed in cell In [4]", stage="train", cell=4)
    back = pickle.loads(pickle.dumps(StageResult("train", error=error, worker="w-1")))
    assert isinstance(back.error, StageFailedError)
    assert back.error.message == error.message and (back.error.stage, back.error.cell) == (
        "train",
        4,
    )
    assert task.executed == f"/r/05_train/{EXECUTED}"


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_local_executor_starts_nothing_once_interrupted(jobs, no_kernels):
    executor = LocalExecutor(jobs)
    assert executor.slots == jobs
    executor.interrupt()
    result = executor.submit(StageTask("r", "s", "t.ipynb", "/r", "/r/s")).result(timeout=10)
    assert result.interrupted and result.executed is None
    executor.close()
    executor.close()  # twice is fine


def test_the_default_executor_is_local_with_the_runners_jobs(make_project):
    settings = make_project()
    assert isinstance(Runner(settings).executor, LocalExecutor)
    assert Runner(settings, jobs=3).executor.slots == 3


def test_a_cancelled_future_is_read_as_cancelled():
    from mlops_nb.pipeline.runner import _outcome

    future: Future[StageResult] = Future()
    future.cancel()
    result, error = _outcome(future)
    assert result is None and isinstance(error, CancelledError)
