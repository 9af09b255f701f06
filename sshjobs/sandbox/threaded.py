"""A sandbox served from a thread of its own, for synchronous code (tests, example scripts).

The sandbox's asyncio loop runs in a background thread, so the caller is free to run its own
loops (``scheduler.run()``, ``asyncio.run``) while the nodes answer.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from .core import Sandbox
from .layout import SandboxNode

__all__ = ["SandboxNodes", "ThreadedSandbox"]

DEFAULT_NODES = 3
TIMEOUT = 30.0


class SandboxNodes:
    """What the fixtures give: the nodes, the client files, and ``SshNode`` makers."""

    def __init__(self, sandbox: Sandbox, username: str = "sandbox"):
        self.sandbox = sandbox
        self.username = username

    nodes = property(
        lambda self: list(self.sandbox.nodes),
        doc="the nodes (not the gateway): SandboxNode(name, host, port, home)",
    )
    gateway = property(lambda self: self.sandbox.gateway, doc="the gateway node (or None)")
    client_key = property(lambda self: Path(self.sandbox.client_key))
    known_hosts = property(lambda self: Path(self.sandbox.known_hosts))
    ssh_config = property(lambda self: Path(self.sandbox.ssh_config))
    targets = property(lambda self: Path(self.sandbox.targets))

    def node_options(self, node: SandboxNode) -> dict[str, Any]:
        """Keyword arguments of ``SshNode`` for ``node`` (hostname, port, key, known_hosts)."""
        return {
            "hostname": node.host,
            "port": node.port,
            "username": self.username,
            "keys": [str(self.client_key)],
            "known_hosts": str(self.known_hosts),
        }

    def gateway_ssh_node(self, **options: Any) -> Any:
        """An ``SshNode`` for the gateway."""
        from ..node import SshNode  # the library is only needed when this is used

        if self.gateway is None:
            raise ValueError("this sandbox has no gateway")
        return SshNode(**{**self.node_options(self.gateway), **options})

    def ssh_nodes(self, *, gateway: Any = None, **options: Any) -> list[Any]:
        """One ``SshNode`` per sandbox node, behind ``gateway`` (an ``SshNode``) if given."""
        from ..node import SshNode

        return [
            SshNode(**{**self.node_options(node), "gateway": gateway, **options})
            for node in self.nodes
        ]

    def home(self, index: int) -> Path:
        """Home directory of node ``index`` (0-based): check there what your scenario left."""
        home: Path = self.nodes[index].home
        return home


class ThreadedSandbox:
    """A :class:`Sandbox` served from a thread of its own: usable from synchronous code.

    ``with ThreadedSandbox(directory, 3) as nodes:`` gives a :class:`SandboxNodes`.
    """

    def __init__(
        self, directory: str | os.PathLike[str], count: int = DEFAULT_NODES, **options: Any
    ):
        self.sandbox = Sandbox(directory, count, **options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SandboxNodes:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="sshjobs-sandbox", daemon=True
        )
        self._thread.start()
        try:
            self._call(self.sandbox.start())
        except BaseException:
            self.stop()
            raise
        return SandboxNodes(self.sandbox)

    def _call(self, coro: Any) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(TIMEOUT)

    def stop(self) -> None:
        """Close the sandbox (connections, processes), then its loop and thread."""
        if self._loop is None:
            return
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        try:
            asyncio.run_coroutine_threadsafe(self.sandbox.close(), loop).result(TIMEOUT)
            asyncio.run_coroutine_threadsafe(_cancel_others(), loop).result(TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join(TIMEOUT)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def __enter__(self) -> SandboxNodes:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


async def _cancel_others() -> None:
    """Cancel what is still pending on the sandbox loop (sessions of closed connections)."""
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
