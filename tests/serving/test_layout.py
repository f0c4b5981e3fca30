"""How serving is put together: no import cycle, no private import of another package."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import mlops_nb

PACKAGE = Path(mlops_nb.__file__).parent
CHECKED = [PACKAGE / "serving", PACKAGE / "validation" / "fast"]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at its top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def modules() -> dict[str, set[str]]:
    graph = {}
    for folder in CHECKED:
        for path in folder.rglob("*.py"):
            graph[module_name(path)] = imports(path)
    return graph


def test_serving_and_the_fast_checks_have_no_import_cycle():
    graph = modules()
    edges = {name: {m for m in found if m in graph and m != name} for name, found in graph.items()}
    graphlib.TopologicalSorter(edges).prepare()  # raises CycleError naming the cycle


def test_no_private_module_of_another_package_is_imported():
    for name, found in modules().items():
        package = ".".join(name.split(".")[:2])
        for target in found:
            if not target.startswith("mlops_nb."):
                continue
            private = [p for p in target.split(".")[2:] if p.startswith("_")]
            outside = not target.startswith(package + ".")
            assert not (private and outside), f"{name} imports {target}"
