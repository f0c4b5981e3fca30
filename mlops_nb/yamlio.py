"""YAML text to Python values, through libyaml's parser when PyYAML was built with it.

Every file mlops-nb reads as YAML (pipeline.yaml, contracts, ``-p`` values) goes
through :func:`load_yaml`: the same safe constructors as ``yaml.safe_load``,
about ten times faster with libyaml, which counts when a nothing-changed re-run
should take a fraction of a second. Without libyaml, PyYAML's own parser reads
the same documents.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["load_yaml"]


def load_yaml(text: str) -> Any:
    """The value of the YAML document ``text`` (safe tags only).

    Raises:
        yaml.YAMLError: Text that is not YAML; its ``problem_mark`` says where.
    """
    if getattr(yaml, "__with_libyaml__", False):
        return yaml.load(text, Loader=yaml.CSafeLoader)
    return yaml.safe_load(text)
