"""How much a serving environment installs: before and after the extras of issue 17.

Run from the repository root::

    .venv/bin/python bench/serving_install.py         # two fresh venvs, a few minutes

Two fresh virtualenvs are filled from the same mlops-nb wheel (the one a
deployment bundle carries, :func:`mlops_nb.serving.bundle.wheels.mlops_nb_wheel`)
and the machine's package index:

* **before**: ``mlops-nb[lab,serve]``: what a bundle's image installed when
  JupyterLab, ipywidgets, FastAPI and uvicorn were core dependencies;
* **after**: ``mlops-nb[serve]``: what a bundle's ``requirements.txt`` asks for now.

For each it prints the installed size of ``site-packages`` (MB, every file's
size), the number of distributions and the seconds the install took, then the
size ratio. The goal is the after/before ratio < 0.8 (the exit status says).
Install time depends on the index's cache and the machine's load; the sizes
do not.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

from mlops_nb import __version__
from mlops_nb.serving.bundle.wheels import mlops_nb_wheel

GOAL = 0.8
"""The serving environment must install less than this share of the old one."""


def install(folder: Path, wheel: Path, extras: str) -> dict[str, float]:
    """A new venv in ``folder`` with ``mlops-nb[extras]`` from ``wheel``; its size and cost."""
    venv.create(folder, with_pip=True)
    python = folder / "bin" / "python"
    command = [str(python), "-m", "pip", "install", "--quiet", "--no-cache-dir"]
    command += ["--find-links", str(wheel.parent), f"mlops-nb[{extras}]=={__version__}"]
    started = time.perf_counter()
    subprocess.run(command, check=True, timeout=1800)
    seconds = time.perf_counter() - started
    (site,) = (folder / "lib").glob("python*/site-packages")
    size = sum(path.stat().st_size for path in site.rglob("*") if path.is_file())
    dists = len(list(site.glob("*.dist-info")))
    return {"mb": size / 1e6, "dists": dists, "seconds": seconds}


def main() -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    wheel = mlops_nb_wheel(__version__)
    print(f"mlops-nb wheel: {wheel}")
    with tempfile.TemporaryDirectory(prefix="mlops-nb-install-") as tmp:
        before = install(Path(tmp) / "before", wheel, "lab,serve")
        after = install(Path(tmp) / "after", wheel, "serve")
    print(f"{'environment':<32} {'MB':>8} {'dists':>6} {'install s':>10}")
    for name, row in (("before: mlops-nb[lab,serve]", before), ("after: mlops-nb[serve]", after)):
        print(f"{name:<32} {row['mb']:>8.1f} {row['dists']:>6.0f} {row['seconds']:>10.1f}")
    ratio = after["mb"] / before["mb"]
    verdict = "PASS" if ratio < GOAL else "FAIL"
    print(f"after/before size: {ratio:.2f}x (goal < {GOAL}) {verdict}")
    saved_mb, saved_dists = before["mb"] - after["mb"], before["dists"] - after["dists"]
    print(f"saved: {saved_mb:.1f} MB, {saved_dists:.0f} distributions")
    return 0 if ratio < GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
