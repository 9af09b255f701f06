"""A shorter SSH handshake: three round trips fewer per connection, and fewer packets sent.

asyncssh, like OpenSSH's client, authenticates cautiously: it waits for the server to accept the
``ssh-userauth`` service, asks for the ``none`` method to learn which methods the server offers,
then asks whether a public key would be accepted before signing with it. That is three round
trips spent before the one that logs in. On a testbed behind a 50 ms link, with hundreds of
hosts, they are most of the time a command takes. This module removes them:

- the first authentication request follows the service request without waiting for the
  server's reply (once the server's ``EXT_INFO`` has told which signature algorithms it takes;
  without it, the ordinary wait);
- the ``none`` probe is skipped: the methods we would use are tried directly;
- the first public key, when it comes from a key file, is offered signed, so a server that
  accepts it logs in at once; later keys (the first was refused, so guessing is no longer
  likely to pay) are asked about first, as are keys held by an ssh-agent (which may ask for a
  confirmation, ``ssh-add -c``, or a PKCS#11 token) and security-key (``sk-``) keys, whose
  signature needs a touch;
- the packets a connection sends during one turn of the event loop leave in one write, not one
  per packet, which saves system calls here and wake-ups on the server;
- asyncssh precedes every encrypted packet with an empty ``IGNORE`` packet, a defence for CBC
  ciphers (RFC 4251 §9.3.1); with the AES-GCM, ChaCha20-Poly1305 or CTR ciphers negotiated
  here it only costs an encryption on each side, so it is left out (kept with CBC).

OpenSSH servers process these pipelined requests in order, as RFC 4253 allows. This works on
asyncssh internals: :data:`AVAILABLE` says whether the installed asyncssh has them (the test
suite checks, against a real sshd, that the handshake is the short one); without them,
connections use asyncssh's own handshake and a warning is logged once.
``SSHJOBS_FAST_HANDSHAKE=0`` or ``SshNode(fast_handshake=False)`` restores asyncssh's own.

Every connection sshjobs opens is of its own class (a subclass of asyncssh's client
connection): nothing is changed in asyncssh itself, and connections other code opens with
asyncssh in the same process are untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import Any, ClassVar

import asyncssh

logger = logging.getLogger(__name__)

__all__ = [
    "AVAILABLE",
    "connect",
    "enabled_by_default",
    "pipelined",
    "transport_room",
    "warn_unavailable",
]

_USERAUTH_SERVICE = b"ssh-userauth"
_FLUSH_AT = 64 * 1024  # bytes held before a write goes out anyway


#: instance attributes of asyncssh's client connection the short handshake reads or sets;
#: checked on each connection before it starts (see :meth:`_FastConnection._connection_made`)
_INSTANCE_ATTRS = (
    "_auth_in_progress",
    "_owner",
    "_username",
    "_auth_methods",
    "_preferred_auth",
    "_transport",
    "_host",
    "_next_service",
    "_auth",
)


def _internals() -> tuple[Any, ...] | None:
    """What this module relies on in asyncssh's classes, or None if any of it is missing."""
    try:
        from asyncssh.auth import _ClientPublicKeyAuth
        from asyncssh.connection import SSHClientConnection
        from asyncssh.constants import MSG_EXT_INFO, MSG_IGNORE, MSG_SERVICE_ACCEPT
        from asyncssh.packet import Boolean, String
    except ImportError:
        return None
    handlers = getattr(SSHClientConnection, "_packet_handlers", {})
    needed = [
        (SSHClientConnection, name)
        for name in (
            "send_service_request",
            "try_next_auth",
            "_process_service_accept",
            "_process_ext_info",
            "send_packet",
            "_connection_made",
        )
    ] + [
        (_ClientPublicKeyAuth, name) for name in ("_start", "_send_signed_request", "send_request")
    ]
    if (
        all(hasattr(owner, name) for owner, name in needed)
        and MSG_SERVICE_ACCEPT in handlers
        and MSG_EXT_INFO in handlers
    ):
        return (
            SSHClientConnection,
            _ClientPublicKeyAuth,
            MSG_SERVICE_ACCEPT,
            MSG_EXT_INFO,
            MSG_IGNORE,
            Boolean,
            String,
        )
    return None


