"""The registry: every version's files against the SHA-256 recorded when it was registered.

A version's row records the SHA-256 of ``model.skops``; its ``metadata.json``
records it too, with the SHA-256 of each attachment; a published version's row
lists every file of the package by digest. A version whose files are missing
or changed is never repaired here: its files are evidence, only a person can
restore them (or retire the version). What the doctor may repair is what a
killed registration leaves: a package folder moved into place whose row never
committed (set aside as ``.orphan-...``, as the next registration would) and
its ``.staging-*`` folder (removed).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from mlops_nb.maintenance.doctor import leftovers
from mlops_nb.maintenance.doctor.checksums import UNREADABLE, Problem, file_problems
from mlops_nb.maintenance.doctor.findings import permissions_fix
from mlops_nb.maintenance.doctor.project import Project

__all__ = ["check_registry"]

# the file names of mlops_nb.registry.package, which is not imported: it loads scikit-learn
# and pandera (2 s), for three names (tests/reliability/test_doctor.py checks they agree)
MODEL_FILE, SIGNATURE_FILE, METADATA_FILE = "model.skops", "signature.yaml", "metadata.json"
_VERSIONS = "SELECT name, version, status, path, sha256, files FROM registry_versions"


def check_registry(project: Project) -> None:
    """Check every version's files, the aliases against their audit history, and leftovers.

    Which package folders have a row is known only from the registry's tables: when
    they could not be read (no store, a damaged one, no registry tables), no folder
    is taken for unregistered (and none is set aside); a finding says so instead.
    """
    if project.has("registry"):
        registered: set[tuple[str, int]] = set()
        for name, version, status, path, digest, files in project.rows(
            _VERSIONS + " ORDER BY name, version"
        ):
            registered.add((str(name), int(version)))
            project.report.count("registry", "versions")
            _check_version(project, f"{name}:{version}", path, digest, files, status)
        _check_aliases(project)
        _check_unregistered(project, registered)
    else:
        _unchecked(project)
    _check_staging(project)


def _unchecked(project: Project) -> None:
    """Package folders that cannot be checked: the store's registry tables were not read."""
    packages = list(_package_folders(project.settings.registry_dir))
    if not packages:
        return
    url = project.backend.display_url
    if project.unread == "missing":
        why, fix = (
            f"the store {url} does not exist",
            f"restore {url} from a backup (it holds each version's row and recorded "
            f"SHA-256), then run the doctor again",
        )
    elif project.unread:
        why, fix = (
            f"the store {url} could not be read (see the store's finding)",
            "recover or restore the store as the store's finding says, then run the doctor again",
        )
    else:
        why, fix = (
            f"the store {url} has no registry tables",
            f"if this project's registry was in another store, point MLOPS_NB_STORE at it; "
            f"otherwise restore {url} from a backup; then run the doctor again",
        )
    project.report.add(
        "registry",
        "registry-unchecked",
        project.settings.registry_dir,
        f"{len(packages)} package folder(s) were not checked, and none is taken for "
        f"unregistered or set aside: {why}, so which versions are registered, and "
        f"their recorded SHA-256, are unknown",
        fix,
    )
    project.report.notes.append(
        "the registry's tables could not be read: the version, alias and unregistered-package "
        "checks were skipped; no package folder was moved"
    )


def _package_folders(root: Path) -> Iterator[tuple[str, Path]]:
    """Every ``registry/<model>/<n>`` folder: ``(model, folder)``."""
    for model in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if model.name.startswith("."):
            continue
        for folder in sorted(p for p in model.iterdir() if p.is_dir() and p.name.isdigit()):
            yield model.name, folder


def _check_version(
    project: Project, ref: str, path: str, digest: str, files: str | None, status: str
) -> None:
    folder = project.settings.registry_dir / path
    retire = f"mlops-nb models retire {ref.replace(':', ' ')} --reason '...'"
    if status == "retired":
        retire = "it is retired already: nothing loads it"
    if files and project.location.publishes:
        _check_published(project, ref, json.loads(files), retire)
        if not folder.is_dir():
            return  # not fetched to this machine yet: what is published is what counts
    restore = f"restore the registered file from a backup (its SHA-256 is recorded), or {retire}"
    for kind, problem, where in _package_problems(folder, digest):
        fix = permissions_fix(where) if kind == UNREADABLE else restore
        project.report.add("registry", kind, where, f"{ref}: {problem}", fix)


