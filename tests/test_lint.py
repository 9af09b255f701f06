"""The lint gate (bin/lint): ruff check, ruff format --check and mypy --strict on the paths
listed at its top are clean. A few seconds; the tools come from the ``lint`` extra."""

import re
import subprocess
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parent.parent
VENV_BIN = TOP / ".venv" / "bin"


def listed_paths(name: str = "[A-Z_]+") -> list[str]:
    """Every path named in bin/lint's lists (``name``: one list, e.g. ``MYPY_STRICT``)."""
    text = (TOP / "bin" / "lint").read_text()
    paths = []
    for body in re.findall(rf"^{name}_PATHS=\(\n(.*?)^\)", text, re.M | re.S):
        paths += body.split()
    return paths


def test_both_packages_are_typed_strictly():
    assert {"asynciojobs/", "sshjobs/"} <= set(listed_paths("MYPY_STRICT"))


def test_listed_paths_exist():
    paths = listed_paths()
    assert "asynciojobs/" in paths
    missing = [path for path in paths if not (TOP / path).exists()]
    assert not missing, f"bin/lint lists paths that do not exist: {missing}"


@pytest.mark.skipif(
    not (VENV_BIN / "ruff").exists() or not (VENV_BIN / "mypy").exists(),
    reason="ruff/mypy not installed in .venv (bin/setup installs the lint extra)",
)
def test_lint_gate_is_clean():
    done = subprocess.run(
        [str(TOP / "bin" / "lint")], cwd=TOP, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
