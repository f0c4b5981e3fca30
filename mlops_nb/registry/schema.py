"""The registry's tables, versioned as component ``registry`` of the store.

``registry_versions``       one row per registered version (its files are under
                            the registry folder at ``path``, and, when the project
                            publishes to an artifact location, listed by digest in
                            ``files``); never deleted, only retired.
``registry_aliases``        which version each alias of a model points at now.
``registry_alias_history``  every alias change, appended in the same transaction
                            as the change: who, when, from which version to
                            which, why, in which run, and its ``event`` (NULL: a
                            plain move; ``approved``, ``rollback``).
``registry_proposals``      proposed moves of protected aliases and their approval:
                            who proposed, who approved, why, and the SHA-256 of
                            the run report the approver reviewed.

Types are ``{tokens}`` rendered per SQL dialect (:mod:`mlops_nb.store`). Never
edit a released step: append a new one.
"""

from __future__ import annotations

__all__ = ["COMPONENT", "STEPS"]

COMPONENT = "registry"

STEPS = [
    """
    CREATE TABLE registry_versions (
        name TEXT NOT NULL,
        version INTEGER NOT NULL CHECK (version >= 1),
        created_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'retired')),
        task TEXT NOT NULL,
        target TEXT NOT NULL,
        metrics TEXT NOT NULL DEFAULT '{{}}',
        data_version TEXT,
        pipeline_run TEXT,
        training_run TEXT,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        retired_at TEXT,
        retired_by TEXT,
        retired_reason TEXT,
        PRIMARY KEY (name, version)
    );
    CREATE TABLE registry_aliases (
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (name, alias),
        FOREIGN KEY (name, version) REFERENCES registry_versions (name, version)
    );
    CREATE TABLE registry_alias_history (
        id {id},
        name TEXT NOT NULL,
        alias TEXT NOT NULL,
        from_version INTEGER,
        to_version INTEGER,
        actor TEXT NOT NULL,
        reason TEXT NOT NULL,
        run TEXT,
        at TEXT NOT NULL
    );
    CREATE INDEX registry_alias_history_lookup ON registry_alias_history (name, alias, at)
    """,
    # the files of a package published to an artifact location: relative path → SHA-256
    "ALTER TABLE registry_versions ADD COLUMN files TEXT",
    # governance: who registered a version, what kind of change a history row is, and the
    # proposals for protected aliases with their approvals (never deleted)
    """
    ALTER TABLE registry_versions ADD COLUMN registered_by TEXT;
    ALTER TABLE registry_alias_history ADD COLUMN event TEXT;
    CREATE TABLE registry_proposals (
        id {id},
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        alias TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'superseded')),
        champion_version INTEGER,
        proposed_by TEXT NOT NULL,
        proposed_at TEXT NOT NULL,
        reason TEXT NOT NULL,
        run TEXT,
        report TEXT,
        approved_by TEXT,
        approved_at TEXT,
        approval_reason TEXT,
        report_sha256 TEXT,
        closed_reason TEXT,
        FOREIGN KEY (name, version) REFERENCES registry_versions (name, version)
    );
    CREATE INDEX registry_proposals_lookup ON registry_proposals (name, alias, status)
    """,
]