def _package_problems(folder: Path, digest: str) -> Iterator[Problem]:
    """What is not as registered in the package in ``folder``."""
    if not folder.is_dir():
        yield "missing-package", "its package folder is gone", folder
        return
    try:
        metadata: dict[str, Any] = json.loads((folder / METADATA_FILE).read_text())
    except (OSError, ValueError) as exc:
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
            yield UNREADABLE, f"{METADATA_FILE} cannot be read ({exc})", folder / METADATA_FILE
        else:
            yield "unreadable-metadata", f"{METADATA_FILE} cannot be read ({exc})", folder
        metadata = {}
    recorded = (metadata.get("model") or {}).get("sha256")
    if metadata and recorded != digest:
        problem = f"{METADATA_FILE} records the model's sha256 {recorded}, the store {digest}"
        yield "sha256-mismatch", problem, folder / METADATA_FILE
    expected = {MODEL_FILE: digest, **(metadata.get("attachments") or {})}
    for name, sha in expected.items():
        yield from file_problems(folder / name, str(sha))
    if not (folder / SIGNATURE_FILE).is_file():
        yield "missing-file", f"{SIGNATURE_FILE} is gone", folder / SIGNATURE_FILE


def _check_published(project: Project, ref: str, files: dict[str, str], retire: str) -> None:
    missing = sorted(name for name, sha in files.items() if not project.location.has(sha))
    if missing:
        project.report.add(
            "registry",
            "missing-published",
            f"{project.location.display_url} ({ref})",
            f"{ref}: {len(missing)} published file(s) are gone: {', '.join(missing[:5])}",
            f"publish them again from a machine that has the package (mlops-nb store migrate "
            f"--to ... --artifacts ...), or {retire}",
        )


def _check_aliases(project: Project) -> None:
    """Each alias points where its last audited move took it, at an active version."""
    aliases = project.rows(
        "SELECT a.name, a.alias, a.version, v.status FROM registry_aliases a "
        "JOIN registry_versions v ON v.name = a.name AND v.version = a.version "
        "ORDER BY a.name, a.alias"
    )
    for name, alias, version, status in aliases:
        project.report.count("registry", "aliases")
        last = project.rows(
            "SELECT to_version FROM registry_alias_history WHERE name = ? AND alias = ? "
            "ORDER BY at DESC, id DESC LIMIT 1",
            (name, alias),
        )
        moved_to = last[0][0] if last else None
        where = f"{name}@{alias}"
        if moved_to is None or int(moved_to) != int(version):
            project.report.add(
                "registry",
                "alias-unaudited",
                where,
                f"points at v{version}, but its audit history's last move went to "
                f"{'nowhere' if moved_to is None else f'v{moved_to}'}",
                f"move it on purpose so the history says why: mlops-nb models promote {name} "
                f"{alias} VERSION --reason '...'",
            )
        if status == "retired":
            project.report.add(
                "registry",
                "alias-on-retired",
                where,
                f"points at v{version}, which is retired",
                f"point it at an active version: mlops-nb models promote {name} {alias} "
                f"VERSION --reason '...'",
            )


def _check_unregistered(project: Project, registered: set[tuple[str, int]]) -> None:
    """Package folders with no row: a registration killed between the move and the commit.

    Only called once the registry's rows were read (``registered`` is then what is).
    """
    for model, folder in _package_folders(project.settings.registry_dir):
        if (model, int(folder.name)) in registered:
            continue
        project.report.add(
            "registry",
            "unregistered-package",
            folder,
            f"a package folder with no row in the store ({model}:{folder.name} was "
            f"never registered: its registration was cut short)",
            "--repair sets it aside as .orphan-... beside it (as the next registration "
            "would); nothing is deleted"
            + (f"; {project.busy_note()}" if not project.quiet else ""),
            repair=partial(_set_aside, folder) if project.quiet else None,
        )


def _set_aside(folder: Path) -> None:
    stamp = time.strftime("%Y-%m-%dT%H%M%S")
    os.replace(folder, folder.parent / f".orphan-{folder.name}-{stamp}")


def _check_staging(project: Project) -> None:
    for path in leftovers.registry_leftovers(project.settings.registry_dir):
        project.report.add(
            "registry",
            "leftover",
            path,
            "the staging folder of a registration that never finished",
            "--repair removes it (it was never registered)"
            + (f"; {project.busy_note()}" if not project.quiet else ""),
            repair=partial(leftovers.remove, path) if project.quiet else None,
        )
