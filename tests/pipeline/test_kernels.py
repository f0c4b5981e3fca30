"""Stage kernels: forked from a fork server, fresh every stage, and never left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from mlops_nb.errors import ForkServerError, StageFailedError
from mlops_nb.pipeline.kernels import client
from mlops_nb.pipeline.kernels.client import ForkServer, fork_wanted
from mlops_nb.pipeline.kernels.logs import FORK_SERVER_LOG, KERNEL_LOG
from mlops_nb.pipeline.kernels.preload import ESSENTIALS, code_imports, preload_modules
from mlops_nb.pipeline.kernels.provisioner import forkable, kernel_args
from mlops_nb.pipeline.runner import Runner, plan_run

# these tests look for leftover processes in /proc
needs_fork = pytest.mark.skipif(
    not (client.fork_supported() and sys.platform.startswith("linux")), reason="Linux only"
)


def notebook(path: Path, *cells: str, kernel: str = "python3") -> None:
    """A template naming ``kernel``: a parameters cell (``stage_dir = None``), then ``cells``."""
    parameters = new_code_cell("stage_dir = None")
    parameters.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[parameters, *(new_code_cell(c) for c in cells)])
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nbformat.write(nb, path)


def install_kernel(folder: Path, name: str, python: str, env: dict[str, str]) -> None:
    """A kernelspec ``name`` running ``python``, in ``folder`` (a JUPYTER_PATH entry)."""
    spec = {
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": name,
        "language": "python",
        "env": env,
    }
    (folder / "kernels" / name).mkdir(parents=True)
    (folder / "kernels" / name / "kernel.json").write_text(json.dumps(spec))


def pipeline_yaml(*stages: str) -> str:
    lines = ["pipelines:", "  demo:", "    stages:"]
    for name in stages:
        lines += [f"      {name}:", f"        notebook: notebooks/{name}.ipynb"]
    return "\n".join(lines) + "\n"


SAVE = "import json, pathlib\npathlib.Path(stage_dir, 'out.json').write_text(json.dumps(out))"
# The first stage leaves state everywhere a reused kernel would keep it.
DIRTY = (
    "import random, json, numpy as np\n"
    "import matplotlib.pyplot as plt\n"
    "leaked = 1\n"
    "json.mlops_nb_marker = 'set by dirty'\n"
    "out = {'pid': __import__('os').getpid(), 'random': random.random(),\n"
    "       'np': float(np.random.rand()), 'backend': plt.get_backend()}"
)
# The second stage looks for that state, draws its own random numbers and plots.
CLEAN = (
    "import random, json, numpy as np\n"
    "import matplotlib.pyplot as plt\n"
    "out = {'pid': __import__('os').getpid(), 'random': random.random(),\n"
    "       'np': float(np.random.rand()), 'leaked': 'leaked' in globals(),\n"
    "       'marker': hasattr(json, 'mlops_nb_marker'), 'backend': plt.get_backend()}\n"
    "plt.plot([1, 2, 3])"
)


def live_fork_processes(parent: int) -> list[int]:
    """Processes started for runner ``parent``: its fork server and the kernels forked from it."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            b"--parent" in argv
            and str(parent).encode() in argv
            and client.SERVER_CODE.encode() in argv
        ):
            found.append(int(entry.name))
    return found


def children() -> set[int]:
    pids: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        with open(task / "children") as handle:
            pids.update(int(p) for p in handle.read().split())
    return pids


def forked_pids(run_dir: Path) -> list[int]:
    text = (run_dir / FORK_SERVER_LOG).read_text()
    return [
        int(line.split("forked kernel ")[1].split()[0])
        for line in text.splitlines()
        if "forked kernel" in line
    ]


# ------------------------------------------------------------------ preload list, switches


def test_code_imports_finds_modules_and_the_attributes_read_from_them():
    source = (
        "%matplotlib inline\n"
        "!pip list\n"
        "import os.path, numpy as np\n"
        "from pandas import DataFrame, read_csv as rc\n"
        "import mlops_nb as mn\n"
        "from . import local\n"
        "stage = mn.Stage('x', stage_dir=None)\n"
        "mn._private\n"
        "np.random.rand()\n"
    )
    found = code_imports(source)
    assert found[:5] == ["os.path", "numpy", "pandas", "pandas:DataFrame", "pandas:read_csv"]
    assert {"mlops_nb", "mlops_nb:Stage", "numpy:random"} <= set(found)
    assert not any("_private" in f or "local" in f for f in found)
    assert code_imports("x = !ls\nimport json\n") == ["json"]  # IPython-only syntax
    assert code_imports("def broken(:\n") == []


