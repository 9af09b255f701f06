"""The documentation site builds without a warning and its API reference covers every public name.

The build is the one CI relies on: ``sphinx-build -W --keep-going -b html docs OUT`` (warnings
are errors). The names are read back from the built inventory (``objects.inv``), so a name
counts only once Sphinx has actually documented it.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]


def read_inventory(path: Path) -> dict[str, str]:
    """Names documented in a Sphinx ``objects.inv`` (version 2), mapped to their role."""
    data = path.read_bytes()
    header_end = 0
    for _ in range(4):  # 4 text lines, then zlib-compressed entries
        header_end = data.index(b"\n", header_end) + 1
    assert data.startswith(b"# Sphinx inventory version 2"), data[:40]
    names = {}
    for line in zlib.decompress(data[header_end:]).decode().splitlines():
        name, role = line.split(" ", 2)[:2]
        names[name] = role
    return names


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("docs") / "html"
    cache = out.parent / "doctrees"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(cache),
            str(TOP / "docs"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=TOP,
    )
    if "No module named sphinx" in result.stderr:
        pytest.fail("Sphinx is missing: pip install '.[docs]' (bin/setup installs it)")
    assert result.returncode == 0, f"the docs build failed or warned:\n{result.stderr}"
    return out


def test_docs_build_without_warnings(built_site: Path) -> None:
    for page in (
        "index",
        "getting-started",
        "scheduler",
        "ssh",
        "command-line",
        "scenarios",
        "sandbox",
        "reliability",
        "benchmarks",
        "migration-apssh",
        "migration-tools",
        "api/asynciojobs",
        "api/sshjobs",
        "api/cli",
        "api/testing",
    ):
        assert (built_site / f"{page}.html").is_file(), f"docs page {page} was not built"


def resolve(dotted: str) -> object:
    """The object a documented dotted name stands for (None when it is not importable)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for part in parts[cut:]:
                value = getattr(value, part)
        except AttributeError:
            return None
        return value
    return None


@pytest.mark.parametrize(
    "package",
    [
        "asynciojobs",
        "sshjobs",
        "asynciojobs.fakeclock",
        "sshjobs.sandbox",
        "sshjobs.scenario",
        "sshjobs.testing",
        "sshjobs.cli",
    ],
)
def test_every_public_name_is_in_the_reference(built_site: Path, package: str) -> None:
    """Each name of ``__all__`` is documented under its public path, or (a class or function
    re-exported from another public namespace) under that other path."""
    documented = read_inventory(built_site / "objects.inv")
    documented_objects = {
        id(value)
        for name, role in documented.items()
        if role in ("py:class", "py:exception", "py:function")
        and (value := resolve(name)) is not None
    }
    module = importlib.import_module(package)
    missing = [
        name
        for name in module.__all__
        if f"{package}.{name}" not in documented
        and id(getattr(module, name)) not in documented_objects
    ]
    assert not missing, (
        f"{package}.__all__ names missing from the API reference (docs/api/): {missing}"
    )


def test_every_page_is_reachable_from_the_index(built_site: Path) -> None:
    """Every page of docs/ is in the index's navigation: named there, or listed under "More" by
    conf.py (a page in no toctree would be a warning, hence an error under -W)."""
    index = (built_site / "index.html").read_text()
    for page in sorted((TOP / "docs").glob("*.md")):
        if page.stem != "index":
            assert f'href="{page.stem}.html' in index, f"docs/{page.name} is not in the index"
