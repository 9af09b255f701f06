"""Helpers for the sandbox tests: client connections, waiting for a process to be gone."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import asyncssh
from fixtures.leftovers import leftovers, pids_matching  # noqa: F401 (used by the tests)

from sshjobs.sandbox import Sandbox, SandboxNode


def connect(sandbox: Sandbox, node: SandboxNode, **kwds: Any) -> Any:
    """A plain asyncssh client connection to one sandbox node (no ~/.ssh involved)."""
    options: dict[str, Any] = dict(
        username="tester",
        client_keys=[str(sandbox.client_key)],
        known_hosts=str(sandbox.known_hosts),
        config=None,
        agent_path=None,
    )
    options.update(kwds)
    return asyncssh.connect(node.host, node.port, **options)


async def wait_pid_gone(pid: int, timeout: float = 5) -> None:
    """Wait (on a pidfd, no polling) until process ``pid`` has terminated."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    gone = loop.create_future()
    loop.add_reader(fd, lambda: gone.done() or gone.set_result(None))
    try:
        await asyncio.wait_for(gone, timeout)
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def alive(pid: int) -> bool:
    """True when ``pid`` is a running (not zombie) process."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