def test_preload_comes_from_the_templates_and_keeps_only_what_imports(tmp_path, monkeypatch):
    monkeypatch.delenv("MLOPS_NB_PRELOAD", raising=False)
    nb = tmp_path / "t.ipynb"
    notebook(nb, "import json\nimport no_such_module_here\nfrom matplotlib_inline import x")
    modules = preload_modules([nb], cwd=tmp_path)
    assert modules[: len(ESSENTIALS)] == list(ESSENTIALS)
    assert "json" in modules
    assert not any(m.startswith(("no_such_module_here", "matplotlib_inline")) for m in modules)

    (tmp_path / "json.py").write_text("")  # the kernel would import this one, not the stdlib's
    assert "json" not in preload_modules([nb], cwd=tmp_path)

    monkeypatch.setenv("MLOPS_NB_PRELOAD", "csv, auto")
    assert {"csv", "json"} <= set(preload_modules([nb]))
    monkeypatch.setenv("MLOPS_NB_PRELOAD", "auto,-json,-ipykernel")
    assert not any(m.startswith(("json", "ipykernel")) for m in preload_modules([nb]))
    monkeypatch.setenv("MLOPS_NB_PRELOAD", "csv")
    assert "json" not in preload_modules([nb]) and "csv" in preload_modules([nb])
    assert preload_modules([nb], requested=[]) == list(ESSENTIALS)


def test_fork_switch(monkeypatch):
    monkeypatch.setenv("MLOPS_NB_FORK", "0")
    assert not fork_wanted()
    assert fork_wanted(True) == client.fork_supported()
    monkeypatch.setenv("MLOPS_NB_FORK", "1")
    assert fork_wanted() == client.fork_supported()
    assert not fork_wanted(False)


def test_only_this_interpreters_ipykernel_is_forked():
    python = sys.executable
    assert forkable([python, "-m", "ipykernel_launcher", "-f", "c.json"]) is None
    recent = [python, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "c.json"]
    assert forkable(recent) is None and kernel_args(recent) == ["-f", "c.json"]
    assert "another Python" in forkable(["/opt/other/bin/python", "-m", "ipykernel_launcher"])
    assert "not `python -m ipykernel_launcher`" in forkable(["/usr/bin/R", "--slave"])


# ------------------------------------------------------------------ the server on its own


