"""Embedded SSH nodes on loopback: real SSH servers (asyncssh) running real local commands.

A :class:`Sandbox` starts a gateway plus N nodes, each an asyncssh server on 127.0.0.1 with
its own host key, home directory and ports. Only the sandbox's generated client key is
accepted (any user name); commands run through ``/bin/sh -c`` as the current local user;
SFTP is confined to the node's home. The gateway accepts ``direct-tcpip`` forwarding towards
the sandbox's own ports only, so gateway scenarios (``ProxyJump``, asyncssh ``tunnel=``,
``SshNode(gateway=...)``) work with nothing but loopback traffic.

This is a stand-in for real hosts in demos and tests: it serves the current user's own
machine, without privilege separation or isolation; never expose it beyond loopback (it
refuses to bind anything else).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import os
from pathlib import Path
from types import TracebackType

import asyncssh

from .errors import SandboxError
from .layout import Layout, SandboxNode
from .sftp import HomeSFTPServer
from .shell import NodeHost, run_session

logger = logging.getLogger("sshjobs.sandbox")

MAX_NODES = 200
GATEWAY_NAME = "gateway"
SESSION_GRACE = 5.0  # seconds close() gives running sessions to reap their killed processes
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}


def check_node_count(count: int) -> None:
    """Refuse a number of nodes out of 1..MAX_NODES with a clear message."""
    if not 1 <= count <= MAX_NODES:
        raise SandboxError(
            f"number of sandbox nodes must be between 1 and {MAX_NODES}, got {count}"
        )


def check_base_port(base_port: int | None, count: int) -> None:
    """Refuse a base port that leaves no room for the gateway and ``count`` nodes."""
    if base_port is not None and not 1 <= base_port <= 65535 - count:
        raise SandboxError(
            f"base port {base_port} out of range 1..{65535 - count} "
            f"for {count} node(s) and a gateway"
        )


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _NodeServer(asyncssh.SSHServer):
    """Authentication and forwarding policy of one node: sandbox key only, loopback only."""

    def __init__(
        self,
        host: NodeHost,
        forward_ports: set[int] | None,
        connections: set[asyncssh.SSHServerConnection],
    ):
        self._host = host
        self._forward_ports = forward_ports
        self._connections = connections
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._connections.add(conn)
        logger.debug("%s: connection from %s", self._host.name, conn.get_extra_info("peername"))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        return True  # always authenticate, with the sandbox key only

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> bool:
        """Forward only from the gateway, and only to this sandbox's own nodes."""
        if self._forward_ports is None:
            raise asyncssh.ChannelOpenError(
                asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED,
                f"{self._host.name} is not the sandbox gateway: no forwarding",
            )
        if not _is_loopback(dest_host) or dest_port not in self._forward_ports:
            raise asyncssh.ChannelOpenError(
                asyncssh.OPEN_ADMINISTRATIVELY_PROHIBITED,
                f"the sandbox gateway only forwards to sandbox nodes, not {dest_host}:{dest_port}",
            )
        logger.debug("%s: forwarding to %s:%d", self._host.name, dest_host, dest_port)
        return True

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        return False


