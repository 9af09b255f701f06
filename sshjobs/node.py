"""SshNode: one remote host, and the single SSH connection every job on it shares.

An SshNode is composed of its options (:class:`~sshjobs.transport.options.NodeOptions`: what
it was asked for, frozen, resolved against the ssh config at the first connection - building
a node reads no file), its connection (:class:`~sshjobs.connection.Connection`: opened lazily,
shared, tunnelled through the gateway's, closed with its last user), and what runs over it
(:class:`~sshjobs.remote.RemoteCommands`, :class:`~sshjobs.remotefiles.RemoteFiles`). It keeps
apssh's constructor and attributes; setting an option (``node.port = 2222``) replaces the
options, resolved again when next needed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import asyncssh

from .connection import Connection
from .errors import SshJobsError
from .formatters import Formatter, HostFormatter
from .keys import KeySet
from .remote import RemoteCommands
from .remotefiles import RemoteFiles
from .results import CommandResult
from .session import OUTPUT_GRACE
from .sshoptions import spell_ssh_options
from .transport import fastpath
from .transport.hostkeys import HostKeyPolicy
from .transport.options import NodeOptions, OptionAttribute

__all__ = ["DEFAULT_MAX_SESSIONS", "SshNode", "SshProxy"]

#: OpenSSH's default MaxSessions
DEFAULT_MAX_SESSIONS = 10


class SshNode:
    """A remote host reached over SSH (apssh-compatible constructor).

    Building a node reads no file: the ssh config, key files and known hosts are read once,
    at its first connection (or when ``username``, ``keys`` or ``host_key_policy`` is first
    read), which raises for a key that cannot be loaded or a setting that is not valid.

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
        they override the config files (see :mod:`sshjobs.sshoptions`); an unknown keyword (at
        once) or a bad value (when resolved) raises :class:`~sshjobs.sshoptions.SshOptionError`.
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

    hostname: OptionAttribute[str] = OptionAttribute()
    port: OptionAttribute[int | None] = OptionAttribute()
    passphrase: OptionAttribute[str | bytes | None] = OptionAttribute()
    password: OptionAttribute[str | None] = OptionAttribute()
    known_hosts: OptionAttribute[Any] = OptionAttribute()
    ssh_options: OptionAttribute[Mapping[str, str]] = OptionAttribute()
    connect_options: OptionAttribute[Mapping[str, Any]] = OptionAttribute()
    #: seconds allowed to connect (``ConnectTimeout`` of ``ssh_options`` applied)
    timeout: OptionAttribute[float] = OptionAttribute()
    keepalive_interval: OptionAttribute[float] = OptionAttribute()
    keepalive_count_max: OptionAttribute[int] = OptionAttribute()

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
        record_known_hosts: str | os.PathLike[str] | None = None,
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
        try:
            options = NodeOptions(
                hostname,
                username=username,
                port=port,
                keys=tuple(keys) if keys else None,
                passphrase=passphrase,
                password=password,
                known_hosts=known_hosts,
                host_keys=host_keys,
                record_known_hosts=record_known_hosts,
                config=config,
                ssh_options=spell_ssh_options(ssh_options or {}),
                timeout=timeout,
                keepalive_interval=keepalive_interval,
                keepalive_count_max=keepalive_count_max,
                fast_handshake=fast_handshake,
                connect_options=connect_options,
                gateway=gateway.hostname if gateway is not None else None,
            )
        except SshJobsError:
            raise
        except ValueError as exc:
            raise ValueError(f"SshNode {hostname}: {exc}") from None
        self._gateway = gateway
        self._formatter = formatter if formatter is not None else HostFormatter()
        if verbose is not None:
            self._formatter.verbose = verbose
        self._formatter.adapt_to_proxy(SimpleNamespace(hostname=hostname, username=username))
        #: the node's SSH connection (shared by every job on the node)
        self.connection: Connection = Connection(
            options,
            self._formatter,
            gateway=gateway.connection if gateway is not None else None,
            max_sessions=max_sessions,
            on_open=lambda: self._formatter.adapt_to_proxy(self),
        )
        self._commands = RemoteCommands(self.connection)
        self._files = RemoteFiles(self.connection)
        self.debug = debug
        self.command_timeout = command_timeout
        self.kill_on_cancel = kill_on_cancel
        self.output_grace = output_grace

    # -- options -------------------------------------------------------------------------------
    @property
    def options(self) -> NodeOptions:
        """What the node was asked for (frozen); ``options.resolved``: the same resolved for
        its host (ssh config, keys, host-key policy), computed on first use."""
        return self.connection.options

    @options.setter
    def options(self, options: NodeOptions) -> None:
        self.connection.options = options

    @property
    def username(self) -> str:
        """The remote user: the one given, else ``User`` of the ssh config, else root."""
        return self.options.resolved.username

    @username.setter
    def username(self, username: str | None) -> None:
        self.options = dataclasses.replace(self.options, username=username)

    @property
    def keys(self) -> list[Any]:
        """The keys given to the constructor, loaded (exactly those are offered); [] if none."""
        return list(self.options.resolved.keyset.keys) if self.options.keys else []

    @keys.setter
    def keys(self, keys: Sequence[Any] | None) -> None:
        self.options = dataclasses.replace(self.options, keys=tuple(keys) if keys else None)

    @property
    def host_key_policy(self) -> HostKeyPolicy:
        return self.options.resolved.host_key_policy

    @property
    def config_paths(self) -> list[str]:
        """The ssh config files honoured (the one holding ``ssh_options`` first)."""
        return list(self.options.resolved.config_paths)

    @property
    def fast_handshake(self) -> bool:
        asked = self.options.fast_handshake
        return fastpath.enabled_by_default() if asked is None else bool(asked)

    def keyset(self) -> KeySet:
        """The credentials this node offers."""
        return self.options.resolved.keyset

    @property
    def gateway(self) -> SshNode | None:
        return self._gateway

    @gateway.setter
    def gateway(self, gateway: SshNode | None) -> None:
        self._gateway = gateway
        self.connection.gateway = gateway.connection if gateway is not None else None
        name = gateway.hostname if gateway is not None else None
        self.options = dataclasses.replace(self.options, gateway=name)

    @property
    def formatter(self) -> Formatter:
        return self._formatter

    @formatter.setter
    def formatter(self, formatter: Formatter) -> None:
        self._formatter = self.connection.events = formatter

    @property
    def max_sessions(self) -> int:
        return self.connection.max_sessions

    @property
    def connections_opened(self) -> int:
        return self.connection.opened

    # -- identity ------------------------------------------------------------------------------
    def distance(self) -> int:
        """Number of hops from here: 1 for a direct node, 1 + the gateway's distance otherwise."""
        return 1 + (self._gateway.distance() if self._gateway else 0)

    def _shown_user(self) -> str | None:
        """The user to show: resolved, or - when the options cannot be - the one given."""
        try:
            return self.username
        except (SshJobsError, ValueError, OSError):
            return self.options.username

    def user_host(self) -> str:
        user = self._shown_user()
        return f"{user}@{self.hostname}" if user else self.hostname

    def endpoint(self) -> str:
        """``user@host``, with ``:port`` when it is not SSH's default (sandbox and farm nodes
        share one address and differ by port only)."""
        return self.user_host() + (f":{self.port}" if self.port and self.port != 22 else "")

    def __str__(self) -> str:
        own = self.user_host() + (f":{self.port}" if self.port else "")
        return f"{self._gateway}->{own}" if self._gateway else own

    def __repr__(self) -> str:
        state = "<-SSH->" if self.is_connected() else "(idle)"
        return f"SshNode({self}){state}"

    # -- connection (see sshjobs.connection) ---------------------------------------------------
    def add_user(self, user: Any) -> None:
        """Declare that ``user`` (a job...) needs the connection."""
        self.connection.add_user(user)

    def release_user(self, user: Any) -> None:
        """``user`` is done but wants the connection kept open (``keep_connection``)."""
        self.connection.release_user(user)

    async def remove_user(self, user: Any) -> None:
        """``user`` is done with us; the connection closes when nobody needs it any more."""
        await self.connection.remove_user(user)

    def is_connected(self) -> bool:
        return self.connection.is_connected()

    async def connect_lazy(self) -> asyncssh.SSHClientConnection:
        """The node's connection, opened if needed (one at a time, whatever the callers)."""
        return await self.connection.connect_lazy()

    async def sftp_lazy(self) -> asyncssh.SFTPClient:
        """The node's SFTP client (one per connection, opened on first transfer)."""
        return await self.connection.sftp_lazy()

    async def sftp_connect_lazy(self) -> asyncssh.SFTPClient:  # apssh's name
        return await self.connection.sftp_lazy()

    def is_sftp_connected(self) -> bool:
        return self.connection.is_sftp_connected()

    async def close(self) -> None:
        """Close the connection (and release the gateway); it reopens if used again."""
        await self.connection.close()

    async def __aenter__(self) -> SshNode:
        self.add_user(self)
        await self.connect_lazy()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.connection.release_user(self)
        await self.close()

    # -- commands (see sshjobs.remote) ---------------------------------------------------------
    async def execute(
        self,
        command: str,
        *,
        label: str = "",
        capture: bool = False,
        timeout: float | None = None,
        x11: bool = False,
        formatter: Any = None,
        report: bool = True,
        stdin: Any = None,
        output_grace: float | None = None,
    ) -> CommandResult:
        """Run ``command`` (a remote shell command line) and return its structured result.

        Output lines go to ``formatter`` (default: the node's) unless ``capture`` is True, in
        which case stdout is kept whole in ``result.stdout`` (stderr still goes to the
        formatter). A command still running after ``timeout`` seconds (default: the node's
        ``command_timeout``) is killed and ``result.error`` is a
        :class:`~sshjobs.errors.CommandTimeoutError`. Connection problems raise.
        ``stdin``: an :class:`~sshjobs.sharedinput.InputReader` whose data the command reads on
        its standard input (default: an empty stdin, as ``ssh -n``); it is closed at the end.

        Once the exit status has come, the end of the output is awaited at most
        ``output_grace`` seconds (default: the node's ``output_grace``): a process the command
        left in the background may hold it open for ever. We then close our end of the
        session and return; that process keeps running on the host. ``report=False``: one of
        our own helper commands (not killable, served first).
        """
        return await self._commands.execute(
            command,
            formatter=formatter or self._formatter,
            label=label,
            capture=capture,
            timeout=timeout if timeout is not None else self.command_timeout,
            x11=x11,
            killable=self.kill_on_cancel and report,
            priority=not report,
            stdin=stdin,
            output_grace=output_grace if output_grace is not None else self.output_grace,
        )

    async def run(self, command: str, **kwds: Any) -> int | str | None:
        """apssh ``SshProxy.run``: exit status, or the signal name, or None."""
        return (await self.execute(command, **kwds)).returned

    # -- files (see sshjobs.remotefiles) -------------------------------------------------------
    async def mkdir(self, remotedir: str, mode: int = 0o755) -> None:
        """Create a remote directory (and its parents) if missing."""
        await self._files.mkdir(remotedir, mode)

    async def put_file_s(
        self, localpaths: str | Sequence[str], remotepath: str, **kwds: Any
    ) -> None:
        """SFTP-upload file(s) (asyncssh ``put`` options: ``recurse``, ``preserve``...)."""
        await self._files.put_file_s(localpaths, remotepath, **kwds)

    async def get_file_s(
        self, remotepaths: str | Sequence[str], localpath: str, **kwds: Any
    ) -> None:
        """SFTP-download file(s) (asyncssh ``get`` options)."""
        await self._files.get_file_s(remotepaths, localpath, **kwds)

    async def put_string_script(
        self, body: str | bytes, remotefile: str, mode: int = 0o755
    ) -> None:
        """Write ``body`` into ``remotefile`` with ``mode``."""
        await self._files.put_string_script(body, remotefile, mode)

    async def stage_script(
        self, name: str, body: bytes, includes: Sequence[str] = ()
    ) -> tuple[str, str]:
        """Upload a script (mode 0700) and its includes into a new private directory;
        returns ``(directory, script path)``, relative to the remote home directory."""
        return await self._files.stage_script(name, body, includes)

    async def unstage_script(self, directory: str) -> None:
        """Remove a directory made by :meth:`stage_script` (failures are only logged)."""
        await self._files.unstage_script(directory)

    async def remote_home(self) -> str:
        """The remote user's home directory (SFTP's idea of ``.``)."""
        return await self._files.remote_home()


#: apssh's name for a node without SshNode's defaults (kept for old scripts)
SshProxy = SshNode