_FOUND = _internals()
#: whether the installed asyncssh has the internals the short handshake needs
AVAILABLE = _FOUND is not None
_warned: set[str] = set()


def warn_unavailable(why: str) -> None:
    """Log, once per process and reason, that the short handshake was asked for but cannot be
    used with this asyncssh: connections then use asyncssh's own handshake."""
    if why not in _warned:
        _warned.add(why)
        logger.warning(
            "the short handshake is not available with asyncssh %s (%s): using "
            "asyncssh's own handshake (set SSHJOBS_FAST_HANDSHAKE=0 to silence this)",
            asyncssh.__version__,
            why,
        )


def enabled_by_default() -> bool:
    """The short handshake is used unless ``SSHJOBS_FAST_HANDSHAKE`` is ``0``/``no``/``off``."""
    return os.environ.get("SSHJOBS_FAST_HANDSHAKE", "1").strip().lower() not in (
        "0",
        "no",
        "off",
        "false",
    )


class _CorkedTransport:
    """A transport whose writes of one event-loop turn leave together, in one send."""

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._chunks: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        if not self._chunks:
            self._loop.call_soon(self.flush)
        self._chunks.append(data)
        self._size += len(data)
        if self._size >= _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if not self._chunks:
            return
        data = b"".join(self._chunks) if len(self._chunks) > 1 else self._chunks[0]
        self._chunks, self._size = [], 0
        closing = getattr(self._transport, "is_closing", None)
        if closing is not None and closing():
            return
        with contextlib.suppress(ConnectionError):  # the loss is reported by connection_lost
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self.flush()  # unbuffered, these bytes would already be in the kernel
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _checked_logger_class() -> Any:
    try:
        from asyncssh.logging import SSHLogger
    except ImportError:
        return None
    if not hasattr(SSHLogger, "get_child"):
        return None

    class _CheckedLogger(SSHLogger):
        """asyncssh's logger adapter, asking whether a level is logged before turning the
        arguments into text (asyncssh formats them first, logged or not)."""

        def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
            if self.isEnabledFor(level):
                super().log(level, msg, *args, **kwargs)

    return _CheckedLogger


_CHECKED_LOGGER = _checked_logger_class()


def _check_log_levels(conn: Any) -> None:
    """Give ``conn`` (ours) a logger that formats arguments only for messages that are logged.

    asyncssh derives the loggers of a connection's channels and authentication from the
    connection's with ``type(self)(...)``, so they check too; asyncssh's own loggers, and
    every connection that is not ours, are left as they are."""
    current = getattr(conn, "_logger", None)
    if _CHECKED_LOGGER is None or type(current) is not _CHECKED_LOGGER.__mro__[1]:
        return
    checked = _CHECKED_LOGGER.__new__(_CHECKED_LOGGER)
    checked.__dict__.update(current.__dict__)
    conn._logger = checked


class _OwnConnection(asyncssh.SSHClientConnection):
    """asyncssh's client connection, with log arguments formatted only when logged, and the
    transport's flow control recorded (asyncssh ignores it: see :func:`transport_room`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _check_log_levels(self)
        self._sshjobs_room = asyncio.Event()
        self._sshjobs_room.set()

    def pause_writing(self) -> None:
        self._sshjobs_room.clear()

    def resume_writing(self) -> None:
        self._sshjobs_room.set()

    def connection_lost(self, exc: Exception | None = None) -> None:
        self._sshjobs_room.set()  # nobody waits for room on a connection that is gone
        super().connection_lost(exc)


async def transport_room(conn: Any) -> None:
    """Wait until ``conn``'s socket takes more data (its transport's buffer is below the
    low-water mark again); at once for a connection that is not one of ours.

    asyncssh hands the transport whatever fits in a channel's SSH window even when the socket
    is full, so a writer pacing itself on the channel alone can leave a whole window (2 MB for
    OpenSSH) per slow host in memory; a writer that also waits here leaves at most the
    transport's high-water mark."""
    room = getattr(conn, "_sshjobs_room", None)
    if room is not None and not room.is_set():
        await room.wait()


