"""ServeOptions: the options the app and the server share, with their limits checked."""

from __future__ import annotations

import pytest

from mlops_nb.errors import ServingError
from mlops_nb.serving import MAX_ROWS, MAX_TEXT_CHARS, TOKEN_ENV, ServeOptions
from mlops_nb.serving.options import resolve_token


def test_defaults_are_the_documented_limits():
    options = ServeOptions()
    assert options.limits() == (None, MAX_ROWS, MAX_TEXT_CHARS) == (None, 10_000, 100)
    assert (options.log_predictions, options.model_process, options.bundle) == (True, True, False)


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "10"])
def test_a_bad_limit_is_refused_naming_it(value):
    with pytest.raises(ServingError, match=r"max_rows=.* must be a whole number of at least 1"):
        ServeOptions(max_rows=value).limits()


def test_the_token_comes_from_the_environment_unless_given(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, "from-env")
    assert resolve_token(None) == "from-env"
    assert resolve_token("given") == "given"
    monkeypatch.setenv(TOKEN_ENV, "")
    assert resolve_token(None) is None
