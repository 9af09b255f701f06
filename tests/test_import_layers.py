"""Library modules import a name from the module defining it, never from the sshjobs package
root (``from sshjobs import SshNode``), which exists for users; the transport does not import
nodes or jobs. (``import sshjobs`` to resolve the public names a scenario file gives is fine.)
The command line (sshjobs/cli) is left to its own reorganisation."""

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


MODULES = sorted(
    p
    for p in PACKAGE.rglob("*.py")
    if p.parent != PACKAGE / "cli" and (p.name != "__init__.py" or p.parent != PACKAGE)
)
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
        if module in root and names and not set(names) <= SUBMODULES
    ]
    assert not bad, f"{path}: imports the sshjobs package root at {bad}"


def test_the_transport_does_not_import_nodes_or_jobs():
    for path in sorted((PACKAGE / "transport").glob("*.py")):
        for line, module, _ in _imports(path):
            assert module.lstrip(".").split(".")[0] not in ("node", "job", "remote", "cli"), (
                f"{path.name}:{line} imports {module}"
            )


def test_scenario_sections_use_the_model_never_the_other_way_round():
    model = [module for _, module, _ in _imports(PACKAGE / "scenario" / "model.py")]
    assert ".sections" not in model and "sshjobs.scenario.sections" not in model
