"""The asyncssh range sshjobs declares is the one its transport was tested with."""

from __future__ import annotations

import re
from pathlib import Path

import asyncssh

from sshjobs.transport import versions
from sshjobs.transport.versions import version_tuple

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_pyproject_declares_the_tested_floor_and_ceiling():
    text = PYPROJECT.read_text()
    found = re.findall(r'"asyncssh(?:\[[a-z,]+\])?>=([0-9.]+),<([0-9.]+)"', text)
    assert found == [(versions.FLOOR, versions.CEILING)]
    assert '"asyncssh[bcrypt]' in text  # encrypted OpenSSH keys need bcrypt


def test_tested_versions_lie_in_the_declared_range():
    for version in versions.TESTED:
        assert (
            version_tuple(versions.FLOOR)
            <= version_tuple(version)
            < version_tuple(versions.CEILING)
        ), version
    assert versions.FLOOR in versions.TESTED


def test_the_installed_asyncssh_is_in_the_range():
    installed = version_tuple(asyncssh.__version__)
    assert version_tuple(versions.FLOOR) <= installed < version_tuple(versions.CEILING)


def test_version_tuple():
    assert version_tuple("2.19.0") == (2, 19, 0)
    assert version_tuple("2.25") == (2, 25)
    assert version_tuple("2.21.0rc1") == (2, 21, 0)
    assert version_tuple("2.24.1") < version_tuple("2.25") <= version_tuple("2.25.0")
