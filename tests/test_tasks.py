"""The one list of tasks, and each layer's own refusal of an unknown one."""

from __future__ import annotations

import pytest

from mlops_nb import data, prep
from mlops_nb.errors import ModelingError, MonitoringError, PreparationError
from mlops_nb.modeling._checks import check_task as modeling_check
from mlops_nb.tasks import TASK_CHOICES, TASKS, check_task


def test_every_layer_shares_one_list():
    assert TASKS == ("binary", "multiclass", "regression")
    assert ("auto", *TASKS) == TASK_CHOICES
    assert prep.TASKS is TASKS and data.TASKS is TASKS and data.TASK_CHOICES is TASK_CHOICES


def test_the_check_raises_the_callers_error_with_its_hint():
    assert check_task("binary", MonitoringError) == "binary"
    with pytest.raises(MonitoringError, match=r"^Unknown task 'x'; use one of .*regression!\.$"):
        check_task("x", MonitoringError, hint="!")
    with pytest.raises(PreparationError, match=r"regression\.$") as caught:
        prep.check_task("x")
    assert caught.value.parameter == "task"
    with pytest.raises(ModelingError, match=r"\(infer it from the target with mlops_nb"):
        modeling_check("x")
