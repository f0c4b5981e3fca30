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

    The one trust policy of the package: a type is trusted when it is a class
    defined in scikit-learn, NumPy, SciPy or mlops_nb (see
    :data:`TRUSTED_MODULE_PREFIXES`) and named where it is defined, a plain
    ``builtins`` data type, or starts with one of ``extra_trusted`` (see
    :func:`_refusal` for what else is refused).

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
    refused = [f"{t} ({why})" for t, why in reasons.items() if why and not _is_missing(why)]
    if refused:  # before the missing ones: a hostile file must not send anyone installing
        raise ArtifactError(
            f"{what} holds types that are not trusted: {'; '.join(refused)}; only "
            f"scikit-learn, NumPy, SciPy and mlops_nb classes and plain builtin data types are "
            f"loaded",
            **where,
        )
    missing = [f"{t} ({why[len(_MISSING) :]})" for t, why in reasons.items() if _is_missing(why)]
    if missing:
        raise ArtifactError(
            f"{what} needs types this environment does not have: {'; '.join(missing)}; install "
            f"the package versions the model was trained with (its metadata.json, "
            f"'environment', lists them)",
            **where,
        )
    return list(untrusted)


_SCRIPT_MODULES = (
    "__main__ conftest distutils _distutils _build_utils f2py _pyinstaller _precompute "
    "experimental setup benchmarks"
)
_NEVER_IMPORTED = frozenset(_SCRIPT_MODULES.split())
"""Module names no model type comes from: scripts, test set-ups, build and install tools.

Importing one runs code (a command line, a compiler probe, a computation that
prints), so the check refuses a name with such a part, a part starting ``test``
or ``_test`` or another dunder part before importing anything.
"""
_ESTIMATOR_PACKAGES = (
    "mlops_nb.prep.",
    "mlops_nb.features.",
    "mlops_nb.modeling.",
    "mlops_nb.monitoring.",
)
"""The mlops_nb packages that define estimators: the only mlops_nb modules the check imports."""
_RUNNING_MODULES = (
    "subprocess _posixsubprocess threading _thread multiprocessing concurrent asyncio os posix "
    "nt io _io tempfile shutil pickle _pickle marshal shelve dbm ctypes _ctypes socket _socket "
    "ssl select selectors mmap signal sys importlib runpy code codeop pdb bdb pty atexit "
    "weakref _weakref logging zipfile tarfile gzip bz2 lzma sqlite3 _sqlite3 http urllib "
    "ftplib smtplib webbrowser"
)
_UNSAFE_BASES = frozenset(_RUNNING_MODULES.split())
"""Modules whose classes run processes or threads, open files or sockets, or load code:
a type built on one of them is refused wherever it is defined."""


def _refusal(name: str, extra_trusted: tuple[str, ...]) -> str:
    """Why the type ``name`` (``module.qualname``) may not be built, or ``""`` when it may.

    The skops loader calls what a file names (``ConstructorFromReduceNode``), so
    a module being trusted is not enough: the name must be a class (a function
    such as ``numpy.testing...runstring`` or ``builtins.exec`` would run code)
    defined in a trusted package under exactly that name (skops records where a
    type is defined, so another name, such as
    ``numpy.distutils.fcompiler.gnu.Popen`` for ``subprocess.Popen``, is a
    planted one), built on nothing that runs processes or threads or opens
    files (:data:`_UNSAFE_BASES`, a ``memmap``, ``scipy.io``), and an mlops_nb
    class must be a scikit-learn estimator. The check imports the module a
    name gives only when the name passes :func:`_unimportable`.
    """
    if name in TRUSTED_BUILTINS or (extra_trusted and name.startswith(extra_trusted)):
        return ""
    if not name.startswith(TRUSTED_MODULE_PREFIXES):
        return "outside scikit-learn, NumPy, SciPy and mlops_nb"
    parts = name.split(".")
    why = _unimportable(name, parts)
    if why:
        return why
    found = _import_type(parts)
    if isinstance(found, str):
        return found
    if not isinstance(found, type):
        return "a function, not a type"
    defined = f"{getattr(found, '__module__', None)}.{getattr(found, '__qualname__', None)}"
    if defined != name:
        trusted = defined.startswith(TRUSTED_MODULE_PREFIXES)
        return f"another name of {defined}{'' if trusted else ', which is not trusted'}"
    unsafe = [base for base in found.__mro__ if _is_unsafe_module(base.__module__)]
    if unsafe:
        return f"built on {unsafe[0].__module__}.{unsafe[0].__qualname__}"
    if found.__name__ in _FILE_TYPES:
        return "a type that opens files"
    if name.startswith("mlops_nb.") and not _is_estimator_type(found):
        return "an mlops_nb type that is not a scikit-learn estimator"
    return ""


def _unimportable(name: str, parts: list[str]) -> str:
    """Why the module of ``name`` is not imported to check it, or ``""`` when it may be."""
    if len(parts) < 2 or not all(part.isidentifier() for part in parts):
        return "not a module and class name"
    if any(
        p in _NEVER_IMPORTED or p.startswith("__") or p.lstrip("_").startswith("test")
        for p in parts
    ):
        return "from a testing, script or build module"
    if name.startswith(_FILE_MODULES):
        return "from a file-reading module"
    if name.startswith("mlops_nb.") and not name.startswith(_ESTIMATOR_PACKAGES):
        return "an mlops_nb type outside the packages that define estimators"
    return ""


def _is_unsafe_module(module: object) -> bool:
    return isinstance(module, str) and module.split(".")[0] in _UNSAFE_BASES


_MISSING = "missing: "


def _is_missing(reason: str) -> bool:
    return reason.startswith(_MISSING)


def _import_type(parts: list[str]) -> object:
    """The object ``a.b.C`` names (importing ``a.b``), or why it cannot be found.

    Call it only on names :func:`_unimportable` lets through. Whatever the
    import raises (``SystemExit`` included: a module may end the process) is a
    refusal; only ``KeyboardInterrupt`` goes on.
    """
    import importlib
    import sys

    module, attribute = ".".join(parts[:-1]), parts[-1]
    try:
        found = getattr(sys.modules.get(module) or importlib.import_module(module), attribute, None)
    except ModuleNotFoundError as exc:
        absent = exc.name or module
        if f"{module}.".startswith(f"{absent}."):  # the module itself, or a package of it
            if "." not in absent:
                return f"{_MISSING}its package is not installed (pip install {absent})"
            return f"{_MISSING}there is no module {absent} (another version?)"
        return f"{_MISSING}its module {module} needs {absent} (pip install {absent.split('.')[0]})"
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: checking a file never ends the process
        return f"its module {module} does not import here ({type(exc).__name__})"
    if found is None:
        return f"{_MISSING}{module} has no {attribute} (another version?)"
    return found


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
