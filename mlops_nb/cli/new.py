"""``mlops-nb new``: a project created from the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops_nb.cli.output import console, print_json, say

__all__ = ["new"]


def new(
    path: Annotated[Path, typer.Argument(help="The new project's folder (new or empty).")],
    no_git: Annotated[
        bool,
        typer.Option("--no-git", help="Neither make a git repository nor configure nbstripout."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a project from the demo: pipeline.yaml, templates, contracts, CI workflow."""
    from mlops_nb.scaffold import new_project

    project = new_project(path, git=not no_git)
    if as_json:
        print_json(
            {
                "path": str(project.path),
                "files": [str(f) for f in project.files],
                "git": project.git or None,
            }
        )
        return
    console.print(f"created [bold]{project.path}[/] ({len(project.files)} files)", soft_wrap=True)
    if project.git:
        say(f"git: {project.git}", soft_wrap=True, highlight=False)
    say(f"next: cd {project.path} && mlops-nb run train", soft_wrap=True)
