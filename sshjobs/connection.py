"""A node's one SSH connection: opened lazily, shared by its users, closed when none is left.

The connection is opened under a lock the first time a command needs it; every job and
command on the node then shares it (sessions are multiplexed, at most ``max_sessions`` at once:
:class:`~sshjobs.session.SessionSlots`), and so does the node's SFTP client. A connection
through a gateway is tunnelled in the gateway's own :class:`Connection` (asyncssh ``tunnel=``),
so any number of hops works and one gateway login serves every node behind it.

A ``ProxyJump`` of the ssh config is followed the same way: each hop is a :class:`Connection`
of its own, opened with the node's keys, host-key policy and ssh options (asyncssh's own hops
would take none of them: a new jump host would be refused, the ``-i`` keys not offered), and
shared by every node that jumps through the same hop with the same options.

Closing: jobs register as *users* when they start and leave in their ``co_shutdown``; a
connection registers as a user of its gateway's while it is open. When the last user goes, the
connection closes - so when a scheduler shuts down, nodes close remotest first and gateways
last, and nothing is left open after ``run()``. A closed connection reopens lazily if used
again. Nothing binds a connection to an event loop before it is used: state left by a previous
loop (each ``Scheduler.run()`` has its own) is simply forgotten.
"""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import logging
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import asyncssh

from .errors import GatewayError, SshJobsError, TransferError
from .session import SessionSlots
from .transport.connect import ConnectionEvents, open_connection
from .transport.failures import jump_failure
from .transport.hostconfig import JumpHop, config_jumps, config_user
from .transport.options import ConnectOptions, NodeOptions

__all__ = ["KILL_GRACE", "Connection", "ConnectionWatcher"]

logger = logging.getLogger("sshjobs.connection")

#: how long a cancelled close still waits for the remote kills under way (seconds)
KILL_GRACE = 5.0


class ConnectionWatcher(ConnectionEvents, Protocol):
    """The events of a connection and of its SFTP client (a node's formatter)."""

    def sftp_start(self, hostname: str) -> None: ...

    def sftp_stop(self, hostname: str) -> None: ...


