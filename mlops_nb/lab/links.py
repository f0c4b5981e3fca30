"""Where a Jupyter server serves run reports, as the kernels it starts see it.

The server extension (:mod:`mlops_nb.lab`) serves one project's runs folder at
``{base_url}mlops-nb/runs/<run_id>/<path>`` and puts two variables in the
server's environment, which every kernel it starts inherits:

* :data:`URL_ENV`: the route's URL path, e.g. ``/mlops-nb/runs/`` (or
  ``/user/ana/mlops-nb/runs/`` behind JupyterHub);
* :data:`DIR_ENV`: the runs folder it serves.

:func:`report_url` turns a file of a run into the URL path the browser must
open. It gives None outside such a server (VS Code, plain Jupyter without the
extension, a runs folder other than the one served), and callers then fall back
to a relative link.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

__all__ = ["DIR_ENV", "ROUTE", "URL_ENV", "report_url"]

ROUTE = "mlops-nb/runs"
"""The route below the server's ``base_url``."""
URL_ENV = "MLOPS_NB_REPORTS_URL"
DIR_ENV = "MLOPS_NB_REPORTS_DIR"


def report_url(path: Path, environ: Mapping[str, str] | None = None) -> str | None:
    """The URL path at which the server serves ``path``, a file in a run folder.

    Args:
        path: A file inside ``<runs>/<run_id>/`` (``index.html``, a stage's
            ``report.html``...).
        environ: The environment to read (default: ``os.environ``).

    Returns:
        An absolute URL path such as ``/mlops-nb/runs/<run_id>/index.html``, or
        None when no server serves the runs folder holding ``path``.
    """
    environ = os.environ if environ is None else environ
    url, served = environ.get(URL_ENV), environ.get(DIR_ENV)
    if not url or not served:
        return None
    try:
        relative = Path(path).resolve().relative_to(Path(served).resolve())
    except (OSError, ValueError):
        return None
    if len(relative.parts) < 2:  # the runs folder itself or a file beside the runs
        return None
    return url.rstrip("/") + "/" + "/".join(quote(part) for part in relative.parts)