def _is_agent_key(keypair: Any) -> bool:
    """Whether ``keypair`` signs through an ssh-agent (which may ask for a confirmation,
    ``ssh-add -c``, or a PKCS#11 token): such keys are asked about before being signed with."""
    return type(keypair).__name__ == "SSHAgentKeyPair"


if _FOUND is not None:
    (
        _Connection,
        _PublicKeyAuth,
        _MSG_SERVICE_ACCEPT,
        _MSG_EXT_INFO,
        _MSG_IGNORE,
        _Boolean,
        _String,
    ) = _FOUND
    _EMPTY_IGNORE = (_String(b""),)

    class _DirectPublicKeyAuth(_PublicKeyAuth):  # type: ignore[misc, valid-type]
        """Public-key auth that signs its first key at once instead of asking first (keys
        from files only: agent and security keys are asked about first)."""

        async def _start(self) -> None:
            self._keypair = await self._conn.public_key_auth_requested()
            if self._keypair is None:
                self._conn.try_next_auth(next_method=True)
                return
            if self._keypair.algorithm.startswith(b"sk-") or _is_agent_key(self._keypair):
                await self.send_request(
                    _Boolean(False),
                    _String(self._keypair.algorithm),
                    _String(self._keypair.public_data),
                )
                return
            await self._send_signed_request()

    class _FastConnection(_OwnConnection):
        """asyncssh's client connection with the short handshake (see the module doc)."""

        _sshjobs_fast = True  # False when this connection lacks an internal
        _sshjobs_auth_waiting = False  # the service was asked for, auth not started yet
        _sshjobs_auth_started = False  # auth started without waiting for the service
        _sshjobs_signed_once = False

        def _connection_made(self) -> None:
            super()._connection_made()
            missing = [name for name in _INSTANCE_ATTRS if not hasattr(self, name)]
            if missing:
                self._sshjobs_fast = False
                warn_unavailable("no " + ", ".join(missing))
                return
            preferred = list(self._preferred_auth or [])
            self._auth_methods = [m for m in preferred if m != b"none"] + [b"none"]
            transport = self._transport
            if transport is not None and not isinstance(transport, _CorkedTransport):
                corked: Any = _CorkedTransport(transport, asyncio.get_running_loop())
                self._transport = corked

        def send_packet(self, pkttype: int, *args: bytes, handler: Any = None) -> None:
            # asyncssh puts an empty IGNORE before every encrypted packet: a defence of CBC
            # ciphers (RFC 4251 9.3.1) that AEAD and CTR modes do not need
            if (
                pkttype == _MSG_IGNORE
                and args == _EMPTY_IGNORE
                and self._sshjobs_fast
                and not getattr(self, "_enc_alg_cs", b"-cbc").endswith(b"-cbc")
            ):
                return
            super().send_packet(pkttype, *args, handler=handler)

        def send_service_request(self, service: bytes) -> None:
            super().send_service_request(service)
            if service == _USERAUTH_SERVICE and self._sshjobs_fast and not self._auth_in_progress:
                self._sshjobs_auth_waiting = True

        def _process_ext_info(self, pkttype: int, pktid: int, packet: Any) -> None:
            super()._process_ext_info(pkttype, pktid, packet)
            if self._sshjobs_auth_waiting:
                self._sshjobs_auth_waiting = False
                self._sshjobs_auth_started = True
                logger.debug("%s: authentication pipelined with the service request", self._host)
                self._auth_in_progress = True
                begin_auth = getattr(self._owner, "begin_auth", None)  # asyncssh >= 2.20
                if begin_auth is not None:
                    begin_auth(self._username)
                self.try_next_auth()

        def _process_service_accept(self, pkttype: int, pktid: int, packet: Any) -> None:
            self._sshjobs_auth_waiting = False
            if not self._sshjobs_auth_started:
                super()._process_service_accept(pkttype, pktid, packet)
                return
            service = packet.get_string()
            packet.check_end()
            if service != self._next_service:
                raise asyncssh.ServiceNotAvailable("Unexpected service in service accept")
            self._next_service = None

        def try_next_auth(self, *, next_method: bool = False) -> None:
            if (
                not next_method
                and self._sshjobs_fast
                and not self._sshjobs_signed_once
                and self._auth_methods
                and self._auth_methods[0] == b"publickey"
            ):
                self._sshjobs_signed_once = True
                if self._auth:
                    self._auth.cancel()
                self._auth = _DirectPublicKeyAuth(self, b"publickey")
                return
            super().try_next_auth(next_method=next_method)

        def pipelined_auth(self) -> bool:
            """Whether authentication was sent ahead of the service accept."""
            return self._sshjobs_auth_started

        _packet_handlers: ClassVar[dict[int, Any]] = {  # type: ignore[misc]
            **_Connection._packet_handlers,
            _MSG_SERVICE_ACCEPT: _process_service_accept,
            _MSG_EXT_INFO: _process_ext_info,
        }


