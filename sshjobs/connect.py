"""Opening the SSH connection of a node: asyncssh options, gateways, error translation.

Per-process work is done once: ssh config lookups, known_hosts parsing and key loading are
cached; asyncssh is asked for curve25519 key exchange, AES-GCM / ChaCha20-Poly1305 ciphers, no
compression, public-key authentication only (plus password when one is given), and no GSSAPI -
so that a connection costs one handshake and no probing. asyncssh parses the ssh config
files itself, but is given per-host reduced copies of them (:mod:`sshjobs.sshconfig`), so that
a fan-out over N hosts does not parse the whole config N times.

Every failure becomes an :class:`~sshjobs.errors.SshConnectionError` subclass naming the host,
with the asyncssh / OS error chained as ``__cause__``.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncssh
from asyncssh.encryption import get_default_encryption_algs
from asyncssh.kex import get_default_kex_algs

from . import fastpath, handshakes
from .errors import (AuthenticationError, GatewayError, HostKeyError, KeyLoadError,
                     SshConnectionError, SshJobsError)
from .hostkeys import HostKeyVerdict, SshConfigHostKeys
from .keys import KeySet, default_keys, import_private_key
from .sshconfig import file_stamp, reduced_config_paths

if TYPE_CHECKING:
    from .node import SshNode

__all__ = ["open_connection", "config_paths", "config_user", "config_host_keys", "KEX_ALGS",
           "ENCRYPTION_ALGS"]

logger = logging.getLogger("sshjobs.connect")


def _ordered(preferred: list[bytes], defaults: list[bytes], drop_prefix: bytes = b"") -> list:
    rest = [alg for alg in defaults
            if alg not in preferred and not (drop_prefix and alg.startswith(drop_prefix))]
    return [alg.decode() for alg in preferred if alg in defaults] + [a.decode() for a in rest]


KEX_ALGS = _ordered([b"curve25519-sha256", b"curve25519-sha256@libssh.org"],
                    get_default_kex_algs(), drop_prefix=b"gss-")
ENCRYPTION_ALGS = _ordered([b"aes128-gcm@openssh.com", b"chacha20-poly1305@openssh.com",
                            b"aes256-gcm@openssh.com"], get_default_encryption_algs())

_config_cache: dict[tuple, dict[str, Any]] = {}
_unreduced: set[tuple] = set()
_HOST_OPTIONS = ("User", "IdentityFile", "Hostname", "UserKnownHostsFile", "ProxyJump",
                 "ConnectTimeout", "GlobalKnownHostsFile", "StrictHostKeyChecking",
                 "HashKnownHosts")


def _config_class() -> Any:
    """asyncssh's client config, also reading the two host-key options it does not use itself
    (``StrictHostKeyChecking``, ``HashKnownHosts``) with its own value parser - so that they
    are resolved per host with the same Host/Match/Include rules as every other option."""
    global _CONFIG_CLASS
    if _CONFIG_CLASS is None:
        from asyncssh.config import SSHClientConfig, SSHConfig

        class _HostKeyAwareConfig(SSHClientConfig):
            _handlers = {**SSHClientConfig._handlers,
                         "stricthostkeychecking": ("StrictHostKeyChecking",
                                                   SSHConfig._set_bool_or_str),
                         "hashknownhosts": ("HashKnownHosts", SSHConfig._set_bool_or_str)}
        _CONFIG_CLASS = _HostKeyAwareConfig
    return _CONFIG_CLASS


_CONFIG_CLASS: Any = None


def config_paths(config: Any) -> list[str]:
    """ssh config files to honour: ``()`` → ``~/.ssh/config`` if readable; None → none."""
    if config is None:
        return []
    if isinstance(config, (str, os.PathLike)):
        return [str(config)]
    if isinstance(config, (list, tuple)) and config:
        return [str(path) for path in config]
    default = Path("~/.ssh/config").expanduser()
    return [str(default)] if os.access(default, os.R_OK) else []


def _stamp(paths: list[str]) -> tuple:
    return tuple((p, file_stamp(p)) for p in paths)


def asyncssh_config_paths(paths: list[str], host: str) -> list[str]:
    """The config files to give asyncssh for ``host``: copies reduced to the lines that
    concern it (see :mod:`sshjobs.sshconfig`), or the files themselves when the reduced copies
    fail to load (so that asyncssh's error names the user's file and line)."""
    if not paths:
        return []
    hosts = _with_jump_hosts(paths, host)
    stamp = _stamp(paths)
    if any((stamp, name) in _unreduced for name in hosts):
        return list(paths)
    return reduced_config_paths(paths, *hosts)


def _with_jump_hosts(paths: list[str], host: str) -> list[str]:
    """``host`` and the ProxyJump hops the config gives it, transitively: asyncssh resolves
    them from the same config files when it opens that connection."""
    hosts = [host]
    for name in hosts:
        jumps = host_config(paths, name).get("ProxyJump")
        if not isinstance(jumps, str) or len(hosts) > 32:
            continue
        for hop in jumps.split(","):
            hop = hop.rsplit("@", 1)[-1]
            hop = hop.rsplit(":", 1)[0] if ":" in hop else hop
            if hop not in hosts:
                hosts.append(hop)
    return hosts


def host_config(paths: list[str], host: str) -> dict[str, Any]:
    """The options ``~/.ssh/config`` gives for ``host`` (cached per file version)."""
    if not paths:
        return {}
    key = (_stamp(paths), host)
    found = _config_cache.get(key)
    if found is None:
        config_class = _config_class()
        user = getpass.getuser()
        try:
            config = config_class.load(None, reduced_config_paths(paths, host), False,
                                          False, False, user, (), host, ())
            found = {name: config.get(name) for name in _HOST_OPTIONS}
        except (OSError, asyncssh.Error, ValueError):
            _unreduced.add(key)   # let asyncssh see (and report on) the full files
            try:
                config = config_class.load(None, paths, False, False, False,
                                              user, (), host, ())
                found = {name: config.get(name) for name in _HOST_OPTIONS}
            except (OSError, asyncssh.Error, ValueError) as exc:
                logger.warning("cannot read ssh config %s: %s", ", ".join(paths), exc)
                found = {}
        _config_cache[key] = found
    return found


def config_host_keys(paths: list[str], host: str) -> SshConfigHostKeys:
    """What the ssh config says about host keys for ``host`` (StrictHostKeyChecking,
    UserKnownHostsFile, GlobalKnownHostsFile, HashKnownHosts)."""
    found = host_config(paths, host)

    def files(name: str) -> tuple[str, ...] | None:
        value = found.get(name)
        return None if value is None else tuple(str(f) for f in value)

    strict = found.get("StrictHostKeyChecking")
    if isinstance(strict, bool):
        strict = "yes" if strict else "no"
    hashed = found.get("HashKnownHosts")
    return SshConfigHostKeys(
        strict_host_key_checking=strict, user_files=files("UserKnownHostsFile"),
        global_files=files("GlobalKnownHostsFile"),
        hash_known_hosts=hashed is True or str(hashed).lower() == "yes",
        source=", ".join(paths) or "no ssh config")


def config_user(paths: list[str], host: str) -> str | None:
    user = host_config(paths, host).get("User")
    return str(user) if user else None


def _keyset(node: "SshNode") -> KeySet:
    if node._keyset is not None:
        return node._keyset
    identity_files = host_config(node.config_paths, node.hostname).get("IdentityFile")
    if not identity_files:
        return default_keys()
    keyset = KeySet(agent_path=os.environ.get("SSH_AUTH_SOCK") or None)
    for name in identity_files:
        try:
            key = import_private_key(name)
        except KeyLoadError:
            keyset.encrypted.append(str(name))
            continue
        if key is not None:
            keyset.keys.append(key)
    return keyset


class _Client(asyncssh.SSHClient):
    """Connection callbacks: host-key policy, formatter events."""

    def __init__(self, node: "SshNode", verdict: HostKeyVerdict) -> None:
        self._node = node
        self._verdict = verdict
        self._conn: asyncssh.SSHClientConnection | None = None

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self._conn = conn
        if self._node.fast_handshake:
            fastpath.install(conn)

    def pipelined_auth(self) -> bool:
        """Whether this connection sent its authentication ahead of the service accept."""
        return bool(getattr(self._conn, "_sshjobs_auth_started", False))

    def validate_host_public_key(self, host: str, addr: str, port: int, key: Any) -> bool:
        return self._node.host_key_policy.validate(host, addr, port, key, self._verdict)

    def auth_completed(self) -> None:
        self._node.formatter.auth_completed(self._node.hostname, self._node.username)

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            logger.info("%s: connection lost: %s", self._node, exc)
            self._node.formatter.connection_lost(self._node.hostname, exc, self._node.username)


def _new_client(node: "SshNode", verdict: HostKeyVerdict, clients: list[_Client]) -> _Client:
    """A connection's callbacks, kept in ``clients`` so that a failed attempt can be asked how
    far its handshake went."""
    clients.append(_Client(node, verdict))
    return clients[-1]


def _options(node: "SshNode", keyset: KeySet, verdict: HostKeyVerdict,
             clients: list[_Client]) -> dict[str, Any]:
    auth = ["publickey"]
    if node.password is not None:
        auth += ["keyboard-interactive", "password"]
    options: dict[str, Any] = dict(
        port=node.port if node.port else (),
        username=node.username,
        client_factory=lambda: _new_client(node, verdict, clients),
        known_hosts=node.host_key_policy.known_hosts_arg(),
        client_keys=list(keyset.keys) if keyset.keys else ([] if keyset.agent_path else None),
        agent_path=keyset.agent_path,
        agent_identities=None,
        password=node.password,
        preferred_auth=auth,
        config=(node.config_paths if "canonicalize_hostname" in node.connect_options
                else asyncssh_config_paths(node.config_paths, node.hostname)),
        login_timeout=node.timeout,
        keepalive_interval=node.keepalive_interval,
        keepalive_count_max=node.keepalive_count_max,
        kex_algs=KEX_ALGS,
        encryption_algs=ENCRYPTION_ALGS,
        compression_algs=["none"],
        gss_auth=False,
        gss_kex=False,
    )
    options.update(node.connect_options)
    return options


def _translate(exc: BaseException, node: "SshNode", keyset: KeySet,
               verdict: HostKeyVerdict, pipelined: bool = False) -> SshJobsError:
    host, gateway = node.hostname, node.gateway
    where = f"{node.user_host()}" + (f" port {node.port}" if node.port else "")
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        jump = None
        if gateway is None and "tunnel" not in node.connect_options:
            jump = host_config(node.config_paths, node.hostname).get("ProxyJump")
        message = node.host_key_policy.refusal(verdict, host, node.port, exc.reason,
                                               jump if isinstance(jump, str) else None)
        return HostKeyError(message, host=host, received=verdict.received,
                            expected=verdict.expected)
    if isinstance(exc, asyncssh.PermissionDenied):
        return AuthenticationError(f"authentication failed as {node.username} "
                                   f"(offered {keyset.describe()}); check the user name and "
                                   f"that one of these keys is in its authorized_keys",
                                   host=host)
    if isinstance(exc, asyncssh.ChannelOpenError) and gateway is not None:
        return GatewayError(f"gateway {gateway.hostname} cannot open a tunnel to {where}: "
                            f"{exc.reason}", host=host, gateway=gateway.hostname)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return SshConnectionError(f"timed out after {_timeout_text(node)} connecting to {where}",
                                  host=host)
    if isinstance(exc, ConnectionRefusedError):
        return SshConnectionError(f"connection refused by {where}", host=host)
    if isinstance(exc, socket.gaierror):
        return SshConnectionError(f"unknown host name {host!r} ({exc.strerror})", host=host)
    if isinstance(exc, OSError):
        return SshConnectionError(f"cannot connect to {where}: "
                                  f"{exc.strerror or exc}", host=host)
    hint = ("; if this server mishandles pipelined authentication, connect with "
            "SSHJOBS_FAST_HANDSHAKE=0 (SshNode(fast_handshake=False))") if pipelined else ""
    if isinstance(exc, asyncssh.Error):
        return SshConnectionError(f"SSH error with {where}: {exc.reason}{hint}", host=host)
    return SshConnectionError(f"cannot connect to {where}: {type(exc).__name__}: {exc}",
                              host=host)


def _timeout_text(node: "SshNode") -> str:
    """The connect timeout that applied: the node's, or a shorter ``ConnectTimeout`` from the
    ssh config (asyncssh honours it), named as such so that the user knows where to change it."""
    configured = host_config(node.config_paths, node.hostname).get("ConnectTimeout")
    if isinstance(configured, (int, float)) and 0 < configured < node.timeout:
        return f"{configured:g}s (ConnectTimeout in {', '.join(node.config_paths)})"
    return f"{node.timeout:g}s"


async def open_connection(node: "SshNode") -> asyncssh.SSHClientConnection:
    """Open ``node``'s connection (through its gateway's connection if it has one)."""
    tunnel: Any = ()
    gateway = node.gateway
    if gateway is not None:
        gateway.add_user(node)
        try:
            tunnel = await gateway.connect_lazy()
        except SshJobsError as exc:
            await gateway.remove_user(node)
            raise GatewayError(f"cannot reach {node.hostname} through gateway "
                               f"{gateway.hostname}: {exc}", host=node.hostname,
                               gateway=gateway.hostname) from exc
    keyset = _keyset(node)
    verdict = HostKeyVerdict()
    clients: list[_Client] = []
    try:
        async with handshakes.slots().turn(), asyncio.timeout(node.timeout):
            opener = fastpath.connect if node.fast_handshake else asyncssh.connect
            conn = await opener(node.hostname, tunnel=tunnel,
                                **_options(node, keyset, verdict, clients))
    except Exception as exc:  # every failure becomes ours, naming the host
        if gateway is not None:
            await gateway.remove_user(node)
        pipelined = bool(clients) and clients[-1].pipelined_auth()
        raise _translate(exc, node, keyset, verdict, pipelined) from exc
    except BaseException:
        if gateway is not None:
            gateway._users.discard(node)
        raise
    logger.debug("%s: connected", node)
    node.formatter.connection_made(node.hostname, node.username, gateway is None)
    return conn
