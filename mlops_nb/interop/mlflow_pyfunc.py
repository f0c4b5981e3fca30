"""A registered mlops-nb model as an MLflow pyfunc: the skops package, loaded by our loader.

The pyfunc is saved as *model from code* (MLflow's ``python_model`` given as a
file): the model folder holds :data:`MODEL_CODE`, three lines that build a
:class:`RegistryModel`, and the version's whole registry package as the
artifact ``package``. Nothing is pickled: loading runs those three lines, and
:meth:`RegistryModel.load_context` reads the package through
:func:`mlops_nb.registry.package.read_package` (checksum first, then only the
trusted types of :func:`mlops_nb.artifacts.read_model`). So the environment
that loads it needs ``mlops-nb`` installed, which the pyfunc's pip
requirements say.

:func:`mlflow_signature` turns the version's pandera input contract into an
MLflow signature; :meth:`RegistryModel.predict` gives the rows the contract's
dtypes back before predicting, so it returns what the registered model's
``predict`` returns on the same rows.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mlops_nb.errors import InteropError
from mlops_nb.interop.mlflow_client import INSTALL

try:
    # importing mlflow.pyfunc warns about its own Any hints; that is MLflow's noise, not the user's
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from mlflow.pyfunc import PythonModel, PythonModelContext
except ImportError as exc:  # the module is only imported where MLflow is needed
    raise InteropError(f"MLflow is not installed; install it with {INSTALL}") from exc

if TYPE_CHECKING:
    import pandera.pandas as pa
    from mlflow.models.signature import ModelSignature

__all__ = ["MODEL_CODE", "PACKAGE_ARTIFACT", "RegistryModel", "mlflow_signature"]

PACKAGE_ARTIFACT = "package"
"""The pyfunc artifact holding the version's registry package folder."""
MODEL_CODE = """\
# An mlops-nb registry version as an MLflow pyfunc (see mlops_nb.interop.mlflow_pyfunc).
from mlflow.models import set_model

from mlops_nb.interop.mlflow_pyfunc import RegistryModel

set_model(RegistryModel())
"""
_MLFLOW_TYPES = {"i": "long", "u": "long", "f": "double", "b": "boolean", "M": "datetime"}


class RegistryModel(PythonModel):
    """The pyfunc of a registry version: its trusted skops model behind MLflow's ``predict``."""

    def __init__(self) -> None:
        self._model: Any = None
        self._signature: pa.DataFrameSchema | None = None
        self.metadata: dict[str, Any] = {}

    def load_context(self, context: PythonModelContext) -> None:
        from mlops_nb.registry import package

        folder = Path(context.artifacts[PACKAGE_ARTIFACT])
        recorded = str((package.read_metadata(folder).get("model") or {}).get("sha256"))
        self._model, self._signature, self.metadata = package.read_package(folder, recorded)

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """The registered model's ``predict`` on ``model_input`` (a DataFrame or records)."""
        if self._model is None:
            raise InteropError(
                "this RegistryModel was not loaded; load it with "
                "mlflow.pyfunc.load_model('models:/NAME@ALIAS')"
            )
        return self._model.predict(self._frame(model_input))

    def _frame(self, rows: Any) -> pd.DataFrame:
        """``rows`` as a DataFrame of the signature's columns, in the signature's dtypes."""
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
        if self._signature is None:
            return frame
        columns = list(self._signature.columns)
        missing = [name for name in columns if name not in frame.columns]
        if missing:
            raise InteropError(
                f"the input lacks the column(s) {', '.join(missing)} of the model's signature; "
                f"pass every column of: {', '.join(columns)}"
            )
        frame = frame[columns].copy()
        for name, column in self._signature.columns.items():
            wanted = column.dtype.type if column.dtype is not None else None
            if wanted is None or frame[name].dtype == wanted:
                continue
            try:
                frame[name] = frame[name].astype(wanted)
            except (TypeError, ValueError) as exc:
                raise InteropError(
                    f"input column {name!r} cannot be read as {column.dtype} ({exc}); send "
                    f"values of the model's signature type",
                    column=name,
                ) from exc
        return frame


def mlflow_signature(signature: pa.DataFrameSchema, model: Any, task: str) -> ModelSignature:
    """The MLflow signature of a version: columns from its contract, outputs from its model.

    A nullable integer column is ``double`` (MLflow's ``long`` has no missing
    value); text and categories are ``string``.

    Raises:
        InteropError: a contract column of a type MLflow's signatures cannot hold.
    """
    from mlflow.models.signature import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    inputs: list[ColSpec | TensorSpec] = []
    for name, column in signature.columns.items():
        kind = _mlflow_type(column.dtype.type if column.dtype is not None else None)
        if kind is None:
            raise InteropError(
                f"column {name!r} of the signature has the type {column.dtype}, which an MLflow "
                f"signature cannot hold; register the model with a contract of numbers, text, "
                f"booleans and times",
                column=name,
            )
        if kind == "long" and column.nullable:
            kind = "double"
        inputs.append(ColSpec(kind, str(name)))
    output = _output_type(model, task)
    outputs = None if output is None else Schema([ColSpec(output)])
    return ModelSignature(inputs=Schema(inputs), outputs=outputs)


def _mlflow_type(dtype: Any) -> str | None:
    """The MLflow column type of a pandas/NumPy dtype (None: none fits)."""
    if dtype is None:
        return None
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype):
        return "string"
    try:
        kind = pd.api.types.pandas_dtype(dtype).kind
    except TypeError:
        return None
    return _MLFLOW_TYPES.get(kind)


def _output_type(model: Any, task: str) -> str | None:
    """The MLflow type of ``model.predict``'s values: classes' type, or ``double``."""
    if task == "regression":
        return "double"
    classes = getattr(model, "classes_", None)
    if classes is None:
        return None
    kind = getattr(getattr(classes, "dtype", None), "kind", None)
    if kind in ("O", "U", "S"):
        return "string"
    return _MLFLOW_TYPES.get(str(kind))
