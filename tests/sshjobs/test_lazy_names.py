"""Rarely used names of the sshjobs package are imported on first use, and still there."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sshjobs

LAZY = [
    "Service",
    "YamlLoader",
    "close_ssh_in_scheduler",
    "co_close_ssh_in_scheduler",
    "topology_as_dotfile",
    "topology_as_pngfile",
    "topology_dot",
    "topology_graph",
]


def test_import_sshjobs_does_not_load_scenarios_services_or_topology():
    probe = (
        "import sys, sshjobs; print(sorted(m for m in ('sshjobs.scenario', "
        "'sshjobs.service', 'sshjobs.topology') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("name", LAZY)
def test_lazy_names_are_exported_and_importable(name):
    assert name in sshjobs.__all__ and name in dir(sshjobs)
    module = __import__("sshjobs", fromlist=[name])  # what "from sshjobs import name" does
    assert getattr(module, name) is getattr(sshjobs, name)


def test_star_import_and_unknown_names():
    namespace: dict = {}
    exec("from sshjobs import *", namespace)
    assert set(sshjobs.__all__) - {"__version__"} <= set(namespace)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        sshjobs.Nope  # noqa: B018
