"""The model registry: numbered, packaged model versions and audited aliases.

Rows live in the project's store backend (component ``registry``; the shared
SQLite file by default, see :mod:`mlops_nb.store`), files under the registry
folder (``outputs/registry/<name>/<version>/``). A version is numbered, its
folder moved into place and its row inserted in one write transaction, so
several processes can register at once: numbers come out 1, 2, 3, ... with no
gap or duplicate, and no row exists without its files.

:class:`Registry` is the whole API (register, read, move aliases, retire), so it
stays in one module near 500 lines; its SQL is in ``_db``, ``_write``,
``_tables`` and ``_lookup``, its files in :mod:`~mlops_nb.registry.package`.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Self

import pandas as pd
import pandera.pandas as pa

from mlops_nb.config import Settings
from mlops_nb.errors import RegistryError
from mlops_nb.faults import crash_point
from mlops_nb.policy import ModelPolicy, model_policy
from mlops_nb.registry import _approvals, _db, _tables, _write, package
from mlops_nb.registry._lookup import require_model, resolve, version_row
from mlops_nb.registry.names import Ref, parse_model_ref, parse_ref, validate_alias, validate_name
from mlops_nb.registry.versions import ACTIVE, RETIRED, LoadedModel, ModelVersion
from mlops_nb.store import Backend, Connection, artifact_location, as_backend, open_backend
from mlops_nb.store.files import ArtifactLocation

__all__ = ["LoadedModel", "ModelVersion", "Registry"]


USER_ENV = "MLOPS_NB_USER"
"""Who acts, when set: recorded in every alias change, registration, proposal and approval."""


def default_actor() -> str:
    """``$MLOPS_NB_USER``, else the OS user name, else ``unknown``."""
    named = os.environ.get(USER_ENV, "").strip()
    if named:
        return named
    try:
        return getpass.getuser() or "unknown"
    except Exception:  # getuser raises OSError or KeyError without a user database
        return "unknown"


def _reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise RegistryError(
            "a reason is required for every alias change: say why, e.g. "
            "reason='beats version 2 on roc_auc by 0.03' (--reason TEXT on the command line)."
        )
    return reason.strip()


def _active(row: Any, alias: str) -> int:
    """The number of the version in ``row``, refused if it is retired."""
    if row["status"] == RETIRED:
        raise RegistryError(
            f"version {row['name']}:{row['version']} is retired and cannot take alias "
            f"{alias!r}; choose an active version (see Registry.versions({row['name']!r})).",
            model=row["name"],
            version=row["version"],
        )
    return int(row["version"])


def _when(value: datetime | str) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise RegistryError(
                f"time {value!r} is not ISO 8601; write e.g. '2025-01-31T12:00:00+00:00'."
            ) from exc
    if not isinstance(value, datetime):
        raise RegistryError(f"time must be a datetime or ISO text, got {type(value).__name__}.")
    return _db.iso(value)


class Registry:
    """Registered model versions in ``database``, their packages under ``root``.

    Several processes may use the same registry at once; within a process,
    use one ``Registry`` per thread (it holds one database connection).

    Args:
        database: The store backend shared with tracking, or the path of its
            SQLite file (``Settings.database``).
        root: The folder holding the packages (``Settings.registry_dir``);
            with an artifact ``location`` that publishes, the local copy of
            the packages this machine registered or loaded.
        location: Where packages are published for other machines (see
            :mod:`mlops_nb.store.files`); None keeps them in ``root`` only.
        policy: The governance policy of a model name (which aliases are
            protected); None protects nothing. :meth:`from_settings` reads
            the project's ``governance:`` section.
    """

    def __init__(
        self,
        database: Path | str | Backend,
        root: Path,
        *,
        location: ArtifactLocation | None = None,
        policy: Callable[[str], ModelPolicy] | None = None,
    ) -> None:
        self.policy = policy or (lambda name: ModelPolicy())
        self.backend = as_backend(database)
        self.root = Path(root)
        self.artifacts = location
        self.root.mkdir(parents=True, exist_ok=True)
        self._conn = self.backend.connect()
        with self.backend.translated("open the registry tables of"):
            self.backend.migrate(self._conn, _db.COMPONENT, _db.STEPS)

    @classmethod
    def from_settings(cls, settings: Settings) -> Registry:
        """The registry of a project: its store (``outputs/mlops.db``) and ``outputs/registry``."""
        model_policy(settings, None)  # a malformed governance section is refused before any write
        return cls(
            open_backend(settings),
            settings.registry_dir,
            location=artifact_location(settings),
            policy=lambda name: model_policy(settings, name),
        )

    @property
    def database(self) -> Path | None:
        """The database file of a SQLite store (None for a server database)."""
        path = getattr(self.backend, "path", None)
        return path if isinstance(path, Path) else None

    @property
    def location(self) -> str:
        """Where the registry's rows are, fit for messages (a path or a URL without password)."""
        return self.backend.display_url

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Registry(database={self.location!r}, root={str(self.root)!r})"

    # -- registering ---------------------------------------------------------

    def register(
        self,
        name: str,
        model: Any,
        *,
        signature: pa.DataFrameSchema,
        task: str,
        target: str,
        metrics: dict[str, float],
        data_version: str | None,
        pipeline_run: str | None,
        training_run: str | None,
        params: dict[str, Any] | None = None,
        slices: pd.DataFrame | None = None,
        training_rows: int | None = None,
        description: str = "",
        intended_use: str = "",
        limitations: str = "",
        report_url: str | None = None,
        attachments: dict[str, Path] | None = None,
        split: dict[str, Any] | None = None,
        actor: str | None = None,
        governance: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Package ``model`` and register it as the next version of ``name``.

        The package (see :mod:`mlops_nb.registry.package`) is written to a
        staging folder first; numbering, moving it into place and inserting the
        row happen in one transaction, and on any failure nothing is left.

        Args:
            name: The model name (letters, digits, ``_ . -``).
            model: A fitted scikit-learn estimator or pipeline.
            signature: The pandera contract of the model's input frame.
            task: ``classification`` or ``regression``.
            target: The target column.
            metrics: Metric name → number (test-set metrics).
            data_version: The data snapshot version it was trained on.
            pipeline_run: The pipeline run that produced it.
            training_run: The tracking run of the training.
            params: Hyperparameters and other settings to record.
            slices: Metrics per group of the evaluation data (the bias check).
            training_rows: Number of training rows.
            description: What the model is, for the card.
            intended_use: What it is for and not for.
            limitations: Known weaknesses.
            report_url: Link to the run report, shown in the card.
            attachments: Extra files to keep in the package, file name → source
                path (e.g. ``reference_profile.parquet`` for monitoring); their
                SHA-256 is recorded and checked by :meth:`attachment`.
            split: How the training and holdout rows were split (a
                :class:`~mlops_nb.prep.keys.SplitRule` as a dict), kept with the
                ``training_keys.parquet`` attachment so later runs can leave
                out the rows this version trained on.
            actor: Who registers it (default :func:`default_actor`); an
                approval of this version must come from someone else.
            governance: What the card reports on governance: ``personal_data``
                (the columns found, their kind and what was done),
                ``fairness`` (the evaluate stage's check), ``protected_aliases``
                and ``sensitive``.

        Returns:
            The new version.

        Raises:
            RegistryError: A bad name or argument, or a model skops cannot save
                or that holds types the loader would refuse.
        """
        name = validate_name(name)
        metadata = _write.describe(
            task=task,
            target=target,
            metrics=metrics,
            params=params,
            slices=slices,
            training_rows=training_rows,
            report_url=report_url,
            texts={
                "description": description,
                "intended_use": intended_use,
                "limitations": limitations,
            },
            lineage={
                "data_version": data_version,
                "pipeline_run": pipeline_run,
                "training_run": training_run,
            },
        )
        if split is not None:
            if not isinstance(split, dict):
                raise RegistryError(f"split must be a dict, got {type(split).__name__}.")
            metadata["split"] = split
        metadata["registered_by"] = actor or default_actor()
        if governance is not None:
            if not isinstance(governance, dict):
                raise RegistryError(f"governance must be a dict, got {type(governance).__name__}.")
            metadata["governance"] = governance
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        try:
            metadata["model"] = package.write_model(model, staging)
            metadata["inputs"] = package.write_signature(signature, staging)
            metadata["attachments"] = package.write_attachments(attachments or {}, staging)
            version = self._commit(name, staging, metadata)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.get(name, version)

    def _commit(self, name: str, staging: Path, metadata: dict[str, Any]) -> int:
        placed: Path | None = None
        publishing = self.artifacts is not None and self.artifacts.publishes
        try:
            with self._writing(name) as conn:
                _write.refuse_case_clash(conn, name)
                version = _db.next_version(conn, name)
                full = {"name": name, "version": version, "created_at": _db.now(), **metadata}
                package.finish_package(staging, full)
                relative = f"{name}/{version}"
                files = None
                if publishing and self.artifacts is not None:  # visible once the row commits
                    files = self.artifacts.put_folder(staging)
                placed = _write.place(staging, self.root / relative)
                crash_point("register")
                _write.insert_version(conn, full, relative, files)
        except BaseException:
            if self._conn.in_transaction:  # COMMIT itself failed
                self._conn.execute("ROLLBACK")
            if placed is not None:
                shutil.rmtree(placed, ignore_errors=True)
            raise
        return version

    # -- reading -------------------------------------------------------------

    def get(self, name: str, ref: Ref | None = None) -> ModelVersion:
        """The version ``ref`` designates: a number, ``"latest"`` (newest active) or an alias.

        Without ``ref``, ``name`` may be a whole reference: ``churn@production``,
        ``churn:3`` or ``churn`` (the latest version).

        Raises:
            ModelNotFoundError: Unknown model, version or alias (the message
                lists what exists).
        """
        if ref is None:
            name, ref = parse_model_ref(name)
        name = validate_name(name)
        with self._reading():
            row = resolve(self._conn, name, parse_ref(ref), self.location)
            return self._version(row)

    def load(self, name: str, ref: Ref | None = None) -> LoadedModel:
        """Verify and load a version: checksum first, then trusted types only.

        ``name`` and ``ref`` are read as in :meth:`get`, so
        ``load("churn@production")`` works.

        Raises:
            ModelNotFoundError: Unknown model, version or alias.
            RegistryError: The package is missing, was changed after registration
                (checksum mismatch) or holds types that are not trusted.
        """
        version = self.get(name, ref)
        with self._reading():
            row = version_row(self._conn, version.name, version.version)
        self._materialize(version, row)
        model, signature, metadata = package.read_package(version.path, row["sha256"])
        if (metadata.get("name"), metadata.get("version")) != (version.name, version.version):
            raise RegistryError(
                f"{version.path} holds the package of {metadata.get('name')}:"
                f"{metadata.get('version')}, not {version.ref}; restore the right folder.",
                path=version.path,
            )
        return LoadedModel(model, version, signature, metadata)

    def attachment(self, name: str, filename: str, ref: Ref | None = None) -> Path:
        """The verified path of a file attached to a version at registration.

        Raises:
            ModelNotFoundError: Unknown model, version or alias.
            RegistryError: The version has no such attachment, or the file was
                changed or removed after registration.
        """
        version = self.materialize(self.get(name, ref))
        recorded = package.read_metadata(version.path).get("attachments") or {}
        return package.check_attachment(version.path, version.ref, filename, recorded)

    def materialize(self, version: ModelVersion) -> ModelVersion:
        """Make sure ``version``'s package is in the local folder, fetched and verified.

        Without an artifact location (the embedded default) the package is
        already there; a published one is fetched once into ``root``, each file
        checked against the SHA-256 recorded when it was registered.
        """
        with self._reading():
            row = version_row(self._conn, version.name, version.version)
        self._materialize(version, row)
        return version

    def _materialize(self, version: ModelVersion, row: Any) -> None:
        files = row["files"]
        if not files or self.artifacts is None or not self.artifacts.publishes:
            return
        self.artifacts.fetch_folder(json.loads(files), version.path)

    @contextmanager
    def _writing(self, name: str) -> Iterator[Connection]:
        """A write transaction holding model ``name`` alone (numbering, aliases, history)."""
        with (
            self.backend.translated("write to the registry tables of"),
            self.backend.transaction(self._conn, lock=f"registry:{name}") as conn,
        ):
            yield conn

    def _reading(self) -> AbstractContextManager[None]:
        return self.backend.translated("read the registry tables of")

    def _version(self, row: Any) -> ModelVersion:
        aliases = _db.aliases_of(self._conn, row["name"])
        return ModelVersion(
            name=row["name"],
            version=int(row["version"]),
            created_at=datetime.fromisoformat(row["created_at"]),
            status=row["status"],
            aliases=tuple(a for a, v in aliases.items() if v == row["version"]),
            metrics=json.loads(row["metrics"]),
            task=row["task"],
            target=row["target"],
            lineage={key: row[key] for key in ("data_version", "pipeline_run", "training_run")},
            path=self.root / row["path"],
        )

    def list_models(self) -> pd.DataFrame:
        """One row per model: ``name, versions, latest, aliases, updated``."""
        with self._reading():
            return _tables.models_frame(self._conn)

    def versions(self, name: str) -> pd.DataFrame:
        """One row per version of ``name``: status, aliases, lineage and metrics."""
        self._require(name)
        with self._reading():
            return _tables.versions_frame(self._conn, name)

    def history(self, name: str, alias: str | None = None) -> pd.DataFrame:
        """Alias changes of ``name`` (of ``alias`` only, if given), oldest first.

        Columns: ``at, alias, from_version, to_version, actor, reason, run``; a
        ``from_version`` of NA is a first assignment, a ``to_version`` of NA a removal.
        """
        self._require(name)
        with self._reading():
            return _tables.history_frame(
                self._conn, name, None if alias is None else validate_alias(alias)
            )

    def alias_at(self, name: str, alias: str, when: datetime | str) -> int | None:
        """The version ``alias`` pointed at at time ``when``, or None if it pointed nowhere.

        Naive datetimes (and ISO text without an offset) are taken as local time.
        """
        self._require(name)
        with self._reading():
            row = self._conn.execute(
                "SELECT to_version FROM registry_alias_history WHERE name = ? AND alias = ? "
                "AND at <= ? ORDER BY at DESC, id DESC LIMIT 1",
                (name, validate_alias(alias), _when(when)),
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def _require(self, name: str) -> None:
        with self._reading():
            require_model(self._conn, validate_name(name), self.location)

    # -- aliases and retirement ------------------------------------------------

    def set_alias(
        self,
        name: str,
        alias: str,
        version: Ref,
        *,
        reason: str,
        actor: str | None = None,
        run: str | None = None,
    ) -> bool:
        """Point ``alias`` at ``version`` and record the change in the alias history.

        ``version`` may be a number, ``"latest"`` or another alias (promote what
        ``staging`` holds to ``production``). Setting an alias to the version it
        already holds changes nothing and records nothing.

        Returns:
            True when the alias moved, False when it already pointed there.

        Raises:
            ModelNotFoundError: Unknown model or version.
            RegistryError: Invalid alias, empty reason, a retired version, or
                a protected alias (it moves through :meth:`approve`).
        """
        alias, reason = validate_alias(alias), _reason(reason)
        name, ref = validate_name(name), parse_ref(version)
        protected = self.is_protected(name, alias)  # pipeline.yaml is read before the lock is taken
        with self._writing(name) as conn:
            number = _active(resolve(conn, name, ref, self.location), alias)
            if protected and _db.current_alias(conn, name, alias) != number:
                raise self._protected_error(name, alias, number)
            return _db.move_alias(
                conn, name, alias, number, actor=actor or default_actor(), reason=reason, run=run
            )

    def swap_alias(
        self,
        name: str,
        alias: str,
        version: Ref,
        *,
        expected: int | None,
        reason: str,
        actor: str | None = None,
        run: str | None = None,
    ) -> int | None:
        """Point ``alias`` at ``version`` only if it still points at ``expected``.

        A compare-and-set: the check and the move (with its history row) are one
        transaction holding model ``name`` alone, so no other process can move
        the alias in between. ``expected=None`` means "only if no version holds it".

        Returns:
            The version the alias pointed at when checked (None: none). The alias
            moved exactly when that equals ``expected``; otherwise nothing changed.

        Raises:
            ModelNotFoundError: Unknown model or version.
            RegistryError: Invalid alias, empty reason, or a retired version.
        """
        alias, reason = validate_alias(alias), _reason(reason)
        name, ref = validate_name(name), parse_ref(version)
        protected = self.is_protected(name, alias)
        with self._writing(name) as conn:
            number = _active(resolve(conn, name, ref, self.location), alias)
            held = _db.current_alias(conn, name, alias)
            if protected and held == expected and held != number:
                raise self._protected_error(name, alias, number)
            if held == expected:
                actor = actor or default_actor()
                _db.move_alias(conn, name, alias, number, actor=actor, reason=reason, run=run)
        return held

    def remove_alias(
        self,
        name: str,
        alias: str,
        *,
        reason: str,
        actor: str | None = None,
        run: str | None = None,
    ) -> int:
        """Remove ``alias`` from ``name``, recording it in the history.

        Returns:
            The version the alias pointed at.

        Raises:
            ModelNotFoundError: Unknown model or alias.
        """
        alias, reason, name = validate_alias(alias), _reason(reason), validate_name(name)
        if self.is_protected(name, alias):
            raise self._protected_error(name, alias, None)
        with self._writing(name) as conn:
            row = resolve(conn, name, alias, self.location)
            _db.move_alias(
                conn, name, alias, None, actor=actor or default_actor(), reason=reason, run=run
            )
        return int(row["version"])

    def retire(
        self,
        name: str,
        version: Ref,
        *,
        reason: str,
        actor: str | None = None,
        run: str | None = None,
    ) -> ModelVersion:
        """Retire a version: status ``retired``, every alias on it removed (with history).

        The reason is kept on the version (``retired_reason`` in :meth:`versions`)
        and on each alias removal. Retiring a retired version changes nothing.
        """
        reason, name, ref = _reason(reason), validate_name(name), parse_ref(version)
        actor = actor or default_actor()
        with self._writing(name) as conn:
            row = resolve(conn, name, ref, self.location)
            number = int(row["version"])
            if row["status"] == ACTIVE:
                conn.execute(
                    "UPDATE registry_versions SET status = ?, retired_at = ?, retired_by = ?, "
                    "retired_reason = ? WHERE name = ? AND version = ?",
                    (RETIRED, _db.now(), actor, reason, name, number),
                )
                for alias, held in _db.aliases_of(conn, name).items():
                    if held == number:
                        _db.move_alias(
                            conn,
                            name,
                            alias,
                            None,
                            actor=actor,
                            reason=f"retired version {number}: {reason}",
                            run=run,
                        )
        return self.get(name, number)

    # -- governance: protected aliases -----------------------------------------

    def is_protected(self, name: str, alias: str) -> bool:
        """Whether ``alias`` of ``name`` moves only through an approval (the project policy)."""
        return self.policy(name).is_protected(alias)

    @staticmethod
    def _protected_error(name: str, alias: str, number: int | None) -> RegistryError:
        """Why a protected alias does not move without an approval, and the missing step."""
        what = f"remove {name}@{alias}" if number is None else f"move {name}@{alias} to v{number}"
        return RegistryError(
            f"alias '{alias}' of {name} is protected (governance.protected_aliases in "
            f"pipeline.yaml): cannot {what} without an approval. The missing step: someone "
            f"other than the version's registrant runs `mlops-nb models approve {name} "
            f"{number if number is not None else 'VERSION'} {alias} --reason TEXT` on its "
            f"proposal (`mlops-nb models pending`; propose with `mlops-nb models propose`). "
            f"To go back to the previous version at once: `mlops-nb models rollback {name} "
            f"--alias {alias} --reason TEXT`.",
            model=name,
            alias=alias,
        )

    def propose(
        self,
        name: str,
        alias: str,
        version: Ref,
        *,
        reason: str,
        expected: int | None = None,
        checked: bool = False,
        actor: str | None = None,
        run: str | None = None,
    ) -> tuple[int | None, int | None]:
        """Propose moving protected ``alias`` to ``version``; an approval moves it.

        With ``checked``, the proposal is recorded only if the alias still
        holds ``expected`` (a version, or None: no version), checked in the same transaction (as
        :meth:`swap_alias`). A newer proposal for the alias supersedes older
        pending ones. The report the approver must review is the run report of
        the version's pipeline run.

        Returns:
            The version the alias held when checked and the proposal's id
            (None: not recorded, the alias held another version than ``expected``).

        Raises:
            RegistryError: the alias is not protected (use :meth:`set_alias`),
                a retired version, an empty reason.
        """
        alias, reason = validate_alias(alias), _reason(reason)
        name, ref = validate_name(name), parse_ref(version)
        if not self.is_protected(name, alias):
            raise RegistryError(
                f"alias '{alias}' of {name} is not protected; move it with `mlops-nb models "
                f"promote` (protect it under governance.protected_aliases in pipeline.yaml).",
                model=name,
                alias=alias,
            )
        with self._writing(name) as conn:
            row = resolve(conn, name, ref, self.location)
            number = _active(row, alias)
            held = _db.current_alias(conn, name, alias)
            if checked and held != expected:
                return held, None
            if held == number:
                raise RegistryError(
                    f"{name}@{alias} already is v{number}; there is nothing to propose.",
                    model=name,
                )
            try:
                report = package.read_metadata(self.root / row["path"]).get("report_url")
            except (OSError, RegistryError):  # a published package not on this machine yet
                report = None
            proposal = _approvals.insert_proposal(
                conn,
                name,
                number,
                alias,
                champion=held,
                actor=actor or default_actor(),
                reason=reason,
                run=run,
                report=report,
            )
        return held, proposal

    def approve(
        self,
        name: str,
        version: Ref,
        alias: str,
        *,
        reason: str,
        report_sha256: str | None = None,
        actor: str | None = None,
    ) -> str | None:
        """Approve the pending proposal moving ``alias`` to ``version``, and move it.

        The approver must be someone other than the person who registered the
        version. The approval records the SHA-256 of the version's run report
        as it is now; with ``report_sha256`` (what the approver reviewed, as
        ``models pending`` shows it) it must match, so a report changed since
        review is not approved. The move is refused when the alias no longer
        holds the version the proposal was made against (propose again).

        Returns:
            The SHA-256 of the report recorded with the approval.

        Raises:
            RegistryError: no pending proposal, the approver registered the
                version, the report is missing or changed, a stale proposal.
        """
        alias, reason = validate_alias(alias), _reason(reason)
        name, ref = validate_name(name), parse_ref(version)
        approver = actor or default_actor()
        with self._writing(name) as conn:
            row = resolve(conn, name, ref, self.location)
            number = _active(row, alias)
            proposal = _approvals.pending_proposal(conn, name, number, alias)
            if proposal is None:
                raise RegistryError(
                    f"no pending proposal moves {name}@{alias} to v{number}; see `mlops-nb "
                    f"models pending`, or propose it with `mlops-nb models propose {name} "
                    f"{number} {alias} --reason TEXT`.",
                    model=name,
                    version=number,
                )
            self._check_approver(row, approver)
            digest = self._check_report(proposal, report_sha256)
            held = _db.current_alias(conn, name, alias)
            if held != proposal["champion_version"]:
                raise RegistryError(
                    f"proposal #{proposal['id']} was made while {name}@{alias} held "
                    f"{_held(proposal['champion_version'])}; it now holds {_held(held)}. Review "
                    f"again against the new champion and propose again (`mlops-nb models "
                    f"propose`).",
                    model=name,
                )
            _approvals.mark_approved(
                conn, proposal["id"], actor=approver, reason=reason, digest=digest
            )
            _db.move_alias(
                conn,
                name,
                alias,
                number,
                actor=approver,
                reason=f"approved by {approver} (proposal #{proposal['id']}): {reason}",
                run=proposal["run"],
                event="approved move",
            )
        return digest

    @staticmethod
    def _check_approver(row: Any, approver: str) -> None:
        registrant = row["registered_by"]
        if registrant is not None and registrant == approver:
            raise RegistryError(
                f"{approver} registered {row['name']} v{row['version']} and cannot approve it: "
                f"an approval must come from another person (the identity is $MLOPS_NB_USER, "
                f"else the OS user). Ask a reviewer to run the approval.",
                model=row["name"],
                version=row["version"],
            )

    @staticmethod
    def _check_report(proposal: Any, reviewed: str | None) -> str | None:
        report = proposal["report"]
        digest = _approvals.report_digest(report)
        if report and digest is None:
            raise RegistryError(
                f"the run report of proposal #{proposal['id']} ({report}) is gone; an approval "
                f"must rest on the report reviewed. Re-run the pipeline to propose again.",
                model=proposal["name"],
            )
        if reviewed is not None and reviewed.strip().lower() != digest:
            raise RegistryError(
                f"the report you reviewed (sha256 {reviewed.strip()[:12]}…) is not the run report "
                f"now at {report} (sha256 {(digest or 'none')[:12]}…): it changed since review. "
                f"Review it again (`mlops-nb models pending` shows its sha256).",
                model=proposal["name"],
            )
        return digest

    def rollback(
        self, name: str, alias: str = "production", *, reason: str, actor: str | None = None
    ) -> tuple[int, int]:
        """Emergency: point ``alias`` back at the version it held before, without approval.

        Allowed on protected aliases, recorded in the history as ``rollback``.

        Returns:
            The version it left and the version it holds now.

        Raises:
            RegistryError: the alias held no active version before this one.
        """
        alias, reason, name = validate_alias(alias), _reason(reason), validate_name(name)
        actor = actor or default_actor()
        with self._writing(name) as conn:
            current = int(resolve(conn, name, alias, self.location)["version"])
            previous = _db.previous_holder(conn, name, alias, current)
            if previous is None:
                raise RegistryError(
                    f"{name}@{alias} (v{current}) held no other active version before; there is "
                    f"nothing to roll back to. Retire v{current} or approve another version.",
                    model=name,
                    alias=alias,
                )
            _db.move_alias(
                conn,
                name,
                alias,
                previous,
                actor=actor,
                reason=f"emergency rollback from v{current} without approval: {reason}",
                run=None,
                event="rollback",
            )
        return current, previous

    def pending(self, name: str | None = None) -> pd.DataFrame:
        """Proposals of protected aliases waiting for an approval (of ``name`` if given)."""
        with self._reading():
            if name is not None:
                require_model(self._conn, validate_name(name), self.location)
            return _approvals.pending_frame(self._conn, name)

    def audit(self, name: str, alias: str | None = None) -> pd.DataFrame:
        """Proposals, approvals, moves and rollbacks of ``name``'s aliases, oldest first."""
        with self._reading():
            require_model(self._conn, validate_name(name), self.location)
            return _approvals.audit_frame(
                self._conn, name, None if alias is None else validate_alias(alias)
            )


def _held(version: int | None) -> str:
    return "no version" if version is None else f"v{version}"
