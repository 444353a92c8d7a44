import importlib.metadata

import minimizer


def test_the_public_surface_is_exactly_what_all_lists():
    public = {name for name in dir(minimizer) if not name.startswith("_")}
    # Submodules are reachable as attributes once imported; they are not the API.
    modules = {name for name in public if type(getattr(minimizer, name)).__name__ == "module"}
    assert set(minimizer.__all__) - {"__version__"} == public - modules
    for name in minimizer.__all__:
        assert getattr(minimizer, name) is not None


def test_version_matches_the_package_metadata():
    assert minimizer.__version__ == importlib.metadata.version("minimizer")
