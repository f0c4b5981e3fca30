"""The reference profile: everything drift detection keeps of the reference data.

:func:`~mlops_nb.monitoring.profiling.build_profile` (what
:meth:`DriftDetector.fit` runs) summarises each column once; a drift check then
never needs the reference data again. Per column the profile holds its kind,
dtype, row and missing counts and

* numeric columns: mean, standard deviation, range, quantiles,
  the edges of ``bins`` reference-quantile bins with the reference share of
  each, and a bounded random sample of the values (for the two-sample tests);
* categorical columns: the count of each category.

A profile is saved as JSON (``.json``) or Parquet (``.parquet``: one table of
the per-column samples, bin edges and shares and category counts, with the
rest in the Parquet schema metadata), never with pickle, and read back with
:meth:`ReferenceProfile.load`, which rejects files of another format or version
with a :class:`MonitoringError`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_nb.jsonvalues import json_safe
from mlops_nb.monitoring.errors import MonitoringError

__all__ = [
    "KINDS",
    "PROFILE_FORMAT",
    "PROFILE_VERSION",
    "QUANTILES",
    "ColumnProfile",
    "ReferenceProfile",
]

PROFILE_FORMAT = "mlops_nb.drift_profile"
PROFILE_VERSION = 1
KINDS: tuple[str, ...] = ("numeric", "categorical", "skipped")
QUANTILES: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
_METADATA_KEY = b"mlops_nb.drift_profile"
_ARRAY_PARTS = ("edges", "shares", "sample")
FIT_SETTINGS: tuple[str, ...] = (
    "columns",
    "categorical",
    "max_discrete",
    "max_categories",
    "bins",
    "max_reference_sample",
    "random_state",
)
"""Parameters of :class:`DriftDetector` that shape the profile (fixed once fitted)."""


def _empty() -> np.ndarray:
    return np.empty(0, dtype=np.float64)


@dataclass(eq=False)
class ColumnProfile:
    """The reference summary of one column.

    Attributes:
        name: Column name.
        kind: ``"numeric"``, ``"categorical"`` or ``"skipped"``.
        dtype: The reference dtype, as text.
        family: Type family (``numeric``, ``boolean``, ``text``, ``datetime``,
            ``empty``), used to catch a column whose type changed.
        n: Reference rows.
        n_missing: Rows without a value (NaN/None; also ±inf for numbers).
        note: Why a skipped column is not tested.
        mean: Mean of the values (numeric).
        std: Standard deviation of the values (numeric).
        minimum: Smallest value (numeric).
        maximum: Largest value (numeric).
        scale: What the Wasserstein distance is divided by: the standard
            deviation (1 for a constant column), so a mean shift of ``k``
            standard deviations has a normalized distance of ``k``. (A robust
            scale such as the IQR would make heavy-tailed columns, whose
            distance is dominated by the tail, alarm on tiny shifts.)
        quantiles: Value at each of :data:`QUANTILES`, keyed by the quantile as text.
        edges: Inner edges of the reference-quantile bins (increasing, unique);
            bin ``i`` holds values ``edges[i-1] <= x < edges[i]``.
        shares: Reference share of each bin (``len(edges) + 1`` values).
        sample: Sorted random sample of the values (at most
            ``max_reference_sample``).
        counts: Count of each category, largest first (categorical).
    """

    name: str
    kind: str
    dtype: str
    family: str
    n: int
    n_missing: int
    note: str = ""
    mean: float = math.nan
    std: float = math.nan
    minimum: float = math.nan
    maximum: float = math.nan
    scale: float = math.nan
    quantiles: dict[str, float] = field(default_factory=dict)
    edges: np.ndarray = field(default_factory=_empty)
    shares: np.ndarray = field(default_factory=_empty)
    sample: np.ndarray = field(default_factory=_empty)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def n_valid(self) -> int:
        """Rows with a value."""
        return self.n - self.n_missing

    @property
    def missing_share(self) -> float:
        """Share of rows without a value (0 for a column without rows)."""
        return self.n_missing / self.n if self.n else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The column as JSON-safe values (NaN becomes None, arrays lists)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "dtype": self.dtype,
            "family": self.family,
            "n": self.n,
            "n_missing": self.n_missing,
            "note": self.note,
            "mean": json_safe(self.mean),
            "std": json_safe(self.std),
            "minimum": json_safe(self.minimum),
            "maximum": json_safe(self.maximum),
            "scale": json_safe(self.scale),
            "quantiles": {key: json_safe(value) for key, value in self.quantiles.items()},
            "edges": self.edges.tolist(),
            "shares": self.shares.tolist(),
            "sample": self.sample.tolist(),
            "counts": dict(self.counts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnProfile:
        """Rebuild a column from :meth:`to_dict`'s output.

        Raises:
            MonitoringError: an unknown kind (and KeyError/TypeError for a
                missing or malformed entry, which :meth:`ReferenceProfile.from_dict`
                turns into a MonitoringError naming the file).
        """
        kind = str(data["kind"])
        if kind not in KINDS:
            raise MonitoringError(
                f"column {data['name']!r} has unknown kind {kind!r} (kinds: {', '.join(KINDS)})",
                column=data["name"],
            )
        return cls(
            name=str(data["name"]),
            kind=kind,
            dtype=str(data["dtype"]),
            family=str(data["family"]),
            n=int(data["n"]),
            n_missing=int(data["n_missing"]),
            note=str(data.get("note", "")),
            mean=_float(data["mean"]),
            std=_float(data["std"]),
            minimum=_float(data["minimum"]),
            maximum=_float(data["maximum"]),
            scale=_float(data["scale"]),
            quantiles={str(key): _float(value) for key, value in data["quantiles"].items()},
            edges=np.asarray(data["edges"], dtype=np.float64),
            shares=np.asarray(data["shares"], dtype=np.float64),
            sample=np.asarray(data["sample"], dtype=np.float64),
            counts={str(key): int(value) for key, value in data["counts"].items()},
        )


@dataclass(eq=False)
class ReferenceProfile:
    """What :meth:`DriftDetector.fit` keeps of the reference data.

    Attributes:
        columns: Profile of each monitored column, by name, in data order.
        n_rows: Reference rows.
        settings: The fit-time parameters (:data:`FIT_SETTINGS`) it was built with.
        created_at: UTC time of creation (ISO 8601).
        version: Format version (:data:`PROFILE_VERSION`).
    """

    columns: dict[str, ColumnProfile]
    n_rows: int
    settings: dict[str, Any]
    created_at: str = ""
    version: int = PROFILE_VERSION

    def __getitem__(self, name: str) -> ColumnProfile:
        try:
            return self.columns[name]
        except KeyError:
            raise MonitoringError(
                f"column {name!r} is not in the drift profile; profiled columns: "
                f"{', '.join(self.columns)}.",
                column=name,
            ) from None  # a lookup miss: the KeyError would only repeat the name

    def table(self) -> pd.DataFrame:
        """One row per column: kind, dtype, rows, missing share, mean, std, categories, note."""
        rows = [
            {
                "column": c.name,
                "kind": c.kind,
                "dtype": c.dtype,
                "n": c.n,
                "missing_share": c.missing_share,
                "mean": c.mean,
                "std": c.std,
                "categories": len(c.counts) if c.kind == "categorical" else np.nan,
                "note": c.note,
            }
            for c in self.columns.values()
        ]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """The whole profile as JSON-safe values (what ``.json`` files hold)."""
        return {
            "format": PROFILE_FORMAT,
            "version": self.version,
            "created_at": self.created_at,
            "n_rows": self.n_rows,
            "settings": json_safe(self.settings),
            "columns": [column.to_dict() for column in self.columns.values()],
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "profile") -> ReferenceProfile:
        """Rebuild a profile from :meth:`to_dict`'s output.

        Raises:
            MonitoringError: If ``data`` is not a drift profile of a known
                version, or is malformed.
        """
        _check_header(data, source)
        try:
            columns = [ColumnProfile.from_dict(item) for item in data["columns"]]
            settings = dict(data["settings"])
            missing = [key for key in FIT_SETTINGS if key not in settings]
            if missing:
                raise KeyError(", ".join(missing))  # reported below, as any missing key
            return cls(
                columns={column.name: column for column in columns},
                n_rows=int(data["n_rows"]),
                settings=settings,
                created_at=str(data.get("created_at", "")),
                version=int(data["version"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise MonitoringError(
                f"{source} is a malformed drift profile ({type(error).__name__}: {error}); "
                "rebuild it with DriftDetector().fit(reference).profile_.save(path).",
                path=source,
            ) from error

    def save(self, path: str | Path) -> Path:
        """Write the profile to ``path`` (``.json`` or ``.parquet``) and return the path.

        Raises:
            MonitoringError: If the suffix is neither ``.json`` nor ``.parquet``.
        """
        path = Path(path)
        suffix = _suffix(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".json":
            text = json.dumps(self.to_dict(), allow_nan=False, ensure_ascii=False)
            path.write_text(text, encoding="utf-8")
        else:
            _write_parquet(self, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ReferenceProfile:
        """Read a profile written by :meth:`save`.

        Raises:
            MonitoringError: If the file is missing, has another suffix, is
                not a drift profile, has an unknown version or is malformed.
        """
        path = Path(path)
        suffix = _suffix(path)
        if not path.is_file():
            raise MonitoringError(
                f"drift profile {path} does not exist; save one with "
                "detector.profile_.save(path) after DriftDetector().fit(reference).",
                path=str(path),
            )
        if suffix == ".json":
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                raise MonitoringError(
                    f"{path} is not a JSON drift profile ({error}).", path=str(path)
                ) from error
            return cls.from_dict(data, source=str(path))
        return cls.from_dict(_read_parquet(path), source=str(path))


# --- files ---------------------------------------------------------------------------------


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in (".json", ".parquet"):
        raise MonitoringError(
            f"cannot use {path} for a drift profile: name it *.json or *.parquet "
            "(profiles are never pickled).",
            path=str(path),
        )
    return suffix


def _check_header(data: Any, source: str) -> None:
    if not isinstance(data, dict) or data.get("format") != PROFILE_FORMAT:
        raise MonitoringError(
            f"{source} is not a drift profile (no format {PROFILE_FORMAT!r}); write one with "
            "DriftDetector().fit(reference).profile_.save(path).",
            path=source,
        )
    version = data.get("version")
    if version != PROFILE_VERSION:
        raise MonitoringError(
            f"{source} is a drift profile of version {version!r}, and this mlops-nb reads "
            f"version {PROFILE_VERSION} only; rebuild it from the reference data with "
            "DriftDetector().fit(reference).profile_.save(path).",
            path=source,
            version=version,
        )


def _write_parquet(profile: ReferenceProfile, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names: list[np.ndarray] = []
    parts: list[np.ndarray] = []
    positions: list[np.ndarray] = []
    values: list[np.ndarray] = []
    categories: list[Any] = []
    for column in profile.columns.values():
        blocks: list[tuple[str, np.ndarray, list[str] | None]] = [
            (part, getattr(column, part), None) for part in _ARRAY_PARTS
        ]
        if column.counts:
            counts = np.fromiter(column.counts.values(), dtype=np.float64, count=len(column.counts))
            blocks.append(("counts", counts, list(column.counts)))
        for part, array, keys in blocks:
            size = len(array)
            names.append(np.full(size, column.name, dtype=object))
            parts.append(np.full(size, part, dtype=object))
            positions.append(np.arange(size, dtype=np.int64))
            values.append(np.asarray(array, dtype=np.float64))
            categories.extend(keys if keys is not None else [None] * size)
    table = pa.table(
        {
            "column": pa.array(np.concatenate(names) if names else [], type=pa.string()),
            "part": pa.array(np.concatenate(parts) if parts else [], type=pa.string()),
            "position": pa.array(np.concatenate(positions) if positions else [], type=pa.int64()),
            "value": pa.array(np.concatenate(values) if values else [], type=pa.float64()),
            "category": pa.array(categories, type=pa.string()),
        }
    )
    header = profile.to_dict()
    for column in header["columns"]:
        for part in (*_ARRAY_PARTS, "counts"):
            column.pop(part)
    metadata = {_METADATA_KEY: json.dumps(header, allow_nan=False).encode("utf-8")}
    pq.write_table(table.replace_schema_metadata(metadata), path)


def _read_parquet(path: Path) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise MonitoringError(
            f"{path} is not a Parquet drift profile ({error}).", path=str(path)
        ) from error
    raw = (table.schema.metadata or {}).get(_METADATA_KEY)
    if raw is None:
        raise MonitoringError(
            f"{path} is a Parquet file but not a drift profile (no {_METADATA_KEY.decode()} "
            "schema metadata); write one with detector.profile_.save(path).",
            path=str(path),
        )
    try:
        header: dict[str, Any] = json.loads(raw.decode("utf-8"))
        _check_header(header, str(path))
        frame = table.select(["column", "part", "position", "value", "category"]).to_pandas()
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, pa.ArrowException) as error:
        raise MonitoringError(
            f"{path} is a malformed drift profile ({error}).", path=str(path)
        ) from error
    frame = frame.sort_values(["column", "part", "position"], kind="stable")
    grouped = {key: group for key, group in frame.groupby(["column", "part"], sort=False)}
    for column in header.get("columns", []):
        if not isinstance(column, dict):
            continue
        for part in (*_ARRAY_PARTS, "counts"):
            group = grouped.get((column.get("name"), part))
            if part == "counts":
                column[part] = (
                    {}
                    if group is None
                    else dict(zip(group["category"].tolist(), group["value"].tolist(), strict=True))
                )
            else:
                column[part] = [] if group is None else group["value"].to_numpy(np.float64)
    return header


# --- values read back ----------------------------------------------------------------------


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)
