"""The public names: what ``__all__`` lists exists, and what is public is listed.

The public namespaces are the packages and the documented subpackages (docs/api/). In each,
every class or function of ours that a user can see (``dir()``, not underscored, not a module)
is either in ``__all__`` or named in ``DELIBERATELY_UNLISTED`` with the reason — so a new name
cannot become public by accident, nor be forgotten in ``__all__`` (and in the API reference,
which tests/docs checks against ``__all__``).
"""

import importlib
import inspect
import types

import pytest

PUBLIC_NAMESPACES = [
    "asynciojobs",
    "sshjobs",
    "asynciojobs.fakeclock",
    "sshjobs.sandbox",
    "sshjobs.scenario",
    "sshjobs.testing",
    "sshjobs.cli",
]

#: visible but not exported, on purpose: namespace -> {name: why}
DELIBERATELY_UNLISTED = {
    "asynciojobs.fakeclock": {
        "use_loop_factory": "imported from asynciojobs.loops, its home (documented there)"
    },
}


@pytest.mark.parametrize("package", ["asynciojobs", "sshjobs"])
def test_all_names_import(package):
    module = importlib.import_module(package)
    assert module.__all__, f"{package} declares no public names"
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{package}.__all__ lists names it does not define: {missing}"


def visible_names(module: types.ModuleType) -> list[str]:
    """Classes and functions of asynciojobs/sshjobs that ``module`` shows without underscore."""
    names = []
    for name in dir(module):
        value = getattr(module, name)
        if name.startswith("_") or isinstance(value, types.ModuleType):
            continue
        origin = getattr(value, "__module__", None) or ""
        if (inspect.isclass(value) or inspect.isfunction(value)) and origin.split(".")[0] in (
            "asynciojobs",
            "sshjobs",
        ):
            names.append(name)
    return names


@pytest.mark.parametrize("namespace", PUBLIC_NAMESPACES)
def test_all_is_complete(namespace):
    module = importlib.import_module(namespace)
    assert hasattr(module, "__all__"), f"{namespace} is public but declares no __all__"
    unlisted = DELIBERATELY_UNLISTED.get(namespace, {})
    stray = [
        name
        for name in visible_names(module)
        if name not in module.__all__ and name not in unlisted
    ]
    assert not stray, (
        f"{namespace} shows {stray} but its __all__ does not list them: add them "
        "to __all__ (and to docs/api/), rename them with a leading underscore, "
        "or list them in DELIBERATELY_UNLISTED with the reason"
    )
    stale = [name for name in unlisted if name in module.__all__ or not hasattr(module, name)]
    assert not stale, f"DELIBERATELY_UNLISTED names of {namespace} are listed or gone: {stale}"
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert not missing, f"{namespace}.__all__ lists names it does not define: {missing}"
