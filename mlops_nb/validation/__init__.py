"""Data contracts: pandera schemas stored as YAML, and row-level validation.

A *contract* is a pandera ``DataFrameSchema`` saved in pandera's YAML format
(see ``contracts/churn.yaml``). The validate stage finds the contract for its
data source (:func:`find_contract`), or infers one (:func:`infer_contract`),
then checks every row (:func:`validate`): invalid rows stop the run or, with
``-p on_invalid=quarantine``, are set aside with their reasons.

``mlops_nb.validation.fast`` is a second backend for the same signatures: checks
compiled to plain Python, for a model server's requests.
"""

from mlops_nb.validation._dtypes import dtype_label
from mlops_nb.validation.contracts import (
    input_contract,
    load_contract,
    mark_pii,
    pii_columns,
    save_contract,
)
from mlops_nb.validation.describe import contract_summary, describe_check
from mlops_nb.validation.infer import infer_contract
from mlops_nb.validation.lookup import find_contract
from mlops_nb.validation.report import ValidationResult
from mlops_nb.validation.validate import validate

__all__ = [
    "ValidationResult",
    "contract_summary",
    "describe_check",
    "dtype_label",
    "find_contract",
    "infer_contract",
    "input_contract",
    "load_contract",
    "mark_pii",
    "pii_columns",
    "save_contract",
    "validate",
]
