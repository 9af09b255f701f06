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
- the first public key is offered signed, so a server that accepts it logs in at once; later
  keys (the first was refused, so guessing is no longer likely to pay) are asked about first,
  as are security-key (``sk-``) keys, whose signature needs a touch;
- the packets a connection sends during one turn of the event loop leave in one write, not one
  per packet, which saves system calls here and wake-ups on the server;
- asyncssh precedes every encrypted packet with an empty ``IGNORE`` packet, a defence for CBC
  ciphers (RFC 4251 §9.3.1); with the AES-GCM, ChaCha20-Poly1305 or CTR ciphers negotiated
  here it only costs an encryption on each side, so it is left out (kept with CBC).

OpenSSH servers process these pipelined requests in order, as RFC 4253 allows. This works on
asyncssh internals: :data:`AVAILABLE` says whether the installed asyncssh has them (the test
suite checks, against a real sshd, that the handshake is the short one), and
``SSHJOBS_FAST_HANDSHAKE=0`` or ``SshNode(fast_handshake=False)`` restores asyncssh's own.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any, ClassVar

import asyncssh

logger = logging.getLogger(__name__)

__all__ = ["AVAILABLE", "connect", "enabled_by_default", "install"]

_USERAUTH_SERVICE = b"ssh-userauth"
_FLUSH_AT = 64 * 1024       # bytes held before a write goes out anyway


def _internals() -> tuple[Any, ...] | None:
    """What this module relies on in asyncssh, or None if any of it is missing."""
    try:
        from asyncssh.auth import _ClientPublicKeyAuth
        from asyncssh.connection import SSHClientConnection
        from asyncssh.constants import MSG_EXT_INFO, MSG_IGNORE, MSG_SERVICE_ACCEPT
        from asyncssh.packet import Boolean, String
    except ImportError:
        return None
    handlers = getattr(SSHClientConnection, "_packet_handlers", {})
    needed = [(SSHClientConnection, name) for name in (
        "send_service_request", "try_next_auth", "_process_service_accept",
        "_process_ext_info", "send_packet")] + [(_ClientPublicKeyAuth, name) for name in (
            "_start", "_send_signed_request")]
    if (all(hasattr(owner, name) for owner, name in needed)
            and MSG_SERVICE_ACCEPT in handlers and MSG_EXT_INFO in handlers):
        return (SSHClientConnection, _ClientPublicKeyAuth, MSG_SERVICE_ACCEPT, MSG_EXT_INFO,
                MSG_IGNORE, Boolean, String)
    return None


_FOUND = _internals()
#: whether the installed asyncssh has the internals the short handshake needs
AVAILABLE = _FOUND is not None


def enabled_by_default() -> bool:
    """The short handshake is used unless ``SSHJOBS_FAST_HANDSHAKE`` is ``0``/``no``/``off``."""
    return os.environ.get("SSHJOBS_FAST_HANDSHAKE", "1").strip().lower() not in (
        "0", "no", "off", "false")


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
        try:
            self._transport.write(data)
        except ConnectionError:     # the loss is reported by connection_lost
            pass

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self.flush()     # unbuffered, these bytes would already be in the kernel
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