def _connect_internals() -> tuple[Any, Any] | None:
    """asyncssh's connection opener and the options protocol :func:`connect` relies on."""
    try:
        import inspect

        from asyncssh.connection import SSHClientConnectionOptions, _connect
    except ImportError:
        return None
    expected = ["options", "config", "loop", "flags", "sock", "conn_factory", "msg"]
    if list(inspect.signature(_connect).parameters) != expected:
        return None
    prepare = inspect.signature(SSHClientConnectionOptions.prepare).parameters
    init = inspect.signature(asyncssh.SSHClientConnection.__init__).parameters
    if not {"last_config", "config", "host", "loop"} <= set(prepare) or "wait" not in init:
        return None
    return SSHClientConnectionOptions, _connect


_CONNECT = _connect_internals()


def pipelined(conn: Any) -> bool:
    """Whether ``conn`` (possibly a failed attempt) sent its authentication pipelined."""
    return bool(getattr(conn, "pipelined_auth", lambda: False)())


def _build_options(options_class: Any, base_config: Any, **kwargs: Any) -> Any:
    """Connection options on top of an ssh config already parsed for this host (what
    ``SSHClientConnectionOptions(**kwargs)`` does, with asyncssh's ``last_config``)."""
    options = options_class.__new__(options_class)
    options.kwargs = dict(kwargs, last_config=base_config, config=[])
    options.prepare(**options.kwargs)
    return options


async def connect(
    host: str, *, fast: bool, base_config: Any = None, **kwargs: Any
) -> asyncssh.SSHClientConnection:
    """``asyncssh.connect(host, **kwargs)`` with sshjobs' connection class, ``fast`` for the
    short handshake; options built in the event loop's thread.

    asyncssh builds each connection's options in a worker thread, in case reading config and
    key files blocks. sshjobs hands it keys already loaded, known hosts already parsed and
    the ssh config already parsed for this host (``base_config``, else per-host config files
    of a few lines), so the thread only adds its hand-over and delays the TCP connection; on a
    fan-out, these add up. Here each node's TCP connect leaves right after its options are
    built, so the servers start their side of the handshake while the client prepares the
    next hosts.

    When asyncssh's internals are not the expected ones: ``asyncssh.connect`` itself, and a
    warning (once) if the short handshake was asked for.
    """
    if _CONNECT is None or (fast and _FOUND is None):
        if fast:
            warn_unavailable("its connection internals differ from those sshjobs knows")
        if _CONNECT is None:
            return await asyncssh.connect(host, **kwargs)
        fast = False
    options_class, open_connection = _CONNECT
    connection_class = _FastConnection if fast else _OwnConnection
    loop = asyncio.get_running_loop()
    config = kwargs.pop("config", ())
    if base_config is not None:
        options = _build_options(options_class, base_config, loop=loop, host=host, **kwargs)
        config = []
    else:
        options = options_class(None, loop=loop, host=host, config=config, **kwargs)

    def conn_factory() -> Any:
        return connection_class(loop, options, wait="auth")

    # asyncio.timeout, not wait_for: wait_for would run the connection in a task of its own,
    # so that a fan-out built every host's options before the first TCP connect went out
    async with asyncio.timeout(options.connect_timeout):
        conn: asyncssh.SSHClientConnection = await open_connection(
            options, config, loop, 0, None, conn_factory, "Opening SSH connection to"
        )
    return conn
