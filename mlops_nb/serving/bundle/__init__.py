"""Deployment bundles: a registered model with all it needs to be served from a container.

* ``build``: :func:`build_bundle` writes the folder (model package, requirements,
  Dockerfile, README, manifest), complete or not at all;
* ``load``: :func:`load_bundle` loads its model back, verified; it imports neither
  the writer nor the HTTP app, so the server and the model worker use it freely;
* ``texts`` and ``templates/``: the generated texts, as jinja2 templates;
* ``manifest``: the folder's layout and ``bundle.json``.

Names are imported on first use (PEP 562).
"""

from __future__ import annotations

from mlops_nb.exports import lazy_getattr

_EXPORTS = {
    "MANIFEST": "mlops_nb.serving.bundle.manifest",
    "MODEL_DIR": "mlops_nb.serving.bundle.manifest",
    "Bundle": "mlops_nb.serving.bundle.manifest",
    "build_bundle": "mlops_nb.serving.bundle.build",
    "dockerfile_text": "mlops_nb.serving.bundle.texts",
    "load_bundle": "mlops_nb.serving.bundle.load",
    "readme_text": "mlops_nb.serving.bundle.texts",
    "requirements_text": "mlops_nb.serving.bundle.texts",
}

__getattr__ = lazy_getattr(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


__all__ = [
    "MANIFEST",
    "MODEL_DIR",
    "Bundle",
    "build_bundle",
    "dockerfile_text",
    "load_bundle",
    "readme_text",
    "requirements_text",
]
