"""One version: asynciojobs.__version__ is the source, everything else reads it."""

import importlib.metadata
import tomllib
from pathlib import Path

from fixtures.cli import sshjobs_process

import asynciojobs
import sshjobs

TOP = Path(__file__).resolve().parents[1]


def test_one_version_everywhere():
    project = tomllib.loads((TOP / "pyproject.toml").read_text())
    assert "version" in project["project"]["dynamic"], "pyproject.toml must not repeat the version"
    source = project["tool"]["setuptools"]["dynamic"]["version"]
    assert source == {"attr": "asynciojobs.__version__"}
    assert sshjobs.__version__ == asynciojobs.__version__
    assert importlib.metadata.version("sshjobs") == asynciojobs.__version__


def test_the_command_line_reports_it():
    result = sshjobs_process("--version", timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == asynciojobs.__version__, result.stdout


def test_the_changelog_has_the_release():
    text = (TOP / "CHANGELOG.md").read_text()
    assert f"## [{asynciojobs.__version__}] - " in text
    assert text.index("## [Unreleased]") < text.index(f"## [{asynciojobs.__version__}]")