if _FOUND is not None:
    (_Connection, _PublicKeyAuth, _MSG_SERVICE_ACCEPT, _MSG_EXT_INFO, _MSG_IGNORE, _Boolean,
     _String) = _FOUND
    _EMPTY_IGNORE = (_String(b""),)

    class _DirectPublicKeyAuth(_PublicKeyAuth):   # type: ignore[misc, valid-type]
        """Public-key auth that signs its first key at once instead of asking first."""

        async def _start(self) -> None:
            self._keypair = await self._conn.public_key_auth_requested()
            if self._keypair is None:
                self._conn.try_next_auth(next_method=True)
                return
            if self._keypair.algorithm.startswith(b"sk-"):
                await self.send_request(_Boolean(False), _String(self._keypair.algorithm),
                                        _String(self._keypair.public_data))
                return
            await self._send_signed_request()

    class _FastConnection(_Connection):   # type: ignore[misc, valid-type]
        """asyncssh's client connection with the short handshake (see the module doc)."""

        _sshjobs_auth_waiting = False     # the service was asked for, auth not started yet
        _sshjobs_auth_started = False     # auth started without waiting for the service
        _sshjobs_signed_once = False

        def send_packet(self, pkttype: int, *args: bytes, handler: Any = None) -> None:
            # asyncssh puts an empty IGNORE before every encrypted packet: a defence of CBC
            # ciphers (RFC 4251 9.3.1) that AEAD and CTR modes do not need
            if (pkttype == _MSG_IGNORE and args == _EMPTY_IGNORE
                    and not self._enc_alg_cs.endswith(b"-cbc")):
                return
            super().send_packet(pkttype, *args, handler=handler)

        def send_service_request(self, service: bytes) -> None:
            super().send_service_request(service)
            if service == _USERAUTH_SERVICE and not self._auth_in_progress:
                self._sshjobs_auth_waiting = True

        def _process_ext_info(self, pkttype: int, pktid: int, packet: Any) -> None:
            super()._process_ext_info(pkttype, pktid, packet)
            if self._sshjobs_auth_waiting:
                self._sshjobs_auth_waiting = False
                self._sshjobs_auth_started = True
                logger.debug("%s: authentication pipelined with the service request",
                             self._host)
                self._auth_in_progress = True
                if self._owner:
                    self._owner.begin_auth(self._username)
                self.try_next_auth()

        def _process_service_accept(self, pkttype: int, pktid: int, packet: Any) -> None:
            self._sshjobs_auth_waiting = False
            if not self._sshjobs_auth_started:
                super()._process_service_accept(pkttype, pktid, packet)
                return
            service = packet.get_string()
            packet.check_end()
            if service != self._next_service:  # type: ignore[has-type]
                raise asyncssh.ServiceNotAvailable("Unexpected service in service accept")
            self._next_service = None

        def try_next_auth(self, *, next_method: bool = False) -> None:
            if (not next_method and not self._sshjobs_signed_once and self._auth_methods
                    and self._auth_methods[0] == b"publickey"):
                self._sshjobs_signed_once = True
                if self._auth:  # type: ignore[has-type]
                    self._auth.cancel()  # type: ignore[has-type]
                self._auth = _DirectPublicKeyAuth(self, b"publickey")
                return
            super().try_next_auth(next_method=next_method)

        _packet_handlers: ClassVar[dict[int, Any]] = {
            **_Connection._packet_handlers,
            _MSG_SERVICE_ACCEPT: _process_service_accept,
            _MSG_EXT_INFO: _process_ext_info,
        }


def _connect_internals() -> tuple[Any, Any, Any] | None:
    try:
        import inspect

        from asyncssh.connection import SSHClientConnection, SSHClientConnectionOptions, _connect
    except ImportError:
        return None
    expected = ["options", "config", "loop", "flags", "sock", "conn_factory", "msg"]
    if list(inspect.signature(_connect).parameters) != expected:
        return None
    return SSHClientConnection, SSHClientConnectionOptions, _connect


_CONNECT = _connect_internals()


async def connect(host: str, **kwargs: Any) -> asyncssh.SSHClientConnection:
    """``asyncssh.connect(host, **kwargs)``, with the options built in the event loop's thread.

    asyncssh builds each connection's options in a worker thread, in case reading config and
    key files blocks. sshjobs hands it keys already loaded, known hosts already parsed and
    per-host config files of a few lines, so the thread only adds its hand-over (about half the
    cost of building the options) and delays the TCP connection; on a fan-out, these add up.
    Here each node's TCP connect leaves right after its options are built, so the servers
    start their side of the handshake while the client prepares the next hosts.
    Falls back to ``asyncssh.connect`` when asyncssh's internals are not the expected ones.
    """
    if _CONNECT is None:
        return await asyncssh.connect(host, **kwargs)
    connection_class, options_class, open_connection = _CONNECT
    loop = asyncio.get_running_loop()
    config = kwargs.pop("config", ())
    options = options_class(None, loop=loop, host=host, config=config, **kwargs)

    def conn_factory() -> Any:
        return connection_class(loop, options, wait="auth")

    # asyncio.timeout, not wait_for: wait_for would run the connection in a task of its own,
    # so that a fan-out built every host's options before the first TCP connect went out
    async with asyncio.timeout(options.connect_timeout):
        return await open_connection(options, config, loop, 0, None, conn_factory,
                                     "Opening SSH connection to")


def install(conn: asyncssh.SSHClientConnection) -> bool:
    """Give a client connection that has not started its handshake the short one.

    Called from the client's ``connection_made``, before asyncssh sends its version string.
    Returns False (and changes nothing) when the installed asyncssh lacks what is needed.
    """
    if _FOUND is None or type(conn) is not _Connection:
        return False
    conn.__class__ = _FastConnection
    preferred = list(conn._preferred_auth or [])
    conn._auth_methods = [m for m in preferred if m != b"none"] + [b"none"]
    transport = conn._transport
    if transport is not None and not isinstance(transport, _CorkedTransport):
        corked: Any = _CorkedTransport(transport, asyncio.get_running_loop())
        conn._transport = corked
    return True
