"""A fitted scikit-learn pipeline compiled into numpy functions, checked against itself.

* ``steps``: each supported fitted step as a numpy function of a 2-D array;
* ``model``: :func:`compile_model`, the whole pipeline, used only when it agrees
  with the fitted one on probe rows;
* ``probes``: :func:`probe_frame`, those rows, built from the model's signature.
"""

from __future__ import annotations

from mlops_nb.serving.compiled.model import CompiledModel, Outputs, Reader, compile_model
from mlops_nb.serving.compiled.probes import probe_frame

__all__ = ["CompiledModel", "Outputs", "Reader", "compile_model", "probe_frame"]
