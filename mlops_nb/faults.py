"""Named crash points, for the crash tests only: ``MLOPS_NB_FAULT=<point>`` kills the process there.

The crash campaign (``tests/reliability/test_crash.py``, ``bench/crash.py``)
needs to kill a run at the worst moments, between two writes that belong
together, and a timer cannot hit those reliably. Code that writes in several
steps calls :func:`crash_point` between them; when the environment variable
``MLOPS_NB_FAULT`` names that point, the process sends itself ``SIGKILL``: no
``finally``, no ``atexit``, no flush, exactly as a power cut or the OOM killer
would leave things. Unset (always, outside those tests), a crash point costs
one dictionary lookup.

The variable is inherited, so a point in code that runs in a stage's kernel
(a snapshot, a registration) kills that kernel, and a point in the runner kills
the runner:

==================  ========  =============================================================
point               process   where
==================  ========  =============================================================
``snapshot``        kernel    a data snapshot written to its temporary file, not renamed
``register``        kernel    a model package moved into place, its row not committed
``alias``           kernel    an alias moved, its audit row not written, not committed
``cache-store``     runner    a cache index row written, not committed
``cache-restore``   runner    a cached stage linked into its temporary folder, not renamed
``run-record``      runner    run.json written to its temporary file, not renamed
==================  ========  =============================================================

Only the standard library is imported: the fork server imports modules that use it.
"""

from __future__ import annotations

import os
import signal

__all__ = ["FAULT_ENV", "POINTS", "crash_point"]

FAULT_ENV = "MLOPS_NB_FAULT"
POINTS = ("snapshot", "register", "alias", "cache-store", "cache-restore", "run-record")
"""Every crash point the package has (the tests check each one is reached)."""


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL if ``MLOPS_NB_FAULT`` names ``name`` (see the module)."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
