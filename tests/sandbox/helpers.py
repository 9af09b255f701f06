"""Helpers for the sandbox tests: client connections, waiting for a process to be gone."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncssh

from sshjobs.sandbox import Sandbox, SandboxNode


def connect(sandbox: Sandbox, node: SandboxNode, **kwds: Any) -> Any:
    """A plain asyncssh client connection to one sandbox node (no ~/.ssh involved)."""
    options: dict[str, Any] = dict(username="tester", client_keys=[str(sandbox.client_key)],
                                   known_hosts=str(sandbox.known_hosts), config=None,
                                   agent_path=None)
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


def pids_matching(marker: str) -> list[int]:
    """Running processes whose command line contains ``marker`` (zombies have none)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if marker.encode() in cmdline:
                found.append(int(entry))
    return found


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


@contextlib.contextmanager
def leftovers(*loggers: str) -> Iterator[list[str]]:
    """Within the block, warnings are errors and the ``asyncio`` logger's complaints (plus
    those of ``loggers``) are recorded; on exit, ``gc.collect()`` runs (still under the error
    filter) and the list holds every unraisable exception (``ResourceWarning: unclosed ...``)
    and every such record seen meanwhile ("exception was never retrieved", ...)."""
    found: list[str] = []
    handler = _Records()
    watched = [logging.getLogger(name) for name in ("asyncio", *loggers)]
    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda info: found.append(
        f"{info.exc_type.__name__}: {info.exc_value} in {info.object!r}")
    for logger in watched:
        logger.addHandler(handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            yield found
            gc.collect()
            gc.collect()
    finally:
        sys.unraisablehook = old_hook
        for logger in watched:
            logger.removeHandler(handler)
        found.extend(handler.messages)
