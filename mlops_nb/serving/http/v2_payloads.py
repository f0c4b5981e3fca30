"""The Open Inference Protocol (KServe v2): its tensors turned into ``/predict``'s records.

An inference request is ``{"id"?, "parameters"?, "inputs": [...], "outputs"?: [...]}``;
each input tensor is one column of the signature::

    {"name": "age", "datatype": "INT64", "shape": [3], "data": [34, 51, 29]}

with shape ``[n]`` or ``[n, 1]`` (every input the same ``n``) and ``data``
flat (row-major) or nested one level for ``[n, 1]``. :func:`infer_records`
turns the tensors into ``n`` records, which the contract then checks exactly
as ``/predict``'s (row numbers are positions along the first dimension).
``datatype`` must be one of the protocol's (:data:`DATATYPES`), but values
are not converted by it: they are judged by the contract as JSON values, so
``"thirty"`` for ``age`` fails ``coerce_dtype('int64')`` whatever the tensor
declares, and a null (an extension of the protocol) is a missing value.

:func:`model_metadata` describes the inputs from the signature (``INT64``,
``FP64``, ``BYTES``, ``BOOL``... with shape ``[-1]``) and the outputs:
``predictions`` (the label, shape ``[-1]``) and, for classifiers,
``probabilities`` (shape ``[-1, k]``, classes in the order of the output's
``classes`` parameter). :func:`infer_response` writes them.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from mlops_nb.serving.http.body import ApiError
from mlops_nb.validation.fast import ColumnRule

__all__ = [
    "DATATYPES",
    "PREDICTIONS",
    "PROBABILITIES",
    "InferRequest",
    "column_datatype",
    "infer_records",
    "infer_response",
    "label_datatype",
    "model_metadata",
]

DATATYPES = frozenset(
    {"BOOL", "BYTES", "FP16", "FP32", "FP64"}
    | {f"{sign}INT{bits}" for sign in ("", "U") for bits in (8, 16, 32, 64)}
)
"""The tensor datatypes of the protocol."""
PREDICTIONS, PROBABILITIES = "predictions", "probabilities"
REQUEST_KEYS = ("id", "parameters", "inputs", "outputs")
TENSOR_KEYS = ("name", "shape", "datatype", "data", "parameters")
KIND_TYPES = {"int": "INT64", "float": "FP64", "str": "BYTES", "bool": "BOOL", "any": "BYTES"}


def _refuse(detail: str) -> ApiError:
    return ApiError(400, detail)


def column_datatype(rule: ColumnRule) -> str:
    """The protocol datatype of a signature column (its width kept: ``int32`` -> INT32)."""
    name = str(getattr(rule.dtype, "name", "")).lower()
    if rule.kind == "int" and (width := re.fullmatch(r"(u?)int(8|16|32|64)", name)):
        return f"{width[1].upper()}INT{width[2]}"
    if rule.kind == "float" and (width := re.fullmatch(r"float(16|32|64)", name)):
        return f"FP{width[1]}"
    return KIND_TYPES[rule.kind]


def label_datatype(labels: tuple[Any, ...], probabilistic: bool) -> str:
    """The datatype of the ``predictions`` output: that of the classes (FP64: regression)."""
    if not probabilistic or not labels:
        return "FP64"
    if all(isinstance(label, bool) for label in labels):
        return "BOOL"
    if all(isinstance(label, int) and not isinstance(label, bool) for label in labels):
        return "INT64"
    if all(isinstance(label, (int, float)) for label in labels):
        return "FP64"
    return "BYTES"


def model_metadata(
    name: str,
    version: int,
    rules: tuple[ColumnRule, ...],
    classes: tuple[Any, ...],
    probabilistic: bool,
) -> dict[str, Any]:
    """The body of ``GET /v2/models/{name}``."""
    outputs: list[dict[str, Any]] = [
        {"name": PREDICTIONS, "datatype": label_datatype(classes, probabilistic), "shape": [-1]}
    ]
    if probabilistic:
        outputs.append({"name": PROBABILITIES, "datatype": "FP64", "shape": [-1, len(classes)]})
    return {
        "name": name,
        "versions": [str(version)],
        "platform": "mlops-nb",
        "inputs": [
            {"name": rule.name, "datatype": column_datatype(rule), "shape": [-1]} for rule in rules
        ],
        "outputs": outputs,
    }


class InferRequest:
    """A parsed inference request: its records, its ``id`` and the outputs asked for."""

    def __init__(self, records: list[dict[str, Any]], id: str | None, outputs: list[str]) -> None:
        self.records, self.id, self.outputs = records, id, outputs


def _rows(tensor: dict[str, Any], position: int) -> tuple[str, list[Any]]:
    """``(name, values)`` of one input tensor, its shape and data checked."""
    where = f"inputs[{position}]"
    if not isinstance(tensor, dict):
        raise _refuse(f"{where} must be an object {{name, shape, datatype, data}}.")
    missing = [key for key in TENSOR_KEYS[:4] if key not in tensor]
    if missing:
        raise _refuse(
            f"{where} lacks {', '.join(missing)}; a tensor is {{name, shape, datatype, data}}."
        )
    extra = sorted(str(key) for key in tensor if key not in TENSOR_KEYS)
    if extra:
        raise _refuse(
            f"unknown field(s) {', '.join(extra)} in {where}; a tensor takes "
            f"{', '.join(TENSOR_KEYS)}."
        )
    name, shape, datatype, data = (tensor[key] for key in TENSOR_KEYS[:4])
    if not isinstance(name, str) or not name:
        raise _refuse(f"{where}.name must be a column name (a non-empty string).")
    where = f"input {name!r}"
    if not isinstance(datatype, str) or datatype not in DATATYPES:
        raise _refuse(
            f"{where} has datatype {datatype!r}; use one of {', '.join(sorted(DATATYPES))}."
        )
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= 2
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        or (len(shape) == 2 and shape[1] != 1)
    ):
        raise _refuse(
            f"{where} has shape {json.dumps(shape)[:60]}; each input is one column of the "
            f"signature: shape [n] or [n, 1]."
        )
    if tensor.get("parameters") is not None and not isinstance(tensor["parameters"], dict):
        raise _refuse(f"{where}.parameters must be an object.")
    if not isinstance(data, list):
        raise _refuse(f"{where}.data must be a list of values, got {type(data).__name__}.")
    if len(shape) == 2 and data and all(isinstance(v, list) and len(v) == 1 for v in data):
        data = [v[0] for v in data]
    if len(data) != shape[0]:
        raise _refuse(
            f"{where} has {len(data)} values for shape {shape}; send {shape[0]} values "
            f"(one per row), flat or as [[v], ...] for shape [n, 1]."
        )
    nested = next((pos for pos, value in enumerate(data) if isinstance(value, (list, dict))), None)
    if nested is not None:
        raise _refuse(f"{where} element {nested} is not a single value.")
    return name, data


def infer_records(payload: Any, probabilistic: bool) -> InferRequest:
    """The records of an inference request, or :class:`ApiError` 400 saying what is wrong."""
    if not isinstance(payload, dict):
        raise _refuse(
            'body must be a JSON object {"inputs": [{"name", "shape", "datatype", "data"}, ...]}.'
        )
    extra = sorted(str(key) for key in payload if key not in REQUEST_KEYS)
    if extra:
        raise _refuse(
            f"unknown field(s) {', '.join(extra)}; the request takes {', '.join(REQUEST_KEYS)}."
        )
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise _refuse('"id" must be a string.')
    if payload.get("parameters") is not None and not isinstance(payload["parameters"], dict):
        raise _refuse('"parameters" must be an object.')
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise _refuse('"inputs" must be a non-empty list of tensors, one per column.')
    columns: dict[str, list[Any]] = {}
    for position, tensor in enumerate(inputs):
        name, data = _rows(tensor, position)
        if name in columns:
            raise _refuse(f"input {name!r} is given twice.")
        columns[name] = data
    lengths = {name: len(data) for name, data in columns.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name}: {n}" for name, n in lengths.items())
        raise _refuse(
            f"the inputs have different numbers of rows ({shown}); send one value per row in each."
        )
    rows = next(iter(lengths.values()))
    records = [{name: data[row] for name, data in columns.items()} for row in range(rows)]
    return InferRequest(records, request_id, _outputs(payload.get("outputs"), probabilistic))


def _outputs(asked: Any, probabilistic: bool) -> list[str]:
    known = [PREDICTIONS, PROBABILITIES] if probabilistic else [PREDICTIONS]
    if asked is None:
        return known
    names = (
        [item.get("name") if isinstance(item, dict) else None for item in asked]
        if (isinstance(asked, list))
        else None
    )
    if names is None or not all(isinstance(name, str) for name in names):
        raise _refuse('"outputs" must be a list of {"name": ...} objects.')
    unknown = [name for name in names if name not in known]
    if unknown:
        raise _refuse(
            f"unknown output(s) {', '.join(map(repr, unknown))}; this model has "
            f"{', '.join(map(repr, known))}."
        )
    return [name for name in known if name in names]


def infer_response(
    request: InferRequest,
    name: str,
    version: int,
    answer: dict[str, Any],
    labels: tuple[str, ...],
    label_type: str,
    request_id: str,
) -> dict[str, Any]:
    """The body of an answered inference: ``answer`` is ``Scorer.to_json`` of the scores."""
    predictions = answer["predictions"]
    rows = len(predictions)
    outputs: list[dict[str, Any]] = []
    if PREDICTIONS in request.outputs:
        outputs.append(
            {"name": PREDICTIONS, "datatype": label_type, "shape": [rows], "data": predictions}
        )
    if PROBABILITIES in request.outputs and "probabilities" in answer:
        flat = [row[label] for row in answer["probabilities"] for label in labels]
        outputs.append(
            {
                "name": PROBABILITIES,
                "datatype": "FP64",
                "shape": [rows, len(labels)],
                "data": [None if v is None or not math.isfinite(v) else v for v in flat],
                "parameters": {"classes": json.dumps(list(labels))},
            }
        )
    body: dict[str, Any] = {
        "model_name": name,
        "model_version": str(version),
        "parameters": {"request_id": request_id},
        "outputs": outputs,
    }
    if request.id is not None:
        body["id"] = request.id
    return body
