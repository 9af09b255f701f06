"""SshNode: one remote host, and the single SSH connection every job on it shares.

The connection is opened lazily, under a lock, the first time a command needs it; every job and
command on the node then shares it (sessions are multiplexed, at most ``max_sessions`` at once).
A gateway is another SshNode: a node behind it connects through the gateway's own single
connection (asyncssh ``tunnel=``), so any number of hops works and one gateway login serves
every node behind it.

Closing: jobs register as *users* of their node when they start and release it in their
``co_shutdown``; a node registers as a user of its gateway while connected. When the last user
goes, the connection closes - so when a scheduler shuts down, nodes close remotest first and
gateways last, and nothing is left open after ``run()``. A closed node reopens lazily if used
again. Nothing here binds a node to an event loop before it is used: state left by a previous
loop (each ``Scheduler.run()`` has its own) is simply forgotten.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import asyncssh

from .errors import TransferError
from .formatters import Formatter, HostFormatter
from .keys import KeySet, default_keys, explicit_keys
from .remote import RemoteMixin
from .session import OUTPUT_GRACE, SessionSlots
from .sshoptions import check_ssh_options, host_keys_of, ssh_options_path
from .transport import connect as _connect
from .transport import fastpath
from .transport.hostkeys import HostKeyPolicy

__all__ = ["DEFAULT_MAX_SESSIONS", "SshNode", "SshProxy"]

logger = logging.getLogger("sshjobs.node")

#: OpenSSH's default MaxSessions
DEFAULT_MAX_SESSIONS = 10


class SshNode(RemoteMixin):
    """A remote host reached over SSH (apssh-compatible constructor).

    :param hostname: host name, address, or ``~/.ssh/config`` alias.
    :param username: remote user; None → ``User`` from ``~/.ssh/config``, else ``"root"``
        (apssh's default).
    :param port: None → ``Port`` from ``~/.ssh/config``, else 22.
    :param keys: key objects and/or key file names to offer (exactly those); None → ssh-agent
        plus the default files ``~/.ssh/id_ed25519``, ``id_ecdsa``, ``id_rsa`` (loaded once per
        process) plus ``IdentityFile`` from ``~/.ssh/config``.
    :param gateway: the SshNode to tunnel through (chains of any depth).
    :param known_hosts: extra known_hosts file(s), read before the user's files
        (``UserKnownHostsFile`` of the ssh config, default ``~/.ssh/known_hosts``) and the
        global ones (``GlobalKnownHostsFile``, default ``/etc/ssh/ssh_known_hosts``);
        ``None`` means no host-key checking (apssh's meaning, kept for old scripts) unless
        ``host_keys`` is given.
    :param host_keys: ``"strict"``, ``"accept-new"`` (new hosts trusted and recorded in
        ``record_known_hosts``, default the first ``known_hosts`` file given, else the first
        user file) or ``"ignore"``; None → ``SSHJOBS_HOST_KEYS``, else the ssh config's
        ``StrictHostKeyChecking`` for the host, else ``accept-new`` (see
        :mod:`sshjobs.transport.hostkeys`). An unknown value raises ValueError.
    :param formatter: where output goes (default :class:`HostFormatter`).
    :param timeout: seconds allowed to connect (TCP, handshake, authentication), counted from
        the start of this node's handshake: at most 256 handshakes run at once (see
        :mod:`sshjobs.transport.handshakes`), the others wait for a turn first.
    :param command_timeout: default per-command timeout (None: no limit).
    :param keepalive_interval / keepalive_count_max: a dead host is noticed after about
        interval × count seconds (default 5 × 3) instead of hanging.
    :param max_sessions: sessions open at once on the connection (OpenSSH MaxSessions).
    :param kill_on_cancel: have each command report its remote process group (an ``echo`` on
        stderr, stripped), so that a timed-out or cancelled command is killed on the remote side
        with all its children. Needs a POSIX login shell (sh, bash, dash, zsh, ksh); set False
        for csh or fish.
    :param config: ssh config file(s); default ``~/.ssh/config`` when it exists; None: none.
    :param ssh_options: ssh-config keywords and values (``{"Port": "2222"}``), as ``ssh -o``:
        they override the config files (see :mod:`sshjobs.sshoptions`); an unknown keyword or a
        bad value raises :class:`~sshjobs.sshoptions.SshOptionError`.
        ``StrictHostKeyChecking`` sets ``host_keys`` when that is not given.
    :param output_grace: once a command's exit status has come, seconds to wait for the end
        of its output (a process it left in the background may hold it open for ever); then
        our end of the session is closed, the exit status returned, and that process keeps
        running on the host. None: no limit (wait like ``ssh`` does).
    :param passphrase: decrypts passphrase-protected key files (those given in ``keys``, the
        default ones, ``IdentityFile`` ones); never asked for (agent keys need none).
    :param fast_handshake: authenticate in three round trips fewer
        (:mod:`sshjobs.transport.fastpath`); None → on unless ``SSHJOBS_FAST_HANDSHAKE=0``.
        Set False for a server that mishandles pipelined requests.
    """

    #: the name the monitor and the run report show for this node instead of its address
    #: (set by the demo and the scenario loader); None → the address
    monitor_name: str | None = None

    def __init__(
        self,
        hostname: str,
        *,
        username: str | None = None,
        port: int | None = None,
        keys: Sequence[Any] | None = None,
        gateway: SshNode | None = None,
        known_hosts: Any = (),
        host_keys: str | None = None,
        record_known_hosts: str | os.PathLike | None = None,
        formatter: Formatter | None = None,
        verbose: bool | None = None,
        debug: bool = False,
        timeout: float = 30,
        command_timeout: float | None = None,
        keepalive_interval: float = 5,
        keepalive_count_max: int = 3,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        kill_on_cancel: bool = True,
        config: Any = (),
        ssh_options: Mapping[str, str] | None = None,
        password: str | None = None,
        fast_handshake: bool | None = None,
        output_grace: float | None = OUTPUT_GRACE,
        passphrase: str | bytes | None = None,
        **connect_options: Any,
    ) -> None:
        if not isinstance(hostname, str) or not hostname:
            raise ValueError(f"SshNode: hostname must be a non-empty string, not {hostname!r}")
        if gateway is not None and not isinstance(gateway, SshNode):
            raise ValueError(f"SshNode {hostname}: gateway must be an SshNode, not {gateway!r}")
        self.hostname = hostname
        self.gateway = gateway
        self.port = port
        self.ssh_options = check_ssh_options(ssh_options or {})
        options_path = ssh_options_path(self.ssh_options)
        self.config_paths = ([options_path] if options_path else []) + _connect.config_paths(config)
        if host_keys is None:
            host_keys = host_keys_of(ssh_options)
        self.username = username or _connect.config_user(self.config_paths, hostname) or "root"
        #: decrypts passphrase-protected key files (given, default or from the ssh config)
        self.passphrase = passphrase
        # explicit keys are loaded now, so that a bad key file fails before any connection
        self._keyset: KeySet | None = explicit_keys(keys, passphrase) if keys else None
        self.keys = list(self._keyset.keys) if self._keyset else []
        self.known_hosts = known_hosts
        try:
            self.host_key_policy = HostKeyPolicy.build(
                known_hosts,
                host_keys,
                record_known_hosts,
                _connect.config_host_keys(self.config_paths, hostname),
            )
        except ValueError as exc:
            raise ValueError(f"SshNode {hostname}: {exc}") from None
        self.formatter = formatter if formatter is not None else HostFormatter()
        if verbose is not None:
            self.formatter.verbose = verbose
        self.formatter.adapt_to_proxy(self)
        self.debug = debug
        self.timeout = timeout
        self.command_timeout = command_timeout
        self.keepalive_interval = keepalive_interval
        self.keepalive_count_max = keepalive_count_max
        self.max_sessions = max_sessions
        self.kill_on_cancel = kill_on_cancel
        self.output_grace = output_grace
        self.password = password
        self.fast_handshake = (
            fastpath.enabled_by_default() if fast_handshake is None else bool(fast_handshake)
        )
        self.connect_options = connect_options
        self._apply_ssh_options()
        # per-loop state, created on first use
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None
        self._conn: asyncssh.SSHClientConnection | None = None
        self._slots: SessionSlots | None = None
        self._sftp: Any = None
        self._sftp_lock: asyncio.Lock | None = None
        self._users: set[Any] = set()
        self._kills: set[asyncio.Task] = set()  # remote kills in progress
        self.connections_opened = 0

    # -- identity ----------------------------------------------------------------------------
    def keyset(self) -> KeySet:
        """The credentials this node offers (default ones resolved at first use)."""
        return self._keyset if self._keyset is not None else default_keys(self.passphrase)

    def explicit_keyset(self) -> KeySet | None:
        """The keys given to the constructor (exactly those are offered), None if none."""
        return self._keyset

    def distance(self) -> int:
        """Number of hops from here: 1 for a direct node, 1 + the gateway's distance otherwise."""
        return 1 + (self.gateway.distance() if self.gateway else 0)

    def _apply_ssh_options(self) -> None:
        """``ssh_options`` that override keywords: keepalives and the connect timeout."""
        options = self.ssh_options
        if "ServerAliveInterval" in options:
            self.keepalive_interval = float(options["ServerAliveInterval"])
        if "ServerAliveCountMax" in options:
            self.keepalive_count_max = int(options["ServerAliveCountMax"])
        if "ConnectTimeout" in options:
            self.timeout = float(options["ConnectTimeout"])

    def user_host(self) -> str:
        return f"{self.username}@{self.hostname}" if self.username else self.hostname

    def endpoint(self) -> str:
        """``user@host``, with ``:port`` when it is not SSH's default (sandbox and farm nodes
        share one address and differ by port only)."""
        return self.user_host() + (f":{self.port}" if self.port and self.port != 22 else "")

    def __str__(self) -> str:
        own = self.user_host() + (f":{self.port}" if self.port else "")
        return f"{self.gateway}->{own}" if self.gateway else own

    def __repr__(self) -> str:
        state = "<-SSH->" if self.is_connected() else "(idle)"
        return f"SshNode({self}){state}"

    # -- loop binding and users ----------------------------------------------------------------
    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._conn is not None:
                logger.debug("%s: forgetting a connection of a previous event loop", self)
            self._loop = loop
            self._lock = asyncio.Lock()
            self._sftp_lock = asyncio.Lock()
            self._conn = self._sftp = self._slots = None
            self._users = set()
            self._kills = set()
        return loop

    def add_user(self, user: Any) -> None:
        """Declare that ``user`` (a job, a node behind us...) needs the connection."""
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

    # -- connection ----------------------------------------------------------------------------
    def is_connected(self) -> bool:
        conn = self._conn
        return (
            conn is not None
            and not conn.is_closed()
            and self._loop is not None
            and not self._loop.is_closed()
        )

    async def connect_lazy(self) -> asyncssh.SSHClientConnection:
        """The node's connection, opened if needed (one at a time, whatever the callers)."""
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
                await self._forget_connection()
            conn = await _connect.open_connection(self)
            self._conn = conn
            self._slots = SessionSlots(self.max_sessions)
            self.connections_opened += 1
            return conn

    def slots(self) -> SessionSlots:
        assert self._slots is not None
        return self._slots

    def slots_of(self, conn: Any) -> SessionSlots | None:
        """The session slots of ``conn`` if it still is our connection, else None."""
        return self._slots if conn is self._conn else None

    async def sftp_lazy(self) -> Any:
        """The node's SFTP client (one per connection, opened on first transfer)."""
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
                            host=self.hostname,
                        ) from exc
                    raise
                self.formatter.sftp_start(self.hostname)
            return self._sftp

    # apssh names
    async def sftp_connect_lazy(self) -> Any:
        return await self.sftp_lazy()

    def is_sftp_connected(self) -> bool:
        return self._sftp is not None and self.is_connected()

    async def _forget_connection(self) -> None:
        self._conn = self._sftp = self._slots = None
        if self.gateway is not None:
            await self.gateway.remove_user(self)

    async def close(self) -> None:
        """Close the connection (and release the gateway); it reopens if used again.

        Robust to being cancelled half-way (a scheduler's shutdown timeout): the connection is
        closed (aborted if the cancellation came before it was done) and the gateway released
        in any case, so that no connection outlives the run."""
        if self._loop is not asyncio.get_running_loop() or self._lock is None:
            return
        conn = None
        try:
            try:
                if self._kills:  # let the kills of cancelled commands reach the host first
                    await asyncio.wait(set(self._kills), timeout=self.timeout)
            finally:
                conn, sftp = self._conn, self._sftp
                if conn is not None:
                    self._conn = self._sftp = self._slots = None
                    if sftp is not None:
                        sftp.exit()
                        self.formatter.sftp_stop(self.hostname)
                    conn.close()
            if conn is not None:
                try:
                    await asyncio.wait_for(conn.wait_closed(), self.timeout)
                except (TimeoutError, OSError, asyncssh.Error) as exc:
                    logger.warning("%s: closing the connection: %s", self, exc)
        except asyncio.CancelledError:
            if conn is not None:
                conn.abort()
            raise
        finally:
            if conn is not None:
                logger.debug("%s: connection closed", self)
                self.formatter.connection_lost(self.hostname, None, self.username)
                if self.gateway is not None:
                    await self.gateway.remove_user(self)

    async def __aenter__(self) -> SshNode:
        self.add_user(self)
        await self.connect_lazy()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        self._users.discard(self)
        await self.close()


#: apssh's name for a node without SshNode's defaults (kept for old scripts)
SshProxy = SshNode
