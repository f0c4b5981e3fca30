import mlops_nb


def test_all_is_sorted_complete_and_importable():
    names = [n for n in mlops_nb.__all__ if n != "__version__"]
    assert names == sorted(names)
    for name in mlops_nb.__all__:
        assert hasattr(mlops_nb, name), name
    public = {n for n in dir(mlops_nb) if not n.startswith("_")}
    modules = {"artifacts", "config", "data", "errors", "features", "pipeline", "prep", "stage",
               "validation", "tracking", "registry", "modeling", "cli"}
    assert public - modules - set(mlops_nb.__all__) == set()