def test_the_server_imports_only_the_standard_library_before_it_forks():
    probe = (
        "import sys, threading\n"
        "before = set(sys.modules)\n"
        f"{client.SERVER_CODE.split(';')[0]}\n"
        "loaded = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(threading.active_count(), *sorted(loaded - set(sys.stdlib_module_names)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "mlops_nb"]


@needs_fork
def test_server_reports_a_child_that_failed_and_leaves_nothing(tmp_path):
    log = tmp_path / "server.log"
    server = ForkServer.start(["json", "no_such_module_here"], cwd=tmp_path, log_path=log)
    try:
        info = server.wait_ready(30)
        assert info["loaded"] == ["json"] and "no_such_module_here" in info["failed"]
        kernel_log = tmp_path / "kernel.log"
        pid = server.spawn(["-f", "x.json"], cwd=tmp_path / "missing", env={}, log_path=kernel_log)
        deadline = time.monotonic() + 10
        while (status := server.poll(pid)) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert status == 1
        assert "FileNotFoundError" in kernel_log.read_text()
        assert server.send_signal(pid, signal.SIGTERM) is False  # reaped: never signalled again
        with pytest.raises(ForkServerError, match="not a kernel of this server"):
            server.poll(os.getpid())
    finally:
        server.close()
    assert server.process.returncode == 0
    assert live_fork_processes(os.getpid()) == []
    assert "forked kernel" in log.read_text()
    with pytest.raises(ForkServerError):
        server.poll(pid)


@needs_fork
def test_server_exits_when_its_runner_goes_away(tmp_path):
    runner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from mlops_nb.pipeline.kernels.client import ForkServer\n"
            "s = ForkServer.start(['json'], cwd=sys.argv[1])\n"
            "s.wait_ready(30)\n"
            "print(s.pid, flush=True)\n"
            "time.sleep(60)\n",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    server_pid = int(runner.stdout.readline())
    runner.kill()  # no chance to clean up
    runner.wait()
    runner.stdout.close()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{server_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{server_pid}").exists()


# ------------------------------------------------------------------ runs


@pytest.mark.slow
@needs_fork
def test_forked_stages_are_fresh_timed_and_cleaned_up(make_project, monkeypatch, tmp_path):
    monkeypatch.delenv("MLOPS_NB_FORK", raising=False)
    settings = make_project(pipeline_yaml("dirty", "clean"), notebooks=("produce",))
    # a kernel of this Python under the project's own name is forked (the interpreter
    # counts, not the name); one that is not installed is stood in for by python3
    install_kernel(tmp_path / "jupyter", "project-kernel", sys.executable, {"KERNEL_IS": "mine"})
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    whose = "out['kernel_is'] = __import__('os').environ.get('KERNEL_IS')"
    notebook(
        settings.root / "notebooks" / "dirty.ipynb", DIRTY, whose, SAVE, kernel="project-kernel"
    )
    notebook(settings.root / "notebooks" / "clean.ipynb", CLEAN, SAVE, kernel="absent-kernel")
    before = children()

    record = Runner(settings).run(plan_run(settings))

    run_dir = Path(record["run_dir"])
    for stage in record["stages"]:
        assert stage["status"] == "succeeded"
        assert 0 < stage["kernel_seconds"] < stage["seconds"] and stage["kernel"] == "forked"
        assert 0 < stage["execute_seconds"] < stage["seconds"]
    dirty = json.loads((run_dir / "01_dirty" / "out.json").read_text())
    clean = json.loads((run_dir / "02_clean" / "out.json").read_text())
    assert dirty["pid"] != clean["pid"] and forked_pids(run_dir) == [dirty["pid"], clean["pid"]]
    assert dirty["kernel_is"] == "mine"  # the template's kernel (its kernelspec's env)
    stand_in = (run_dir / "02_clean" / KERNEL_LOG).read_text()
    assert "'absent-kernel' named by" in stand_in and "runs in Jupyter's default kernel" in stand_in
    assert "ipykernel install --sys-prefix --name absent-kernel" in stand_in
    assert clean["leaked"] is False and clean["marker"] is False
    assert dirty["random"] != clean["random"] and dirty["np"] != clean["np"]
    assert "inline" in clean["backend"]
    executed = nbformat.read(run_dir / "02_clean" / "executed.ipynb", as_version=4)
    assert any(
        "image/png" in o.get("data", {}) for c in executed.cells for o in c.get("outputs", [])
    )
    assert (run_dir / "01_dirty" / KERNEL_LOG).is_file()
    assert live_fork_processes(os.getpid()) == []
    assert not any(Path(f"/proc/{pid}").exists() for pid in forked_pids(run_dir))
    assert children() - before == set()


@pytest.mark.slow
@needs_fork
def test_without_fork_kernels_start_the_ordinary_way(make_project, monkeypatch):
    monkeypatch.setenv("MLOPS_NB_FORK", "0")
    settings = make_project(pipeline_yaml("dirty", "clean"), notebooks=("produce",))
    notebook(settings.root / "notebooks" / "dirty.ipynb", DIRTY, SAVE)
    notebook(settings.root / "notebooks" / "clean.ipynb", CLEAN, SAVE)
    before = children()

    record = Runner(settings).run(plan_run(settings))

    run_dir = Path(record["run_dir"])
    assert not (run_dir / FORK_SERVER_LOG).exists()
    assert all(s["kernel_seconds"] > 0 and s["execute_seconds"] > 0 for s in record["stages"])
    assert {s["kernel"] for s in record["stages"]} == {"ordinary"}
    clean = json.loads((run_dir / "02_clean" / "out.json").read_text())
    assert clean["leaked"] is False and "inline" in clean["backend"]
    assert children() - before == set()


@pytest.mark.slow
@needs_fork
def test_a_server_that_cannot_fork_falls_back_to_ordinary_kernels(make_project, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise ForkServerError("the fork server is gone (test)")

    monkeypatch.setattr(ForkServer, "spawn", refuse)
    settings = make_project(pipeline_yaml("dirty"), notebooks=("produce",))
    notebook(settings.root / "notebooks" / "dirty.ipynb", DIRTY, SAVE)

    record = Runner(settings).run(plan_run(settings))

    assert record["stages"][0]["status"] == "succeeded"
    assert record["stages"][0]["kernel"] == "ordinary"
    text = (Path(record["run_dir"]) / "01_dirty" / KERNEL_LOG).read_text()
    assert "starting an ordinary kernel instead of a forked one" in text and "(test)" in text
    assert live_fork_processes(os.getpid()) == []


@pytest.mark.slow
@needs_fork
def test_a_forked_kernel_that_does_not_start_is_retried_once(make_project, monkeypatch):
    spawn = ForkServer.spawn

    def broken_cwd(self, argv, *, cwd, env, log_path, timeout=30):
        return spawn(self, argv, cwd="/nonexistent/dir", env=env, log_path=log_path)

    monkeypatch.setattr(ForkServer, "spawn", broken_cwd)
    settings = make_project(pipeline_yaml("dirty"), notebooks=("produce",))
    notebook(settings.root / "notebooks" / "dirty.ipynb", DIRTY, SAVE)

    record = Runner(settings).run(plan_run(settings))

    run_dir = Path(record["run_dir"])
    assert record["stages"][0]["status"] == "succeeded"
    assert record["stages"][0]["kernel"] == "ordinary (retry)"
    text = (run_dir / "01_dirty" / KERNEL_LOG).read_text()
    assert "FileNotFoundError" in text  # the forked child's own report
    assert "did not start" in text and "retrying once with an ordinary kernel" in text
    assert json.loads((run_dir / "01_dirty" / "out.json").read_text())["pid"] not in forked_pids(
        run_dir
    )
    assert live_fork_processes(os.getpid()) == []


@pytest.mark.slow
@needs_fork
def test_a_kernel_killed_mid_stage_fails_the_stage_naming_the_cell(make_project):
    settings = make_project(pipeline_yaml("dies", "never"), notebooks=("produce",))
    notebook(
        settings.root / "notebooks" / "dies.ipynb",
        "import os, signal",
        "os.kill(os.getpid(), signal.SIGKILL)",
    )
    notebook(settings.root / "notebooks" / "never.ipynb", "x = 1")
    before = children()

    with pytest.raises(StageFailedError) as caught:
        Runner(settings).run(plan_run(settings))

    error = caught.value
    assert error.stage == "dies" and error.ename == "DeadKernelError"
    assert error.cell == 4  # parameters, injected parameters, import, kill
    assert "In [4] (os.kill(os.getpid(), signal.SIGKILL))" in str(error)
    assert "killed by SIGKILL" in str(error) and KERNEL_LOG in str(error)
    run_dir = error.notebook.parent.parent
    record = json.loads((run_dir / "run.json").read_text())
    assert [s["status"] for s in record["stages"]] == ["failed", "skipped"]
    assert record["stages"][0]["kernel_seconds"] > 0
    assert live_fork_processes(os.getpid()) == []
    assert children() - before == set()


@pytest.mark.slow
@needs_fork
def test_sigterm_mid_stage_leaves_no_server_or_kernel(make_project):
    settings = make_project(pipeline_yaml("sleeps"), notebooks=("produce",))
    notebook(settings.root / "notebooks" / "sleeps.ipynb", "import time\ntime.sleep(120)")
    env = {**os.environ, "MLOPS_NB_FORK": "1"}
    cli = subprocess.Popen(
        [sys.executable, "-m", "mlops_nb", "run", "demo"],
        cwd=settings.root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        run_dirs: list[Path] = []
        while time.monotonic() < deadline:
            run_dirs = list(settings.runs_dir.glob("*/01_sleeps/executed.ipynb"))
            if run_dirs and "time.sleep" in run_dirs[0].read_text() and _running(run_dirs[0]):
                break
            time.sleep(0.1)
        assert run_dirs, "the stage never started"
        kernels = forked_pids(run_dirs[0].parent.parent)
        assert len(kernels) == 1 and live_fork_processes(cli.pid)
        cli.send_signal(signal.SIGTERM)
        cli.wait(30)  # (its exit status is the CLI's business, not checked here)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    record = json.loads((run_dirs[0].parent.parent / "run.json").read_text())
    assert record["status"] == "interrupted"
    assert live_fork_processes(cli.pid) == []
    assert not Path(f"/proc/{kernels[0]}").exists()


def _running(executed: Path) -> bool:
    try:
        nb = nbformat.read(executed, as_version=4)
    except Exception:  # written while we read
        return False
    return any(c.metadata.get("papermill", {}).get("status") == "running" for c in nb.cells)
