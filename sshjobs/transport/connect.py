"""Opening one SSH connection with a node's resolved options (optionally through a tunnel).

asyncssh is asked for curve25519 key exchange, AES-GCM / ChaCha20-Poly1305 ciphers, no
compression, public-key authentication only (plus password when one is given), and no GSSAPI -
so that a connection costs one handshake and no probing. Keys, known hosts and the ssh config
come already loaded and parsed (:mod:`.options`, :mod:`.hostconfig`, :mod:`.hostkeys`: cached
per process). At most a bounded number of handshakes run at once (:mod:`.handshakes`).

Every failure becomes an :class:`~sshjobs.errors.SshConnectionError` subclass naming the host
(:mod:`.failures`), with the asyncssh / OS error chained as ``__cause__``. Who shares the
connection, and gateways, are the business of :class:`sshjobs.connection.Connection`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

import asyncssh
from asyncssh.encryption import get_default_encryption_algs
from asyncssh.kex import get_default_kex_algs

from . import fastpath, handshakes
from .failures import connection_failure
from .hostconfig import asyncssh_config_paths, parsed_config
from .hostkeys import HostKeyVerdict
from .options import ConnectOptions

__all__ = ["ENCRYPTION_ALGS", "KEX_ALGS", "ConnectionEvents", "open_connection"]

logger = logging.getLogger(__name__)


class ConnectionEvents(Protocol):
    """Who is told of a connection's life (a node's formatter, in apssh's terms)."""

    def connection_made(self, hostname: str, username: str | None, direct: bool) -> None: ...

    def auth_completed(self, hostname: str, username: str | None) -> None: ...

    def connection_lost(
        self, hostname: str, exc: BaseException | None, username: str | None
    ) -> None: ...


def _ordered(preferred: list[bytes], defaults: list[bytes], drop_prefix: bytes = b"") -> list[str]:
    rest = [
        alg
        for alg in defaults
        if alg not in preferred and not (drop_prefix and alg.startswith(drop_prefix))
    ]
    return [alg.decode() for alg in preferred if alg in defaults] + [a.decode() for a in rest]


KEX_ALGS = _ordered(
    [b"curve25519-sha256", b"curve25519-sha256@libssh.org"],
    get_default_kex_algs(),
    drop_prefix=b"gss-",
)
ENCRYPTION_ALGS = _ordered(
    [b"aes128-gcm@openssh.com", b"chacha20-poly1305@openssh.com", b"aes256-gcm@openssh.com"],
    get_default_encryption_algs(),
)


class _Client(asyncssh.SSHClient):
    """Connection callbacks: host-key policy, events."""

    def __init__(
        self, options: ConnectOptions, events: ConnectionEvents, verdict: HostKeyVerdict
    ) -> None:
        self._options = options
        self._events = events
        self._verdict = verdict
        self._conn: asyncssh.SSHClientConnection | None = None

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self._conn = conn

    def pipelined_auth(self) -> bool:
        """Whether this connection sent its authentication ahead of the service accept."""
        return fastpath.pipelined(self._conn)

    def validate_host_public_key(self, host: str, addr: str, port: int, key: Any) -> bool:
        return self._options.host_key_policy.validate(host, addr, port, key, self._verdict)

    def auth_completed(self) -> None:
        self._events.auth_completed(self._options.hostname, self._options.username)

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            logger.info("%s: connection lost: %s", self._options.user_host(), exc)
            self._events.connection_lost(self._options.hostname, exc, self._options.username)


def _asyncssh_options(options: ConnectOptions, client_factory: Any, tunnel: Any) -> dict[str, Any]:
    """The keywords of ``asyncssh.connect`` (the node's ``connect_options`` win)."""
    keyset = options.keyset
    auth = ["publickey"]
    if options.password is not None:
        auth += ["keyboard-interactive", "password"]
    kwargs: dict[str, Any] = dict(
        port=options.port if options.port else (),
        username=options.username,
        client_factory=client_factory,
        known_hosts=options.host_key_policy.known_hosts_arg(),
        client_keys=list(keyset.keys) if keyset.keys else ([] if keyset.agent_path else None),
        agent_path=keyset.agent_path,
        agent_identities=None,
        password=options.password,
        preferred_auth=auth,
        config=_config_arg(options),
        login_timeout=options.timeout,
        keepalive_interval=options.keepalive_interval,
        keepalive_count_max=options.keepalive_count_max,
        kex_algs=KEX_ALGS,
        encryption_algs=ENCRYPTION_ALGS,
        compression_algs=["none"],
        gss_auth=False,
        gss_kex=False,
        tunnel=tunnel if tunnel is not None else (),
    )
    kwargs.update(options.connect_options)
    return kwargs


def _config_arg(options: ConnectOptions) -> Any:
    """What asyncssh is given of the ssh config: the files when it canonicalises host names
    (it reads them again for the canonical name), else the per-host reduced copies."""
    paths = list(options.config_paths)
    if "canonicalize_hostname" in options.connect_options:
        return paths
    return asyncssh_config_paths(paths, options.hostname)


def _base_config(options: ConnectOptions) -> Any:
    """The ssh config already parsed for this host, when asyncssh can take it as it is."""
    if "canonicalize_hostname" in options.connect_options or "config" in options.connect_options:
        return None
    return parsed_config(list(options.config_paths), options.hostname)


async def open_connection(
    options: ConnectOptions,
    events: ConnectionEvents,
    tunnel: asyncssh.SSHClientConnection | None = None,
) -> asyncssh.SSHClientConnection:
    """Open a connection to ``options.hostname`` (through ``tunnel``, a gateway's connection,
    when given); every failure raised as an :class:`~sshjobs.errors.SshJobsError`."""
    verdict = HostKeyVerdict()
    clients: list[_Client] = []

    def new_client() -> _Client:
        # kept, so that a failed attempt can be asked how far its handshake went
        clients.append(_Client(options, events, verdict))
        return clients[-1]

    try:
        async with handshakes.slots().turn(), asyncio.timeout(options.timeout):
            conn = await fastpath.connect(
                options.hostname,
                fast=options.fast_handshake,
                base_config=_base_config(options),
                **_asyncssh_options(options, new_client, tunnel),
            )
    except Exception as exc:  # every failure becomes ours, naming the host
        pipelined = bool(clients) and clients[-1].pipelined_auth()
        raise connection_failure(exc, options, verdict, pipelined) from exc
    logger.debug("%s: connected", options.user_host())
    events.connection_made(options.hostname, options.username, tunnel is None)
    return conn
