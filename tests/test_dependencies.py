"""Every import of the package is declared where it belongs in pyproject.toml.

Each ``import``/``from`` of mlops_nb/ (module level, in functions, under
TYPE_CHECKING) is parsed with ``ast``; its top-level module is mapped to the
distributions that install it (``importlib.metadata.packages_distributions``).
A module of a core dependency may be imported anywhere; a module that only an
extra declares, only in the parts of the package that extra is for. So a new
``import scipy`` without a declaration, or ``import fastapi`` in the registry,
fails here instead of in a user's core install.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from dataclasses import dataclass
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from mlops_nb.extras import EXTRA_MODULES
from mlops_nb.serving.bundle.texts import SERVING_PACKAGES

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "mlops_nb"
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]

WHERE_EXTRAS_GO = {
    "serve": ("mlops_nb.serving.http",),
    "lab": ("mlops_nb.lab", "mlops_nb.widgets"),
    "dask": (
        "mlops_nb.clusters",
        "mlops_nb.cli.cluster",
        "mlops_nb.pipeline.executors",
        "mlops_nb.modeling",
        "mlops_nb.monitoring",
        "mlops_nb.serving.batch",
        "mlops_nb.store.files",
    ),
    "s3": ("mlops_nb.store.files", "mlops_nb.serving.batch", "mlops_nb.monitoring"),
    "postgres": ("mlops_nb.store.postgresql",),
    "mlflow": ("mlops_nb.interop", "mlops_nb.cli.interop"),
}
"""Extra → the modules (and their sub-modules) that may import its packages."""
USED_WITHOUT_IMPORT = {
    "nbclient": "papermill executes every stage notebook with it (the floor is ours)",
    "nbstripout": "`mlops-nb new` runs `python -m nbstripout --install`",
    "jupyterlab": "the application users start; mlops_nb.lab is its server extension",
    "s3fs": "fsspec loads it for s3:// URLs by protocol name",
    "prometheus-client": "the server's /metrics (mlops_nb.serving.http.metrics)",
}
"""Declared distributions no ``import`` statement names, and why they are declared."""
SELF = canonicalize_name(PROJECT["name"])


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. mlops_nb.serving.http.app
    top: str  # the imported top-level module, e.g. fastapi
    where: str  # path:line, for the message


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def third_party_imports() -> list[Import]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top in sys.stdlib_module_names or top in ("mlops_nb", "__future__"):
                    continue
                where = f"{path.relative_to(REPO)}:{node.lineno}"
                found.append(Import(module_name(path), top, where))
    return found


def declared() -> dict[str, set[str]]:
    """``core`` and each extra → the distributions it declares (self-references left out)."""
    groups = {"core": PROJECT["dependencies"], **PROJECT["optional-dependencies"]}
    names: dict[str, set[str]] = {}
    for group, requirements in groups.items():
        parsed = [Requirement(text) for text in requirements]
        names[group] = {canonicalize_name(r.name) for r in parsed} - {SELF}
    return names


TOP_LEVEL = packages_distributions()  # it scans every installed distribution: once


def distributions(top: str) -> set[str]:
    return {canonicalize_name(name) for name in TOP_LEVEL.get(top, [])}


def within(module: str, parts: tuple[str, ...]) -> bool:
    return any(module == part or module.startswith(f"{part}.") for part in parts)


IMPORTS = third_party_imports()
DECLARED = declared()
EXTRAS_OF_PACKAGE = set(WHERE_EXTRAS_GO)


def test_the_audit_sees_the_package_imports():
    tops = {found.top for found in IMPORTS}
    # the parser must see function-level imports too (fastapi, ipywidgets are imported lazily)
    assert {"pandas", "sklearn", "papermill", "fastapi", "ipywidgets", "jupyter_client"} <= tops


def test_every_import_is_declared_in_core_or_in_the_extra_of_its_part():
    problems = []
    for found in IMPORTS:
        dists = distributions(found.top)
        if not dists:
            problems.append(
                f"{found.where}: {found.top} is not installed here, so no distribution is known "
                f"for it; install `.[all,test]` (make install) or declare its distribution"
            )
            continue
        if dists & DECLARED["core"]:
            continue
        extras = sorted(e for e in EXTRAS_OF_PACKAGE if dists & DECLARED.get(e, set()))
        if not extras:
            problems.append(
                f"{found.where}: {found.top} (distribution {', '.join(sorted(dists))}) is "
                f"declared nowhere; add it to [project] dependencies or to an extra"
            )
        elif not any(within(found.module, WHERE_EXTRAS_GO[e]) for e in extras):
            problems.append(
                f"{found.where}: {found.module} imports {found.top}, which only the "
                f"{'/'.join(extras)} extra declares, outside the parts that extra is for "
                f"({', '.join(p for e in extras for p in WHERE_EXTRAS_GO[e])}); import it "
                f"there, or declare it in the core dependencies"
            )
    assert not problems, "\n".join(problems)


def test_every_declared_distribution_is_used():
    imported = set().union(*(distributions(found.top) for found in IMPORTS))
    groups = ["core", *sorted(EXTRAS_OF_PACKAGE)]
    unused = [
        f"{name} ([{group}])"
        for group in groups
        for name in sorted(DECLARED[group] - imported - set(USED_WITHOUT_IMPORT))
    ]
    assert not unused, f"declared but never imported, and not in USED_WITHOUT_IMPORT: {unused}"


def test_the_extras_table_of_mlops_nb_extras_matches_pyproject():
    assert set(EXTRA_MODULES) == EXTRAS_OF_PACKAGE <= set(DECLARED)
    for extra, modules in EXTRA_MODULES.items():
        brought = {name for module in modules for name in distributions(module)}
        requirement_names = DECLARED[extra]
        missing = {module for module in modules if not distributions(module) & DECLARED[extra]}
        assert not missing, f"[{extra}] declares no distribution of {missing}"
        assert requirement_names <= brought, f"[{extra}]: {requirement_names - brought}"


def test_the_bundle_pins_exactly_the_serve_extra():
    assert {canonicalize_name(p) for p in SERVING_PACKAGES} == DECLARED["serve"]


def test_all_installs_every_extra_of_the_package():
    (everything,) = (Requirement(r) for r in PROJECT["optional-dependencies"]["all"])
    assert canonicalize_name(everything.name) == SELF
    assert set(everything.extras) == EXTRAS_OF_PACKAGE


def test_the_parts_each_extra_is_for_exist():
    modules = {module_name(path) for path in PACKAGE.rglob("*.py")}
    missing = [
        part
        for parts in WHERE_EXTRAS_GO.values()
        for part in parts
        if not any(within(module, (part,)) for module in modules)
    ]
    assert not missing, f"WHERE_EXTRAS_GO names modules that do not exist: {missing}"
