"""What a fork server imports before it forks: the *preload* list.

A forked kernel starts with every module its server imported. By default those
are the kernel's own machinery (:data:`ESSENTIALS`) and whatever the pipeline's
templates import, read from their code cells without running them
(:func:`code_imports`); ``MLOPS_NB_PRELOAD`` or ``Runner(preload=...)`` replaces
or edits that list (:func:`preload_modules`).

This runs in the runner, never in the fork server, which only receives the list.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

PRELOAD_ENV = "MLOPS_NB_PRELOAD"
# The kernel machinery itself: imported by every kernel before the first cell runs.
ESSENTIALS = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.comm",
    "ipykernel.debugger",
    "IPython.core.completer",
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.interactiveshell",
    "IPython.core.oinspect",
    "IPython.display",
    "IPython.extensions.storemagic",
    "jupyter_client.session",
    "psutil",
    "tornado.gen",
    "tornado.ioloop",
    "tornado.locks",
    "tornado.platform.asyncio",
    "tornado.queues",
)
# Never imported before the fork: the inline backend hooks itself into the kernel's
# shell when it is first imported, which must happen in the kernel.
NEVER_PRELOAD = ("matplotlib_inline", "ipykernel_launcher", "__future__", "__main__")


def preload_modules(
    notebooks: Iterable[Path], cwd: Path | None = None, requested: Sequence[str] | None = None
) -> list[str]:
    """The modules a fork server imports before forking stage kernels.

    Args:
        notebooks: the pipeline's templates; their code cells' imports are the default list.
        cwd: the kernels' working directory; a module there shadows an installed one
            in the kernel, so an installed module of the same name is never preloaded.
        requested: an explicit list (``Runner(preload=...)``); None reads
            ``MLOPS_NB_PRELOAD`` (comma-separated), and without it the templates'
            imports are used. In the list, ``auto`` stands for the templates' imports
            and ``-name`` leaves out a module and its submodules (``auto,-torch``).

    Returns:
        Entries ``module`` or ``module:attribute`` (an attribute is read after the
        import, which loads lazily exported names such as ``mlops_nb:Stage``), the
        kernel essentials first, only modules importable in this environment.
    """
    if requested is None:
        text = os.environ.get(PRELOAD_ENV)
        requested = ["auto"] if text is None else [p.strip() for p in text.split(",")]
    entries: list[str] = list(ESSENTIALS)
    left_out = tuple(item[1:].strip() for item in requested if item.startswith("-"))
    for item in requested:
        if item == "auto":
            entries += _template_imports(notebooks)
        elif item and not item.startswith("-"):
            entries.append(item)
    kept: list[str] = []
    for entry in dict.fromkeys(entries):
        module = entry.split(":", 1)[0]
        if any(module == out or module.startswith(f"{out}.") for out in left_out):
            continue
        if _importable(module.split(".", 1)[0], cwd):
            kept.append(entry)
    return kept


def _template_imports(notebooks: Iterable[Path]) -> list[str]:
    """Every import of the code cells of ``notebooks`` (unreadable files are skipped)."""
    found: list[str] = []
    for path in notebooks:
        try:
            cells = json.loads(Path(path).read_text()).get("cells", [])
        except (OSError, ValueError):
            continue
        for cell in cells:
            if cell.get("cell_type") == "code":
                source = cell.get("source", "")
                found += code_imports("".join(source) if isinstance(source, list) else source)
    return found


def code_imports(source: str) -> list[str]:
    """The modules (and attributes read from them) that a code cell imports.

    ``import pandas as pd`` gives ``pandas``; ``from a.b import c`` gives ``a.b`` and
    ``a.b:c``; ``import mlops_nb as mn`` then ``mn.Stage(...)`` gives ``mlops_nb``
    and ``mlops_nb:Stage``. IPython magics and shell escapes are ignored.

    Args:
        source: the cell's code.

    Returns:
        The entries in order of appearance, possibly repeated.
    """
    tree = _parse(source)
    if tree is None:
        return []
    found: list[str] = []
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for name in node.names:
                found.append(name.name)
                if name.asname:
                    aliases[name.asname] = name.name
                else:
                    top = name.name.split(".", 1)[0]
                    aliases.setdefault(top, top)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
            found += [f"{node.module}:{n.name}" for n in node.names if n.name != "*"]
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and not node.attr.startswith("_")
        ):
            found.append(f"{aliases[node.value.id]}:{node.attr}")
    return found


def _parse(source: str) -> ast.Module | None:
    """``source`` parsed as Python with IPython's magics and escapes blanked out."""
    lines = [
        "" if line.lstrip().startswith(("%", "!", "?")) or line.rstrip().endswith("?") else line
        for line in source.splitlines()
    ]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        pass
    # a cell IPython accepts but Python does not (x = !ls, %%magic): keep its plain imports
    kept = [ln for ln in lines if ln.startswith(("import ", "from "))]
    try:
        return ast.parse("\n".join(kept))
    except SyntaxError:
        return None


def _importable(top: str, cwd: Path | None) -> bool:
    """Whether the kernel would import the installed module ``top`` (not one in ``cwd``)."""
    if not top.isidentifier() or top in NEVER_PRELOAD:
        return False
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if cwd is not None:
        local = importlib.machinery.PathFinder.find_spec(top, [str(cwd)])
        if local is not None and _origin(local) != _origin(spec):
            return False
    return True


def _origin(spec: Any) -> str | None:
    """Where a module spec's code lives, resolved, so two specs can be compared."""
    where: str | None = spec.origin
    if where in {None, "namespace"} and spec.submodule_search_locations:
        where = next(iter(spec.submodule_search_locations), None)
    return os.path.realpath(where) if where and where not in {"built-in", "frozen"} else where


__all__ = ["ESSENTIALS", "NEVER_PRELOAD", "PRELOAD_ENV", "code_imports", "preload_modules"]
