"""Library modules, the command line included, import a name from the module defining it,
never from the sshjobs package root (``from sshjobs import SshNode``, ``import sshjobs``), which
exists for users; the transport does not import nodes or jobs; the parts of a node do not
import the node."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sshjobs"


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            found.append(
                (
                    node.lineno,
                    "." * node.level + (node.module or ""),
                    [alias.name for alias in node.names],
                )
            )
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, []) for alias in node.names)
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)
SUBMODULES = {p.stem for p in PACKAGE.glob("*.py")} | {
    p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()
}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_of_the_package_root(path):
    depth = len(path.relative_to(PACKAGE).parts) - 1  # dots that lead to the root
    root = {"sshjobs", "." * (depth + 1)}
    bad = [
        (line, module, names)
        for line, module, names in _imports(path)
        if module in root and not (names and set(names) <= SUBMODULES)
    ]
    assert not bad, f"{path}: imports the sshjobs package root at {bad}"


def test_the_transport_does_not_import_nodes_or_jobs():
    for path in sorted((PACKAGE / "transport").glob("*.py")):
        for line, module, _ in _imports(path):
            assert module.lstrip(".").split(".")[0] not in (
                "node",
                "job",
                "remote",
                "remotefiles",
                "connection",
                "formatters",
                "cli",
            ), f"{path.name}:{line} imports {module}"


def test_the_parts_of_a_node_do_not_import_the_node():
    """SshNode is composed of its options (transport), its connection and what runs over it
    (remote commands, remote files): each part imports the layers below, never the node."""
    parts = {
        "connection.py": ("node", "remote", "remotefiles", "job"),
        "remote.py": ("node", "remotefiles", "job"),
        "remotefiles.py": ("node", "remote", "job"),
        "node.py": ("job", "commands", "transfer"),
    }
    for name, forbidden in parts.items():
        for line, module, _ in _imports(PACKAGE / name):
            first = module.lstrip(".").removeprefix("sshjobs.").split(".")[0]
            assert first not in forbidden, f"{name}:{line} imports {module}"


def test_a_scenario_builds_every_command_type_it_accepts():
    from sshjobs.scenario.build import _COMMAND_CLASSES
    from sshjobs.scenario.model import COMMAND_TYPES

    assert {*_COMMAND_CLASSES, "Service"} == set(COMMAND_TYPES)


def test_scenario_sections_use_the_model_never_the_other_way_round():
    model = [module for _, module, _ in _imports(PACKAGE / "scenario" / "model.py")]
    assert ".sections" not in model and "sshjobs.scenario.sections" not in model
