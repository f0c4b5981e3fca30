"""The Jupyter server extension: run reports readable from JupyterLab.

Installed with the package, it is enabled for the environment by
``etc/jupyter/jupyter_server_config.d/mlops_nb.json``; ``jupyter server
extension list`` shows it as ``mlops_nb.lab``. When the server starts, it

* finds the project the server runs in (``$MLOPS_NB_PROJECT``, or the nearest
  ``pipeline.yaml`` from the server's root folder up) and its runs folder
  (``$MLOPS_NB_OUTPUTS/runs`` or ``outputs/runs``);
* serves that folder at ``{base_url}mlops-nb/runs/<run_id>/<path>``
  (:mod:`mlops_nb.lab.reports`), so a run's ``index.html`` and every link in it
  work in a browser tab;
* tells the kernels it starts where (:mod:`mlops_nb.lab.links`), so the
  widgets in :mod:`mlops_nb.widgets` link there.

Without a project the route answers 404 saying so, and the widgets keep
relative links.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mlops_nb.config import Settings, find_root, load_settings
from mlops_nb.errors import ConfigError
from mlops_nb.lab.links import DIR_ENV, ROUTE, URL_ENV, report_url

__all__ = ["DIR_ENV", "ROUTE", "URL_ENV", "report_url", "served_runs_dir"]


def served_runs_dir(root_dir: str | Path) -> tuple[Path | None, str]:
    """The runs folder of the project a server rooted at ``root_dir`` serves.

    Returns:
        ``(runs folder, "")``, or ``(None, why)`` when there is no project.
    """
    settings, problem = served_project(root_dir)
    return (settings.runs_dir if settings else None), problem


def served_project(root_dir: str | Path) -> tuple[Settings | None, str]:
    """The settings of the project a server rooted at ``root_dir`` serves, or why none."""
    try:
        return load_settings(find_root(Path(root_dir).expanduser())), ""
    except ConfigError as exc:
        return None, (
            f"this Jupyter server serves no mlops-nb project ({exc.message}); start "
            f"`jupyter lab` inside a project folder to read its run reports here."
        )


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "mlops_nb.lab"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from jupyter_server.utils import url_path_join

    from mlops_nb.lab.reports import RunFileHandler

    settings, problem = served_project(serverapp.root_dir)
    runs_dir = settings.runs_dir if settings else None
    base_url = serverapp.web_app.settings.get("base_url", "/")
    pattern = url_path_join(base_url, ROUTE, r"([^/]+)(/.*)?$")
    options = {"runs_dir": runs_dir, "problem": problem, "settings": settings}
    serverapp.web_app.add_handlers(".*$", [(pattern, RunFileHandler, options)])
    if runs_dir is None:
        os.environ.pop(URL_ENV, None)
        os.environ.pop(DIR_ENV, None)
        serverapp.log.info("mlops-nb: no run reports served: %s", problem)
        return
    os.environ[URL_ENV] = url_path_join(base_url, ROUTE) + "/"
    os.environ[DIR_ENV] = str(runs_dir)
    serverapp.log.info("mlops-nb: run reports of %s at %s", runs_dir, os.environ[URL_ENV])