class Connection:
    """The SSH connection of one node, opened with ``options`` through ``gateway``'s
    connection if given; ``events`` is told of its life; ``max_sessions`` sessions at once."""

    def __init__(
        self,
        options: NodeOptions,
        events: ConnectionWatcher,
        *,
        gateway: Connection | None = None,
        max_sessions: int,
        on_open: Callable[[], None] | None = None,
    ) -> None:
        #: what the node asks for (replaced as a whole; resolved at the first connection)
        self.options = options
        self.events = events
        self.gateway = gateway
        self.max_sessions = max_sessions
        #: called before each opening, once the options are resolved
        self.on_open = on_open
        #: connections opened so far (a reconnection after a loss counts)
        self.opened = 0
        self._resolved: ConnectOptions | None = None
        # per-loop state, created on first use
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None
        self._sftp_lock: asyncio.Lock | None = None
        self._conn: asyncssh.SSHClientConnection | None = None
        self._slots: SessionSlots | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._users: set[Any] = set()
        self._background: set[asyncio.Task[Any]] = set()  # remote kills in progress
        #: the connection ours goes through while open: the gateway's, or a ProxyJump hop's
        self._via: Connection | None = None

    @property
    def ssh_connection(self) -> asyncssh.SSHClientConnection | None:
        """The asyncssh connection, when one is open (or was, and was lost)."""
        return self._conn

    @property
    def host(self) -> str:
        return self.options.hostname

    def __str__(self) -> str:
        return self.host

    # -- users ---------------------------------------------------------------------------------
    def _bind_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._conn is not None:
                logger.debug("%s: forgetting a connection of a previous event loop", self)
            self._loop = loop
            self._lock = asyncio.Lock()
            self._sftp_lock = asyncio.Lock()
            self._conn = self._sftp = self._slots = None
            self._users = set()
            self._background = set()

    def add_user(self, user: Any) -> None:
        """Declare that ``user`` (a job, a connection behind us...) needs the connection."""
        self._bind_loop()
        self._users.add(user)

    def release_user(self, user: Any) -> None:
        """``user`` is done with us but wants the connection kept open (``keep_connection``):
        forget it without closing, so that it is not kept alive by us and a later user's
        departure still closes the connection."""
        self._users.discard(user)

    async def remove_user(self, user: Any) -> None:
        """``user`` is done with us; the connection closes when nobody needs it any more."""
        if self._loop is not asyncio.get_running_loop():
            return
        self._users.discard(user)
        if not self._users and self._conn is not None:
            await self.close()

    # -- the connection ------------------------------------------------------------------------
    def is_connected(self) -> bool:
        conn = self._conn
        return (
            conn is not None
            and not conn.is_closed()
            and self._loop is not None
            and not self._loop.is_closed()
        )

    async def connect_lazy(self) -> asyncssh.SSHClientConnection:
        """The connection, opened if needed (one at a time, whatever the callers)."""
        self._bind_loop()
        conn = self._conn
        if conn is not None and not conn.is_closed():
            return conn
        assert self._lock is not None
        async with self._lock:
            conn = self._conn
            if conn is not None and not conn.is_closed():
                return conn
            if conn is not None:  # lost since: start afresh
                await self._forget()
            conn = await self._open()
            self._conn = conn
            self._slots = SessionSlots(self.max_sessions)
            self.opened += 1
            return conn

    async def _open(self) -> asyncssh.SSHClientConnection:
        """Resolve the options (once), reach the gateway or ProxyJump hop, open the connection
        through it."""
        options = self._resolved = self.options.resolved
        if self.on_open is not None:
            self.on_open()
        via = self.gateway
        hops = [] if via is not None else _config_hops(options)
        if hops:
            via = _jump_chain(self, options, hops)
        if via is None:
            return await open_connection(options, self.events)
        via.add_user(self)
        self._via = via
        try:
            try:
                tunnel = await via.connect_lazy()
            except SshJobsError as exc:
                failure = jump_failure(exc, options) if hops else None
                if failure is exc:  # a hop's own refusal (host key, keys): it names the hop
                    raise
                if failure is not None:
                    raise failure from exc
                raise GatewayError(
                    f"cannot reach {self.host} through gateway {via.host}: {exc}",
                    host=self.host,
                    gateway=via.host,
                ) from exc
            return await open_connection(options, self.events, tunnel)
        except Exception:
            self._via = None
            await via.remove_user(self)
            raise
        except BaseException:  # cancelled: no await here
            self._via = None
            via.release_user(self)
            raise

    def slots(self) -> SessionSlots:
        """The session slots of the open connection."""
        assert self._slots is not None
        return self._slots

    def slots_of(self, conn: asyncssh.SSHClientConnection) -> SessionSlots | None:
        """The session slots of ``conn`` if it still is our connection, else None."""
        return self._slots if conn is self._conn else None

    def in_background(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run ``coroutine`` (a remote kill) as a task that :meth:`close` waits for first."""
        task = asyncio.get_running_loop().create_task(coroutine)
        tasks = self._background
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    # -- SFTP ----------------------------------------------------------------------------------
    def is_sftp_connected(self) -> bool:
        return self._sftp is not None and self.is_connected()

    async def sftp_lazy(self) -> asyncssh.SFTPClient:
        """The SFTP client (one per connection, opened on first transfer)."""
        await self.connect_lazy()
        if self._sftp is not None:
            return self._sftp
        assert self._sftp_lock is not None
        async with self._sftp_lock:
            while self._sftp is None:
                conn = await self.connect_lazy()
                slots = self.slots_of(conn)
                if slots is None:
                    continue
                await slots.acquire()
                try:
                    self._sftp = await conn.start_sftp_client()
                except BaseException as exc:
                    slots.release()
                    if isinstance(exc, (OSError, asyncssh.Error)):
                        raise TransferError(
                            f"cannot start SFTP: {exc} (the server offers no SFTP subsystem: "
                            f"check 'Subsystem sftp' in its sshd_config, or that an sftp-server "
                            f"is installed; copies and -s scripts need it)",
                            host=self.host,
                        ) from exc
                    raise
                self.events.sftp_start(self.host)
            return self._sftp

    # -- closing -------------------------------------------------------------------------------
    async def _forget(self) -> None:
        self._conn = self._sftp = self._slots = None
        via, self._via = self._via, None
        if via is not None:
            await via.remove_user(self)

    async def close(self, timeout: float | None = None) -> None:
        """Close the connection (and release the gateway's); it reopens if used again.

        Robust to being cancelled half-way (a scheduler's shutdown timeout): the remote kills
        under way still get up to :data:`KILL_GRACE` seconds, then the connection is closed
        (aborted if the cancellation came before it was done) and the gateway released in any
        case, so that neither a connection nor a killed command outlives the run.
        ``timeout``: bound on each wait (default: the connect timeout)."""
        if self._loop is not asyncio.get_running_loop() or self._lock is None:
            return
        timeout = self.options.timeout if timeout is None else timeout
        conn = None
        try:
            try:
                if self._background:  # let the kills of cancelled commands reach the host
                    await asyncio.wait(set(self._background), timeout=timeout)
            except asyncio.CancelledError:
                # cancelled (a scheduler's shutdown_timeout, 1 s by default, on a loaded
                # machine): the kills under way still get a bounded moment, or the commands
                # they stop would run on after the connection is gone
                if self._background:
                    await asyncio.wait(set(self._background), timeout=min(timeout, KILL_GRACE))
                raise
            finally:
                conn, sftp = self._conn, self._sftp
                if conn is not None:
                    self._conn = self._sftp = self._slots = None
                    if sftp is not None:
                        sftp.exit()
                        self.events.sftp_stop(self.host)
                    conn.close()
            if conn is not None:
                try:
                    await asyncio.wait_for(conn.wait_closed(), timeout)
                except (TimeoutError, OSError, asyncssh.Error) as exc:
                    logger.warning("%s: closing the connection: %s", self, exc)
        except asyncio.CancelledError:
            if conn is not None:
                conn.abort()
            raise
        finally:
            if conn is not None:
                logger.debug("%s: connection closed", self)
                user = self._resolved.username if self._resolved else None
                self.events.connection_lost(self.host, None, user)
                via, self._via = self._via, None
                if via is not None:
                    await via.remove_user(self)


def _config_hops(options: ConnectOptions) -> list[JumpHop]:
    """The ProxyJump hops of the ssh config that we open ourselves (none when the node's
    ``connect_options`` give asyncssh a tunnel of their own)."""
    if "tunnel" in options.connect_options:
        return []
    try:
        return config_jumps(list(options.config_paths), options.hostname)
    except ValueError as exc:  # a port that is not a number
        raise SshJobsError(
            f"ProxyJump of the ssh config cannot be read: {exc}", host=options.hostname
        ) from None


#: ssh options that name the target itself, not applied to its jump hosts
_TARGET_ONLY = ("Hostname", "Port", "User", "ProxyJump", "ProxyCommand")

#: the hop connections, shared by the nodes jumping through the same hop with the same options
_hops: weakref.WeakValueDictionary[tuple[Any, ...], Connection] = weakref.WeakValueDictionary()


def _jump_chain(node: Connection, options: ConnectOptions, hops: list[JumpHop]) -> Connection:
    """The connection of the last hop, each hop tunnelled through the one before it."""
    base = node.options
    ssh_options = {k: v for k, v in base.ssh_options.items() if k not in _TARGET_ONLY}
    shared = (
        repr(dataclasses.replace(base, hostname="", username=None, port=None, ssh_options={})),
        tuple(sorted(ssh_options.items())),
        tuple(map(id, base.keys or ())),
        base.passphrase,
        node.max_sessions,
    )
    previous: Connection | None = None
    for user, host, port in hops:
        user = user or config_user(list(options.config_paths), host) or getpass.getuser()
        key = (user, host, port, id(previous), shared)
        hop = _hops.get(key)
        if hop is None:
            hop_options = dataclasses.replace(
                base,
                hostname=host,
                username=user,
                port=port,
                password=None,
                ssh_options=ssh_options,
                gateway=previous.host if previous is not None else None,
            )
            hop = Connection(
                hop_options, node.events, gateway=previous, max_sessions=node.max_sessions
            )
            _hops[key] = hop
        previous = hop
    assert previous is not None
    return previous
