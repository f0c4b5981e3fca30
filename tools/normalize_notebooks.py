"""Rewrite notebooks as JupyterLab saves them, without outputs (see ``normalize_notebook``).

Usage (from the repository root, with the project's virtualenv)::

    .venv/bin/python tools/normalize_notebooks.py templates notebooks          # rewrite
    .venv/bin/python tools/normalize_notebooks.py --check templates notebooks  # exit 1: differ

A path is a notebook or a folder (its ``*.ipynb``, not recursive). ``--check``
ignores the Python version in ``language_info``, which is the interpreter's
that last wrote the notebook.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlops_nb.scaffold import normalize_notebook, notebook_python_version


def notebooks(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.glob("*.ipynb")))
        elif path.suffix == ".ipynb" and path.is_file():
            found.append(path)
        else:
            raise SystemExit(f"{path}: not a notebook or a folder of notebooks")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="notebooks or folders of notebooks")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if any differ")
    args = parser.parse_args(argv)
    differing = []
    for path in notebooks(args.paths):
        text = path.read_text(encoding="utf-8")
        version = notebook_python_version(text) if args.check else None
        normal = normalize_notebook(text, python_version=version)
        if normal == text:
            continue
        differing.append(path)
        if not args.check:
            path.write_text(normal, encoding="utf-8")
            print(f"normalized {path}")
    if args.check and differing:
        print("not normalized (run tools/normalize_notebooks.py on them):", file=sys.stderr)
        for path in differing:
            print(f"  {path}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
