"""Looking after a project's stores: what is in use, moving them (``mlops-nb store ...``).

It sits above the lifecycle packages (it knows every component's tables), beside
the command line that calls it.
"""

from mlops_nb.maintenance.store import MigrationReport, migrate_store, store_info

__all__ = ["MigrationReport", "migrate_store", "store_info"]
