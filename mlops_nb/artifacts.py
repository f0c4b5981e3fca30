"""Reading and writing stage artifacts by kind, never with pickle.

=========  ==========  ================================================
kind       extension   Python objects
=========  ==========  ================================================
table      .parquet    pandas DataFrame
json       .json       dict, list, numbers, text, booleans, None
text       .txt/.md/   str (the extension of the artifact's name decides)
           .yaml/.html
figure     .png        matplotlib Figure
model      .skops      scikit-learn estimators (skops, trusted types only)
file       any         an existing file (a Path), copied in
=========  ==========  ================================================
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlops_nb.errors import ArtifactError
from mlops_nb.jsonvalues import jsonable

TEXT_SUFFIXES = {".txt", ".md", ".yaml", ".yml", ".html", ".csv", ".log"}
TRUSTED_MODULE_PREFIXES = ("sklearn.", "numpy.", "scipy.", "mlops_nb.")
"""The packages whose types (classes, never functions) a skops file may hold."""
_DATA_TYPES = "bool bytearray bytes complex dict float frozenset int list set slice str tuple"
TRUSTED_BUILTINS = frozenset(f"builtins.{name}" for name in _DATA_TYPES.split())
"""The only builtins a skops file may name: plain data types (never ``exec`` or ``eval``)."""
_FILE_MODULES = ("scipy.io", "numpy.lib._datasource", "numpy.lib.npyio", "numpy.lib._npyio_impl")
_FILE_TYPES = ("memmap", "DataSource")
"""Types that open, create or overwrite files when built: refused wherever they live."""


def kind_of(name: str, obj: Any) -> tuple[str, str]:
    """The kind and file name an object is stored under."""
    suffix = Path(name).suffix.lower()
    if isinstance(obj, Path):
        return "file", name if suffix else name + obj.suffix
    if _is_frame(obj):
        return "table", name if suffix == ".parquet" else name + ".parquet"
    if _is_figure(obj):
        return "figure", name if suffix == ".png" else name + ".png"
    if isinstance(obj, str) and suffix in TEXT_SUFFIXES:
        return "text", name
    if _is_estimator(obj):
        return "model", name if suffix == ".skops" else name + ".skops"
    if isinstance(obj, (dict, list, int, float, bool, str)) or obj is None:
        return "json", name if suffix == ".json" else name + ".json"
    raise ArtifactError(
        f"cannot save artifact '{name}' of type {type(obj).__name__}: save a DataFrame, "
        f"dict/list, text, matplotlib figure, scikit-learn estimator or a file Path",
        artifact=name,
    )


def _is_frame(obj: Any) -> bool:
    # by type name and module: pandas is imported only by code that has frames
    return any(
        kind.__name__ == "DataFrame" and kind.__module__.startswith("pandas")
        for kind in type(obj).__mro__
    )


def _is_figure(obj: Any) -> bool:
    return type(obj).__module__.startswith("matplotlib") and hasattr(obj, "savefig")


def _is_estimator(obj: Any) -> bool:
    return hasattr(obj, "get_params") and (hasattr(obj, "fit") or hasattr(obj, "transform"))


def write(kind: str, obj: Any, path: Path) -> None:
    """Write ``obj`` of ``kind`` to ``path`` atomically."""
    writers: dict[str, Callable[[Any, Path], object]] = {  # what they return is unused
        "table": _write_table,
        "json": lambda o, p: p.write_text(json.dumps(o, indent=2, default=jsonable)),
        "text": lambda o, p: p.write_text(o),
        "figure": lambda o, p: o.savefig(p, dpi=100, bbox_inches="tight", format="png"),
        "model": _write_model,
        "file": link_or_copy,
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        writers[kind](obj, Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_table(frame: Any, path: Path) -> None:
    """Write Parquet; display tables whose object columns mix types are stored as text."""
    try:
        frame.to_parquet(path, index=False)
    except (TypeError, ValueError) as exc:  # pyarrow's ArrowTypeError/ArrowInvalid
        mixed = [c for c in frame.columns if frame[c].dtype == object]
        if not mixed:
            raise ArtifactError(f"cannot write table {path.name}: {exc}", path=path) from exc
        import pandas as pd

        as_text = {c: frame[c].map(lambda v: v if pd.isna(v) else str(v)) for c in mixed}
        frame.assign(**as_text).to_parquet(path, index=False)


def link_or_copy(source: Path, target: Path) -> None:
    """Hard-link ``source`` (stored once on disk), or copy it across file systems."""
    target.unlink(missing_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _write_model(obj: Any, path: Path) -> None:
    import skops.io as sio

    path.write_bytes(sio.dumps(obj))


def read(kind: str, path: Path) -> Any:
    """Load an artifact written by :func:`write`."""
    if kind == "table":
        import pandas as pd

        return pd.read_parquet(path)
    if kind == "json":
        return json.loads(path.read_text())
    if kind == "text":
        return path.read_text()
    if kind == "model":
        return read_model(path)
    if kind == "file":  # a linked/copied file: read what its suffix says it is
        by_suffix = {".parquet": "table", ".json": "json", ".skops": "model"}
        if path.suffix in by_suffix:
            return read(by_suffix[path.suffix], path)
        if path.suffix in TEXT_SUFFIXES:
            return path.read_text()
    return path


def trusted_types(model: Path | bytes, extra_trusted: tuple[str, ...] = ()) -> list[str]:
    """The types skops must trust to load ``model``: a file, or ``skops.io.dumps`` bytes.

    The one trust policy of the package: a type is trusted when its module is
    scikit-learn, NumPy, SciPy, mlops_nb or ``builtins`` (see
    :data:`TRUSTED_MODULE_PREFIXES`), or starts with one of ``extra_trusted``.

    Raises:
        ArtifactError: ``model`` holds a type from anywhere else; nothing is loaded.
    """
    import skops.io as sio

    where: dict[str, Path] = {}
    what = str(model) if isinstance(model, Path) else "the saved model"
    try:
        if isinstance(model, Path):
            untrusted, where = sio.get_untrusted_types(file=model), {"path": model}
        else:
            untrusted = sio.get_untrusted_types(data=model)
    except Exception as exc:  # a damaged zip or schema raises whatever its reader meets
        raise _unloadable(what, exc, where) from exc
    reasons = {t: _refusal(t, extra_trusted) for t in untrusted}
    missing = [f"{t} ({why[len(_MISSING) :]})" for t, why in reasons.items() if _is_missing(why)]
    if missing:
        raise ArtifactError(
            f"{what} needs types this environment does not have: {'; '.join(missing)}; install "
            f"the package versions the model was trained with (its metadata.json, "
            f"'environment', lists them)",
            **where,
        )
    refused = [t for t, why in reasons.items() if why]
    if refused:
        raise ArtifactError(
            f"{what} holds types that are not trusted: "
            f"{'; '.join(f'{t} ({_refusal(t, extra_trusted)})' for t in refused)}; only "
            f"scikit-learn, NumPy, SciPy and mlops_nb classes and plain builtin data types are "
            f"loaded",
            **where,
        )
    return list(untrusted)


def _refusal(name: str, extra_trusted: tuple[str, ...]) -> str:
    """Why the type ``name`` (``module.qualname``) may not be built, or ``""`` when it may.

    The skops loader calls what a file names (``ConstructorFromReduceNode``), so
    a module being trusted is not enough: the name must be a class (a function
    such as ``numpy.testing...runstring`` or ``builtins.exec`` would run code),
    an mlops_nb class must be a scikit-learn estimator, and nothing that
    touches files (a ``memmap``, ``scipy.io``) is built.
    """
    if name in TRUSTED_BUILTINS or (extra_trusted and name.startswith(extra_trusted)):
        return ""
    if not name.startswith(TRUSTED_MODULE_PREFIXES):
        return "outside scikit-learn, NumPy, SciPy and mlops_nb"
    parts = name.split(".")
    if any(p in ("testing", "_testing", "tests") for p in parts) or name.startswith(_FILE_MODULES):
        return "from a testing or file-reading module"
    found = _import_type(parts)
    if isinstance(found, str):
        return found
    if not isinstance(found, type):
        return "a function, not a type"
    if found.__name__ in _FILE_TYPES:
        return "a type that opens files"
    if name.startswith("mlops_nb.") and not _is_estimator_type(found):
        return "an mlops_nb type that is not a scikit-learn estimator"
    return ""


_MISSING = "missing: "


def _is_missing(reason: str) -> bool:
    return reason.startswith(_MISSING)


def _import_type(parts: list[str]) -> object:
    """The object ``a.b.C`` names (importing ``a.b``), or why it cannot be found."""
    import importlib

    for split in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:split])
        try:
            found: object = importlib.import_module(module)
        except ModuleNotFoundError:
            continue
        except Exception as exc:  # a trusted package's module failing to import
            return f"its module {module} does not import here ({type(exc).__name__})"
        for attribute in parts[split:]:
            found = getattr(found, attribute, None)
        if found is not None:
            return found
        return f"{_MISSING}{module} has no {'.'.join(parts[split:])} (another version?)"
    return f"{_MISSING}its package is not installed (pip install {parts[0]})"


def _is_estimator_type(kind: type) -> bool:
    from sklearn.base import BaseEstimator

    return issubclass(kind, BaseEstimator)


def read_model(path: Path, extra_trusted: tuple[str, ...] = ()) -> Any:
    """Load a skops file, refusing any type outside the trusted modules (:func:`trusted_types`)."""
    import skops.io as sio

    trusted = trusted_types(path, extra_trusted)
    try:
        return sio.load(path, trusted=trusted)
    except Exception as exc:  # skops builds objects: any error of theirs can come out
        raise _unloadable(str(path), exc, {"path": path}) from exc


def _unloadable(what: str, exc: Exception, where: dict[str, Path]) -> ArtifactError:
    """The error for a skops file that cannot be read or built in this environment."""
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        package = exc.name.split(".")[0]
        return ArtifactError(
            f"{what} needs the module {exc.name}, which is not installed here; install the "
            f"package that provides it (pip install {package}), at the version the model was "
            f"trained with (see its metadata.json, 'environment')",
            **where,
        )
    if isinstance(exc, (ImportError, AttributeError)):
        return ArtifactError(
            f"{what} refers to a type this environment does not have ({exc}); install the "
            f"package versions the model was trained with (see its metadata.json, "
            f"'environment')",
            **where,
        )
    return ArtifactError(
        f"{what} is not a readable skops file ({type(exc).__name__}: {exc}); it is damaged, "
        f"holds content skops refuses (such as a pickle), or is not a skops file",
        **where,
    )


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` atomically (temp file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, default=jsonable)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
