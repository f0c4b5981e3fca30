import mlops_nb


def test_all_is_sorted_complete_and_importable():
    names = [n for n in mlops_nb.__all__ if n != "__version__"]
    # isort-style, as ruff keeps it: CONSTANTS, then Classes, then functions
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    for name in mlops_nb.__all__:
        assert hasattr(mlops_nb, name), name
    exported = set(mlops_nb._EXPORTS)
    assert exported == set(mlops_nb.__all__) - {"__version__"}, "lazy map and __all__ differ"
