"""Pytest fixtures to test your own sshjobs scenarios against sandbox nodes.

In your ``conftest.py``::

    pytest_plugins = ["sshjobs.testing"]
    # or: from sshjobs.testing import sandbox_nodes, make_sandbox

and in a test::

    from asynciojobs import Scheduler
    from sshjobs import Run, SshJob

    def test_my_scenario(sandbox_nodes):
        gateway = sandbox_nodes.gateway_ssh_node()
        nodes = sandbox_nodes.ssh_nodes(gateway=gateway)
        scheduler = Scheduler(*(SshJob(node, command=Run("hostname")) for node in nodes))
        assert scheduler.run()

The nodes are real SSH servers on 127.0.0.1 (asyncssh), run in a background thread with their
own event loop, so a test can call the synchronous ``scheduler.run()`` (or ``asyncio.run``).
Each test gets fresh nodes with their homes under its ``tmp_path``; nothing outlives the test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sshjobs.sandbox.threaded import SandboxNodes, ThreadedSandbox

__all__ = ["DEFAULT_NODES", "SandboxNodes", "ThreadedSandbox", "make_sandbox", "sandbox_nodes"]

logger = logging.getLogger("sshjobs.testing")

DEFAULT_NODES = 3


@pytest.fixture
def make_sandbox(tmp_path: Path) -> Iterator[Callable[..., SandboxNodes]]:
    """``make_sandbox(count=3, gateway=True)`` starts sandbox nodes, stopped after the test."""
    started: list[ThreadedSandbox] = []

    def make(count: int = DEFAULT_NODES, **options: Any) -> SandboxNodes:
        threaded = ThreadedSandbox(tmp_path / f"sandbox{len(started)}", count, **options)
        nodes = threaded.start()
        started.append(threaded)
        return nodes

    yield make
    for threaded in reversed(started):
        threaded.stop()


@pytest.fixture
def sandbox_nodes(tmp_path: Path) -> Iterator[SandboxNodes]:
    """Three fresh sandbox nodes behind a gateway (see :class:`SandboxNodes`)."""
    with ThreadedSandbox(tmp_path / "sandbox", DEFAULT_NODES) as nodes:
        yield nodes
