"""Root conftest: the session-wide ``farm`` of real OpenSSH servers (``tests/fixtures/``).

Fixtures:

- ``farm`` (session): a :class:`fixtures.farm.Farm` — gateway, direct hosts, private hosts
  behind the gateway. While it is up, ``$HOME`` is the farm's isolated client home and
  ``SSH_AUTH_SOCK`` is unset, so no real ``~/.ssh`` or agent is ever used.
- ``faulty_farm`` (function): the same farm, with every injected fault undone after the test.
- ``isolated_farm`` (function): the farm, or a skip when it runs without network namespaces.

``SSHJOBS_FARM`` picks the backend: unset/``auto`` (namespaces, else loopback), ``netns``,
``loopback`` or ``docker`` (see docs/development.md).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fixtures.farm import Farm, install_signal_handlers


def _make_farm():
    if (os.environ.get("SSHJOBS_FARM") or "").lower() == "docker":
        from fixtures.docker_farm import DockerFarm

        return DockerFarm()
    if not os.path.exists("/usr/sbin/sshd") and not shutil.which("sshd"):
        pytest.skip("OpenSSH sshd is not installed (apt-get install openssh-server)")
    return Farm()


@pytest.fixture(scope="session")
def farm():
    install_signal_handlers()
    instance = _make_farm()
    atexit.register(instance.close)
    saved = {name: os.environ.get(name) for name in ("HOME", "SSH_AUTH_SOCK")}
    os.environ["HOME"] = str(instance.home)
    os.environ.pop("SSH_AUTH_SOCK", None)
    try:
        yield instance
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        instance.close()


@pytest.fixture
def faulty_farm(farm):
    """The farm, for a test that injects faults: they are all undone afterwards."""
    yield farm
    farm.reset()


@pytest.fixture
def isolated_farm(farm):
    """The farm, for a test that needs real network isolation (skipped otherwise)."""
    if not farm.isolated:
        pytest.skip(farm.isolation_reason)
    return farm
