"""Lazy package exports (PEP 562): a name's module is imported when first used.

``mlops_nb``, ``mlops_nb.pipeline`` and ``mlops_nb.serving`` map each public name
to its module, so importing a package (and starting the CLI) stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_getattr(
    package: str, exports: dict[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``exports[name]`` and caches the value."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            # the builtin PEP 562 asks for: hasattr() and from-imports rely on it
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
