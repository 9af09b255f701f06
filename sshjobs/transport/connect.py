"""Opening the SSH connection of a node: asyncssh options, gateways, error translation.

Per-process work is done once: ssh config lookups, known_hosts parsing and key loading are
cached; asyncssh is asked for curve25519 key exchange, AES-GCM / ChaCha20-Poly1305 ciphers, no
compression, public-key authentication only (plus password when one is given), and no GSSAPI -
so that a connection costs one handshake and no probing. asyncssh parses the ssh config
files itself, but is given per-host reduced copies of them
(:mod:`sshjobs.transport.sshconfig`), so that a fan-out over N hosts does not parse the whole
config N times.

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
from typing import TYPE_CHECKING, Any, Protocol

import asyncssh
from asyncssh.encryption import get_default_encryption_algs
from asyncssh.kex import get_default_kex_algs

from ..errors import (
    AuthenticationError,
    GatewayError,
    HostKeyError,
    KeyLoadError,
    SshConnectionError,
    SshJobsError,
)
from ..keys import KeySet, default_keys, load_key_file
from . import fastpath, handshakes
from .hostkeys import HostKeyVerdict, SshConfigHostKeys
from .sshconfig import config_tokens, file_stamp, reduced_config_paths

if TYPE_CHECKING:
    from ..formatters import Formatter
    from .hostkeys import HostKeyPolicy

__all__ = [
    "ENCRYPTION_ALGS",
    "KEX_ALGS",
    "config_host_keys",
    "config_paths",
    "config_user",
    "open_connection",
]

logger = logging.getLogger(__name__)


class Endpoint(Protocol):
    """What opening a connection reads of a node (:class:`sshjobs.node.SshNode` is one): the
    transport depends on this interface, not on the node module."""

    hostname: str
    port: int | None
    username: str
    password: str | None
    passphrase: str | bytes | None
    timeout: float
    keepalive_interval: float
    keepalive_count_max: int
    config_paths: list[str]
    connect_options: dict[str, Any]
    fast_handshake: bool
    host_key_policy: HostKeyPolicy
    formatter: Formatter

    @property
    def gateway(self) -> Gateway | None: ...

    def explicit_keyset(self) -> KeySet | None: ...

    def user_host(self) -> str: ...


class Gateway(Endpoint, Protocol):
    """A node other nodes connect through: it counts them as users of its connection."""

    def add_user(self, user: Any) -> None: ...

    def release_user(self, user: Any) -> None: ...

    async def remove_user(self, user: Any) -> None: ...

    async def connect_lazy(self) -> asyncssh.SSHClientConnection: ...


def _ordered(preferred: list[bytes], defaults: list[bytes], drop_prefix: bytes = b"") -> list:
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

_config_cache: dict[tuple, tuple[dict[str, Any], Any]] = {}
_unreduced: set[tuple] = set()
_HOST_OPTIONS = (
    "User",
    "IdentityFile",
    "Hostname",
    "UserKnownHostsFile",
    "ProxyJump",
    "ConnectTimeout",
    "Port",
    "GlobalKnownHostsFile",
    "StrictHostKeyChecking",
    "HashKnownHosts",
)


def _config_class() -> Any:
    """asyncssh's client config, also reading the two host-key options it does not use itself
    (``StrictHostKeyChecking``, ``HashKnownHosts``) with its own value parser - so that they
    are resolved per host with the same Host/Match/Include rules as every other option."""
    global _CONFIG_CLASS
    if _CONFIG_CLASS is None:
        from asyncssh.config import SSHClientConfig

        class _HostKeyAwareConfig(SSHClientConfig):
            _handlers = {  # noqa: RUF012  replaces asyncssh's class-level table, never mutated
                **SSHClientConfig._handlers,
                "stricthostkeychecking": ("StrictHostKeyChecking", _set_yes_no_or_word),
                "hashknownhosts": ("HashKnownHosts", _set_yes_no_or_word),
            }

        _CONFIG_CLASS = _HostKeyAwareConfig
    return _CONFIG_CLASS


_CONFIG_CLASS: Any = None


def _set_yes_no_or_word(config: Any, option: str, args: list[str]) -> None:
    """A config setter in asyncssh's form: yes/true and no/false as booleans, any other word
    as it is (``accept-new``, ``ask``...); the first value seen wins, as in OpenSSH. Ours, since
    asyncssh's own ``_set_bool_or_str`` exists only from 2.20 (the floor is 2.19)."""
    word = args.pop(0)
    lower = word.lower()
    value: bool | str = (
        True if lower in ("yes", "true") else False if lower in ("no", "false") else word
    )
    config._options.setdefault(option, value)


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
    concern it (see :mod:`sshjobs.transport.sshconfig`), or the files themselves when the reduced
    copies fail to load (so that asyncssh's error names the user's file and line)."""
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


def _load_config(paths: list[str], host: str) -> Any:
    return _config_class().load(None, paths, False, False, False, getpass.getuser(), (), host, ())


def _parsed(paths: list[str], host: str) -> tuple[dict[str, Any], Any]:
    """The options ``~/.ssh/config`` gives for ``host``, and asyncssh's parse of the config
    when asyncssh can be handed it as it is (else None), cached per file version."""
    key = (_stamp(paths), host)
    found = _config_cache.get(key)
    if found is None:
        built = _config_from_tokens(paths, host)
        if built is not None:
            found = (
                {name: built.get(name) for name in _HOST_OPTIONS},
                None if _jumps(built) else built,
            )
            _config_cache[key] = found
            return found
        reduced = reduced_config_paths(paths, host)
        try:
            config = _load_config(reduced, host)
            found = (
                {name: config.get(name) for name in _HOST_OPTIONS},
                config if _reusable(paths, reduced, config) else None,
            )
        except (OSError, asyncssh.Error, ValueError):
            _unreduced.add(key)  # let asyncssh see (and report on) the full files
            try:
                config = _load_config(paths, host)
                found = ({name: config.get(name) for name in _HOST_OPTIONS}, None)
            except (OSError, asyncssh.Error, ValueError) as exc:
                logger.warning("cannot read ssh config %s: %s", ", ".join(paths), exc)
                found = ({}, None)
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
        strict_host_key_checking=strict,
        user_files=files("UserKnownHostsFile"),
        global_files=files("GlobalKnownHostsFile"),
        hash_known_hosts=hashed is True or str(hashed).lower() == "yes",
        source=", ".join(paths) or "no ssh config",
    )


def _jumps(config: Any) -> bool:
    return bool(config.get("ProxyJump") or config.get("ProxyCommand"))


def _config_from_tokens(paths: list[str], host: str) -> Any:
    """asyncssh's config object for ``host``, built from the lines of the config files that
    concern it as tokenised once per file version (:func:`~.sshconfig.config_tokens`), each
    handed to asyncssh's own option handler in file order, as its parser does - without
    reading and tokenising the files again for every host. None when asyncssh must parse the
    files itself: files it would read differently (``Match``, ``Include``...), ``%`` tokens
    or ``${...}`` variables, lines kept whole (``ProxyCommand``), or anything it objects to
    (it then reports the error from the files)."""
    config_class = _config_class()
    tokens = config_tokens(paths, host)
    handlers = getattr(config_class, "_handlers", None)
    conditionals = getattr(config_class, "_conditionals", None)
    whole_lines = getattr(config_class, "_no_split", None)
    if tokens is None or handlers is None or conditionals is None or whole_lines is None:
        return None
    for keyword, args in tokens:
        if keyword in whole_lines or any("%" in arg or "${" in arg for arg in args):
            return None
    try:
        config = _load_config([], host)
        if not hasattr(config, "_matching"):
            return None
        for keyword, args in tokens:
            if not config._matching and keyword not in conditionals:
                continue
            entry = handlers.get(keyword)
            if entry is None:
                continue
            option, handler = entry
            remaining = list(args)
            if not remaining:
                return None
            handler(config, option, remaining)
            if remaining:
                return None
    except (asyncssh.Error, ValueError, TypeError):
        return None
    return config


def _reusable(paths: list[str], reduced: list[str], config: Any) -> bool:
    """Whether asyncssh, given ``config`` (parsed for the host with no user or port) as its
    ``last_config``, resolves the same options as from the files with the node's user and
    port: yes when the files were reduced (no ``Match``, ``Include``, canonicalisation), no
    ``%`` token (some depend on the user or port) and no ``ProxyJump`` (its hops read the
    files again)."""
    if any(r == p for r, p in zip(reduced, paths, strict=False)) or _jumps(config):
        return False
    for path in reduced:
        try:
            with open(path) as file:
                if "%" in file.read():
                    return False
        except OSError:
            return False
    return True


def host_config(paths: list[str], host: str) -> dict[str, Any]:
    """The options ``~/.ssh/config`` gives for ``host`` (cached per file version)."""
    return _parsed(paths, host)[0] if paths else {}


def parsed_config(paths: list[str], host: str) -> Any:
    """asyncssh's parse of the ssh config for ``host``, to hand it over instead of the files
    (one parse per host instead of two), or None when it must read the files itself."""
    return _parsed(paths, host)[1] if paths else None


def config_known_hosts(paths: list[str], host: str) -> list[str]:
    """``UserKnownHostsFile`` entries ``~/.ssh/config`` gives for ``host``."""
    files = host_config(paths, host).get("UserKnownHostsFile") or []
    return [str(Path(f).expanduser()) for f in files if f and f != "/dev/null"]


def config_user(paths: list[str], host: str) -> str | None:
    user = host_config(paths, host).get("User")
    return str(user) if user else None


def _keyset(node: Endpoint) -> KeySet:
    """What ``node`` offers: its explicit keys, else the ``IdentityFile`` entries of the ssh
    config for its host (with the agent), else the default keys."""
    given = node.explicit_keyset()
    if given is not None:
        return given
    identity_files = host_config(node.config_paths, node.hostname).get("IdentityFile")
    if not identity_files:
        return default_keys(node.passphrase)
    keyset = KeySet(agent_path=os.environ.get("SSH_AUTH_SOCK") or None)
    for name in identity_files:
        try:
            key = load_key_file(name, node.passphrase)
        except KeyLoadError:
            keyset.encrypted.append(str(name))
            continue
        if key is not None:
            keyset.keys.append(key)
    return keyset


class _Client(asyncssh.SSHClient):
    """Connection callbacks: host-key policy, formatter events."""

    def __init__(self, node: Endpoint, verdict: HostKeyVerdict) -> None:
        self._node = node
        self._verdict = verdict
        self._conn: asyncssh.SSHClientConnection | None = None

    def connection_made(self, conn: asyncssh.SSHClientConnection) -> None:
        self._conn = conn

    def pipelined_auth(self) -> bool:
        """Whether this connection sent its authentication ahead of the service accept."""
        return fastpath.pipelined(self._conn)

    def validate_host_public_key(self, host: str, addr: str, port: int, key: Any) -> bool:
        return self._node.host_key_policy.validate(host, addr, port, key, self._verdict)

    def auth_completed(self) -> None:
        self._node.formatter.auth_completed(self._node.hostname, self._node.username)

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            logger.info("%s: connection lost: %s", self._node, exc)
            self._node.formatter.connection_lost(self._node.hostname, exc, self._node.username)


def _new_client(node: Endpoint, verdict: HostKeyVerdict, clients: list[_Client]) -> _Client:
    """A connection's callbacks, kept in ``clients`` so that a failed attempt can be asked how
    far its handshake went."""
    clients.append(_Client(node, verdict))
    return clients[-1]


def _options(
    node: Endpoint, keyset: KeySet, verdict: HostKeyVerdict, clients: list[_Client]
) -> dict[str, Any]:
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
        config=_config_arg(node),
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


def _config_arg(node: Endpoint) -> Any:
    """What asyncssh is given of the ssh config: the files when it canonicalises host names
    (it reads them again for the canonical name), else the per-host reduced copies."""
    if "canonicalize_hostname" in node.connect_options:
        return node.config_paths
    return asyncssh_config_paths(node.config_paths, node.hostname)


def _base_config(node: Endpoint) -> Any:
    """The ssh config already parsed for this host, when asyncssh can take it as it is."""
    if "canonicalize_hostname" in node.connect_options or "config" in node.connect_options:
        return None
    return parsed_config(node.config_paths, node.hostname)


def _translate(
    exc: BaseException,
    node: Endpoint,
    keyset: KeySet,
    verdict: HostKeyVerdict,
    pipelined: bool = False,
) -> SshJobsError:
    host, gateway = node.hostname, node.gateway
    where = f"{node.user_host()}" + (f" port {node.port}" if node.port else "")
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        jump = None
        if gateway is None and "tunnel" not in node.connect_options:
            jump = host_config(node.config_paths, node.hostname).get("ProxyJump")
        message = node.host_key_policy.refusal(
            verdict, host, node.port, exc.reason, jump if isinstance(jump, str) else None
        )
        return HostKeyError(
            message, host=host, received=verdict.received, expected=verdict.expected
        )
    if isinstance(exc, asyncssh.PermissionDenied) and node.password is not None:
        return AuthenticationError(
            f"authentication failed as {node.username}: the password "
            f"was refused (and no key accepted: offered "
            f"{keyset.describe()}); check the user name and password",
            host=host,
        )
    if isinstance(exc, asyncssh.PermissionDenied):
        return AuthenticationError(
            f"authentication failed as {node.username} "
            f"(offered {keyset.describe()}); check the user name and "
            f"that one of these keys is in its authorized_keys",
            host=host,
        )
    if _too_many_attempts(exc):
        # the server gave up after MaxAuthTries refused keys: the same without pipelining
        return AuthenticationError(
            f"authentication failed as {node.username}: the server "
            f"closed the connection after too many refused keys "
            f"(offered {keyset.describe()}); offer only the right key "
            f"(sshjobs -i KEY, SshNode(keys=[...]))",
            host=host,
        )
    if isinstance(exc, asyncssh.ChannelOpenError) and gateway is not None:
        return GatewayError(
            f"gateway {gateway.hostname} cannot open a tunnel to {where}: {exc.reason}",
            host=host,
            gateway=gateway.hostname,
        )
    jump = _config_jump(node) if gateway is None else None
    translated = _translate_jump(exc, node, jump, where) if jump is not None else None
    if translated is not None:
        return translated
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return SshConnectionError(
            f"timed out after {_timeout_text(node)} connecting to {where}", host=host
        )
    if isinstance(exc, ConnectionRefusedError):
        return SshConnectionError(f"connection refused by {where}", host=host)
    if isinstance(exc, socket.gaierror):
        return SshConnectionError(f"unknown host name {host!r} ({exc.strerror})", host=host)
    if isinstance(exc, OSError):
        return SshConnectionError(f"cannot connect to {where}: {exc.strerror or exc}", host=host)
    hint = (
        (
            "; if this server mishandles pipelined authentication, connect with "
            "SSHJOBS_FAST_HANDSHAKE=0 (SshNode(fast_handshake=False))"
        )
        if pipelined
        else ""
    )
    if isinstance(exc, asyncssh.Error):
        return SshConnectionError(f"SSH error with {where}: {exc.reason}{hint}", host=host)
    return SshConnectionError(f"cannot connect to {where}: {type(exc).__name__}: {exc}", host=host)


def _config_jump(node: Endpoint) -> str | None:
    """The ProxyJump the ssh config gives the node (asyncssh follows it by itself)."""
    jump = host_config(node.config_paths, node.hostname).get("ProxyJump")
    if isinstance(jump, str) and jump and jump.lower() != "none":
        return jump
    return None


def _translate_jump(
    exc: BaseException, node: Endpoint, jump: str, where: str
) -> SshJobsError | None:
    """Errors of a connection through a ProxyJump of the ssh config, naming the jump host: a
    TCP failure is the first hop's (later hops are tunnels), a refused tunnel the jump host's."""
    host = node.hostname
    first = jump.split(",")[0]
    origin = f"ProxyJump {jump} (ssh config of {host})"
    if isinstance(exc, asyncssh.ChannelOpenError):
        return GatewayError(
            f"jump host {jump} cannot open a tunnel to {where}: {exc.reason} ({origin})",
            host=host,
            gateway=jump,
        )
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return GatewayError(
            f"timed out after {_timeout_text(node)} connecting to {where} "
            f"through jump host {jump} ({origin})",
            host=host,
            gateway=jump,
        )
    if isinstance(exc, ConnectionRefusedError):
        return GatewayError(
            f"cannot reach {host}: connection refused by jump host {first} ({origin})",
            host=host,
            gateway=first,
        )
    if isinstance(exc, socket.gaierror):
        return GatewayError(
            f"cannot reach {host}: unknown jump host name {first!r} ({exc.strerror}; {origin})",
            host=host,
            gateway=first,
        )
    if isinstance(exc, OSError):
        return GatewayError(
            f"cannot reach {host}: cannot connect to jump host {first}: "
            f"{exc.strerror or exc} ({origin})",
            host=host,
            gateway=first,
        )
    return None


def _too_many_attempts(exc: BaseException) -> bool:
    """The server's disconnection after too many authentication attempts (OpenSSH's
    MaxAuthTries, sent as a protocol error with this reason)."""
    return (
        isinstance(exc, asyncssh.DisconnectError)
        and "too many authentication failures" in str(exc.reason).lower()
    )


def _timeout_text(node: Endpoint) -> str:
    """The connect timeout that applied: the node's, or a shorter ``ConnectTimeout`` from the
    ssh config (asyncssh honours it), named as such so that the user knows where to change it."""
    configured = host_config(node.config_paths, node.hostname).get("ConnectTimeout")
    if isinstance(configured, (int, float)) and 0 < configured < node.timeout:
        return f"{configured:g}s (ConnectTimeout in {', '.join(node.config_paths)})"
    return f"{node.timeout:g}s"


async def open_connection(node: Endpoint) -> asyncssh.SSHClientConnection:
    """Open ``node``'s connection (through its gateway's connection if it has one)."""
    tunnel: Any = ()
    gateway = node.gateway
    if gateway is not None:
        gateway.add_user(node)
        try:
            tunnel = await gateway.connect_lazy()
        except SshJobsError as exc:
            await gateway.remove_user(node)
            raise GatewayError(
                f"cannot reach {node.hostname} through gateway {gateway.hostname}: {exc}",
                host=node.hostname,
                gateway=gateway.hostname,
            ) from exc
    keyset = _keyset(node)
    verdict = HostKeyVerdict()
    clients: list[_Client] = []
    try:
        async with handshakes.slots().turn(), asyncio.timeout(node.timeout):
            conn = await fastpath.connect(
                node.hostname,
                fast=node.fast_handshake,
                base_config=_base_config(node),
                tunnel=tunnel,
                **_options(node, keyset, verdict, clients),
            )
    except Exception as exc:  # every failure becomes ours, naming the host
        if gateway is not None:
            await gateway.remove_user(node)
        pipelined = bool(clients) and clients[-1].pipelined_auth()
        raise _translate(exc, node, keyset, verdict, pipelined) from exc
    except BaseException:
        if gateway is not None:
            gateway.release_user(node)
        raise
    logger.debug("%s: connected", node)
    node.formatter.connection_made(node.hostname, node.username, gateway is None)
    return conn
