"""Which types a saved (skops) model may be trusted to contain.

A fitted pipeline from :func:`~mlops_nb.modeling.tune` holds only types from
scikit-learn, NumPy, SciPy and this package. skops refuses, by default, to
load the few of those it does not know (this package's feature steps,
``numpy.dtype``, tree structures); :func:`trusted_types` lists them after
checking that nothing else is in the file::

    data = skops.io.dumps(pipeline)
    model = skops.io.loads(data, trusted=trusted_types(data))
"""

from __future__ import annotations

import skops.io as sio

from mlops_nb.errors import ModelingError

__all__ = ["TRUSTED_MODULES", "trusted_types"]

TRUSTED_MODULES: tuple[str, ...] = ("sklearn", "numpy", "scipy", "mlops_nb")


def trusted_types(data: bytes) -> list[str]:
    """Return the types skops needs trusted to load ``data`` (``skops.io.dumps`` bytes).

    Raises:
        ModelingError: ``data`` holds a type from outside :data:`TRUSTED_MODULES`.
    """
    untrusted = sio.get_untrusted_types(data=data)
    foreign = [name for name in untrusted if name.split(".", 1)[0] not in TRUSTED_MODULES]
    if foreign:
        raise ModelingError(
            f"The saved model holds types from outside {', '.join(TRUSTED_MODULES)}: "
            f"{', '.join(foreign)}; refusing to trust them. Load it with skops.io.loads "
            "and an explicit trusted= list only if you know where it came from.",
        )
    return list(untrusted)