class Sandbox:
    """A gateway and ``count`` nodes served on loopback, with their client files in ``directory``.

    Use as ``async with Sandbox(dir, 3) as sandbox:`` or with :meth:`start` / :meth:`close`.
    ``base_port`` pins the ports (gateway on ``base_port``, node *i* on ``base_port + i``);
    by default the system picks free ones.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        count: int = 3,
        *,
        gateway: bool = True,
        base_port: int | None = None,
        host: str = "127.0.0.1",
    ):
        check_node_count(count)
        if not _is_loopback(host):
            raise SandboxError(f"the sandbox listens on loopback only, not on {host}")
        check_base_port(base_port, count)
        self.layout = Layout(directory)
        self.count = count
        self.with_gateway = gateway
        self.base_port = base_port
        self.host = host
        self.nodes: list[SandboxNode] = []
        self.gateway: SandboxNode | None = None
        self._hosts: list[NodeHost] = []
        self._acceptors: list[asyncssh.SSHAcceptor] = []
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self._forward_ports: set[int] = set()
        self._sessions: set[asyncio.Task[None]] = set()

    # paths a client needs
    directory = property(lambda self: self.layout.directory)
    client_key = property(lambda self: self.layout.client_key)
    known_hosts = property(lambda self: self.layout.known_hosts)
    ssh_config = property(lambda self: self.layout.ssh_config)
    targets = property(lambda self: self.layout.targets)

    @property
    def all_nodes(self) -> list[SandboxNode]:
        """The gateway (when there is one) first, then the nodes."""
        return ([self.gateway] if self.gateway else []) + self.nodes

    async def start(self) -> None:
        """Bind every node and write the client files; on any failure, nothing stays bound."""
        client_key = self.layout.client_private_key()
        names = [GATEWAY_NAME] if self.with_gateway else []
        names += [f"node{i}" for i in range(1, self.count + 1)]
        host_keys: dict[str, asyncssh.SSHKey] = {}
        started: list[SandboxNode] = []
        try:
            for index, name in enumerate(names):
                host_keys[name] = self.layout.prepare_node(name)
                port = 0 if self.base_port is None else self.base_port + index
                node = await self._serve(
                    name, port, host_keys[name], client_key, is_gateway=(name == GATEWAY_NAME)
                )
                started.append(node)
        except BaseException:
            await self.close()
            raise
        self._forward_ports.update(node.port for node in started)
        self.gateway = next((node for node in started if node.is_gateway), None)
        self.nodes = [node for node in started if not node.is_gateway]
        self.layout.write_client_files(started, host_keys)
        logger.info(
            "sandbox up in %s: %s",
            self.directory,
            ", ".join(f"{n.name}={n.target}" for n in started),
        )

    async def _serve(
        self,
        name: str,
        port: int,
        host_key: asyncssh.SSHKey,
        client_key: asyncssh.SSHKey,
        is_gateway: bool,
    ) -> SandboxNode:
        home = self.layout.home(name)
        host = NodeHost(name=name, home=str(home))
        forward = self._forward_ports if is_gateway else None
        try:
            acceptor = await asyncssh.create_server(
                lambda: _NodeServer(host, forward, self._connections),
                self.host,
                port,
                server_host_keys=[host_key],
                authorized_client_keys=asyncssh.import_authorized_keys(
                    client_key.export_public_key().decode()
                ),
                process_factory=lambda process: self._session(process, host),
                sftp_factory=lambda chan: HomeSFTPServer(chan, str(home)),
                allow_scp=True,
                encoding=None,
                line_editor=False,
                agent_forwarding=False,
                x11_forwarding=False,
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise SandboxError(
                    f"port {self.host}:{port} is already in use: choose another "
                    f"base port, or stop what listens there"
                ) from exc
            raise SandboxError(f"cannot listen on {self.host}:{port}: {exc.strerror}") from exc
        self._acceptors.append(acceptor)
        self._hosts.append(host)
        bound = acceptor.get_port()
        return SandboxNode(
            name=name, host=self.host, port=bound, home=Path(home), is_gateway=is_gateway
        )

    async def _session(self, process: asyncssh.SSHServerProcess[bytes], host: NodeHost) -> None:
        """One session, tracked so that :meth:`close` can wait until its process is reaped."""
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            await run_session(process, host)
        finally:
            self._sessions.discard(task)

    async def close(self) -> None:
        """Stop listening, close every connection, kill every process group we started."""
        for acceptor in self._acceptors:
            acceptor.close()
        for conn in list(self._connections):
            conn.close()
        for acceptor in self._acceptors:
            await acceptor.wait_closed()
        await asyncio.gather(
            *(conn.wait_closed() for conn in list(self._connections)), return_exceptions=True
        )
        for host in self._hosts:
            host.kill_all()
        if self._sessions:  # their channels are closed: they are killing and reaping
            await asyncio.wait(set(self._sessions), timeout=SESSION_GRACE)
        for host in self._hosts:
            host.kill_all()
        self._acceptors.clear()
        self._hosts.clear()
        self._connections.clear()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def ssh_argv(self, node: SandboxNode, *command: str) -> list[str]:
        """argv of the OpenSSH client reaching ``node`` (through the gateway when there is one)."""
        argv = ["ssh", "-F", str(self.ssh_config), node.name]
        return argv + list(command)
