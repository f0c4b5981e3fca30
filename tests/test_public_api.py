import subprocess
import sys

import mlops_nb


def test_all_is_sorted_complete_and_importable():
    names = [n for n in mlops_nb.__all__ if n != "__version__"]
    # isort-style, as ruff keeps it: CONSTANTS, then Classes, then functions
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    for name in mlops_nb.__all__:
        assert hasattr(mlops_nb, name), name
    exported = set(mlops_nb._EXPORTS)
    assert exported == set(mlops_nb.__all__) - {"__version__"}, "lazy map and __all__ differ"


INTERNAL = {
    "ApiError",  # HTTP control flow inside the server, turned into a response
    "UnknownCommandError",  # click usage error inside the CLI, printed as one line
}


def test_every_error_class_is_in_the_tree_and_exported():
    import inspect
    import pkgutil
    from importlib import import_module

    from mlops_nb import errors

    drawn = errors.__doc__
    for info in pkgutil.walk_packages(mlops_nb.__path__, "mlops_nb."):
        if info.name.endswith("__main__") or ".lab." in info.name:
            continue
        module = import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if not issubclass(cls, Exception) or not cls.__module__.startswith("mlops_nb"):
                continue
            if name in INTERNAL:
                continue
            assert cls.__module__ == "mlops_nb.errors", f"{name} is defined in {cls.__module__}"
            assert issubclass(cls, errors.MlopsNbError), name
            assert name == "MlopsNbError" or f"── {name} " in drawn, f"{name} is not drawn"
            assert getattr(mlops_nb, name) is cls, f"{name} is not exported by mlops_nb"


def test_data_names_that_are_also_submodules_stay_functions():
    # in a fresh interpreter: the submodules imported first, as ingest does, then the names
    code = (
        "import mlops_nb.data.ingest, mlops_nb.data.profile, mlops_nb.data.snapshot\n"
        "from mlops_nb.data import profile, snapshot\n"
        "import mlops_nb.data as data\n"
        "assert callable(snapshot) and callable(profile), (snapshot, profile)\n"
        "assert data.snapshot is snapshot and data.profile is profile\n"
        "from mlops_nb.data.snapshot import content_hash\n"
        "assert callable(content_hash)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
