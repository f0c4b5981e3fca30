from __future__ import annotations

import pytest

from mlops_nb.errors import ParameterError, PipelineSpecError
from mlops_nb.pipeline.params import ParamSpec
from mlops_nb.pipeline.spec import load_project
from tests.conftest import TWO_STAGES


def load(make_project, text=TWO_STAGES):
    settings = make_project(text)
    return load_project(settings.pipeline_file)


def test_stages_come_in_dependency_order(make_project):
    text = (
        TWO_STAGES.replace("      produce:\n        notebook: notebooks/produce.ipynb\n", "")
        + "      produce:\n        notebook: notebooks/produce.ipynb\n"
    )
    pipeline = load(make_project, text).pipeline("demo")
    assert pipeline.stage_names == ["produce", "consume"]


def test_template_parameters_and_help_are_read(make_project):
    pipeline = load(make_project).pipeline()
    specs = pipeline.param_specs()
    assert set(specs) == {"value", "label", "factor"}
    assert specs["factor"].default == 2 and specs["factor"].help == "multiplier"
    assert specs["label"].type == "str"


def test_unknown_dependency_is_refused(make_project):
    text = TWO_STAGES.replace("needs: [produce]", "needs: [prodcue]")
    with pytest.raises(PipelineSpecError, match=r"needs 'prodcue'.*did you mean 'produce'"):
        load(make_project, text)


def test_cycle_is_named(make_project):
    text = TWO_STAGES.replace(
        "notebook: notebooks/produce.ipynb",
        "notebook: notebooks/produce.ipynb\n        needs: [consume]",
    )
    with pytest.raises(
        PipelineSpecError,
        match=r"cycle: (produce -> consume -> produce|consume -> produce -> consume)",
    ):
        load(make_project, text)


def test_missing_notebook_is_refused(make_project):
    text = TWO_STAGES.replace("notebooks/consume.ipynb", "notebooks/nowhere.ipynb")
    with pytest.raises(PipelineSpecError, match=r"notebook notebooks/nowhere.ipynb does not exist"):
        load(make_project, text)


def test_template_without_parameters_cell_is_refused(make_project):
    text = TWO_STAGES.replace("notebooks/consume.ipynb", "notebooks/no_parameters.ipynb")
    with pytest.raises(PipelineSpecError, match=r"exactly one code cell tagged 'parameters'"):
        load(make_project, text)


def test_stage_param_the_template_lacks_is_refused(make_project):
    text = TWO_STAGES.replace(
        "needs: [produce]", "needs: [produce]\n        params:\n          speed: 3"
    )
    with pytest.raises(PipelineSpecError, match=r"declares parameter 'speed'.*no such name"):
        load(make_project, text)


def test_pipeline_param_nobody_uses_is_refused(make_project):
    text = TWO_STAGES.replace("      value:", "      unused: 3\n      value:")
    with pytest.raises(PipelineSpecError, match=r"parameter 'unused' is used by no stage"):
        load(make_project, text)


def test_bad_default_type_is_refused(make_project):
    text = TWO_STAGES.replace("default: 1, help", "default: many, help")
    with pytest.raises(PipelineSpecError, match=r"'many' is not a valid int"):
        load(make_project, text)


def test_invalid_yaml_names_the_line(make_project):
    with pytest.raises(PipelineSpecError, match=r"not valid YAML at line 4"):
        load(make_project, "pipelines:\n  demo:\n    stages: [unclosed\n")


def test_unknown_pipeline_lists_the_known(make_project):
    with pytest.raises(PipelineSpecError, match=r"no pipeline 'dmeo'.*did you mean 'demo'"):
        load(make_project).pipeline("dmeo")


def test_unknown_override_lists_valid_names(make_project):
    pipeline = load(make_project).pipeline()
    with pytest.raises(
        ParameterError, match=r"unknown parameter 'vaule'.*valid parameters: factor, label, value"
    ):
        pipeline.resolve({"vaule": "3"})


def test_override_of_wrong_type_is_refused(make_project):
    pipeline = load(make_project).pipeline()
    with pytest.raises(
        ParameterError, match=r"parameter 'factor' \(-p\): 'two' is not a valid int"
    ):
        pipeline.resolve({"factor": "two"})


def test_overrides_are_typed_and_routed_to_stages(make_project):
    resolved = load(make_project).pipeline().resolve({"value": "5", "factor": "3"})
    assert resolved.per_stage["produce"] == {"value": 5, "label": "x"}
    assert resolved.per_stage["consume"] == {"factor": 3}


def test_until_selects_the_stage_and_its_ancestors(make_project):
    pipeline = load(make_project).pipeline()
    assert [s.name for s in pipeline.select("produce")] == ["produce"]
    with pytest.raises(PipelineSpecError, match=r"no stage 'train'.*stages are: produce, consume"):
        pipeline.select("train")


def test_choices_and_bounds(make_project):
    text = TWO_STAGES.replace(
        "value: {type: int, default: 1, help: the number}",
        "value: {type: int, default: 1, min: 0, max: 10}",
    )
    pipeline = load(make_project, text).pipeline()
    with pytest.raises(ParameterError, match=r"11 is above the maximum 10"):
        pipeline.resolve({"value": "11"})


def test_a_value_that_is_not_yaml_is_a_parameter_error():
    spec = ParamSpec("columns")
    assert spec.coerce("[a, b]") == ["a", "b"]
    with pytest.raises(ParameterError, match=r"'\[a, b' is not a valid any \(not YAML: "):
        spec.coerce("[a, b", origin="-p")
