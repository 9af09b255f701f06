"""Every name a package declares public in __all__ must be importable from it."""

import importlib

import pytest


@pytest.mark.parametrize("package", ["asynciojobs", "sshjobs"])
def test_all_names_import(package):
    module = importlib.import_module(package)
    assert module.__all__, f"{package} declares no public names"
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ lists names it does not define: {missing}"
