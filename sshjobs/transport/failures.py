"""Why a connection failed, in one line: asyncssh and OS errors turned into ours.

Every failure to connect becomes an :class:`~sshjobs.errors.SshConnectionError` subclass that
names the host and says what to do, with the asyncssh / OS error chained as ``__cause__`` by
the caller. A failure through a ``ProxyJump`` of the ssh config names the jump host.
"""

from __future__ import annotations

import asyncio
import socket

import asyncssh

from ..errors import (
    AuthenticationError,
    GatewayError,
    HostKeyError,
    SshConnectionError,
    SshJobsError,
)
from .hostkeys import HostKeyVerdict
from .options import ConnectOptions
from .sshconfig import written_by_us

__all__ = ["connection_failure", "jump_failure"]

#: the hint for failures the short handshake may cause (never for authentication refusals)
_PIPELINING_HINT = (
    "; if this server mishandles pipelined authentication, connect with "
    "SSHJOBS_FAST_HANDSHAKE=0 (SshNode(fast_handshake=False))"
)


def connection_failure(
    exc: BaseException,
    options: ConnectOptions,
    verdict: HostKeyVerdict,
    pipelined: bool = False,
) -> SshJobsError:
    """Our error for ``exc``, raised while connecting with ``options``; ``verdict``: what the
    host-key policy saw; ``pipelined``: whether the attempt used the short handshake."""
    found = _refusal(exc, options, verdict)
    if found is not None:
        return found
    host = options.hostname
    where = options.where()
    if isinstance(exc, asyncssh.ChannelOpenError) and options.gateway is not None:
        return GatewayError(
            f"gateway {options.gateway} cannot open a tunnel to {where}: {exc.reason}",
            host=host,
            gateway=options.gateway,
        )
    jump = _config_jump(options) if options.gateway is None else None
    translated = _through_jump(exc, options, jump) if jump is not None else None
    if translated is not None:
        return translated
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return SshConnectionError(
            f"timed out after {_timeout_text(options)} connecting to {where}", host=host
        )
    if isinstance(exc, ConnectionRefusedError):
        return SshConnectionError(f"connection refused by {where}", host=host)
    if isinstance(exc, socket.gaierror):
        return SshConnectionError(f"unknown host name {host!r} ({exc.strerror})", host=host)
    if isinstance(exc, OSError):
        return SshConnectionError(f"cannot connect to {where}: {exc.strerror or exc}", host=host)
    hint = _PIPELINING_HINT if pipelined else ""
    if isinstance(exc, asyncssh.Error):
        return SshConnectionError(f"SSH error with {where}: {exc.reason}{hint}", host=host)
    return SshConnectionError(f"cannot connect to {where}: {type(exc).__name__}: {exc}", host=host)


def jump_failure(exc: SshJobsError, options: ConnectOptions) -> SshJobsError:
    """Our error when a hop of the ssh config's ``ProxyJump`` could not be reached for the node
    of ``options``: a connection failure named as the jump host's; a hop's own refusal (its
    host key, its keys), which names the hop, as it is."""
    jump = _config_jump(options)
    cause = exc.__cause__
    if jump is not None and cause is not None and not isinstance(exc, _REFUSALS):
        translated = _through_jump(cause, options, jump)
        if translated is not None:
            return translated
    return exc


#: failures that are a verdict of the host reached, not a failure to reach it
_REFUSALS = (AuthenticationError, HostKeyError)


def _refusal(
    exc: BaseException, options: ConnectOptions, verdict: HostKeyVerdict
) -> SshJobsError | None:
    """The host key or the credentials refused, if that is what ``exc`` says."""
    host, user, offered = options.hostname, options.username, options.keyset.describe()
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        message = options.host_key_policy.refusal(verdict, host, options.port, exc.reason)
        return HostKeyError(
            message, host=host, received=verdict.received, expected=verdict.expected
        )
    if isinstance(exc, asyncssh.PermissionDenied) and options.password is not None:
        return AuthenticationError(
            f"authentication failed as {user}: the password was refused (and no key "
            f"accepted: offered {offered}); check the user name and password",
            host=host,
        )
    if isinstance(exc, asyncssh.PermissionDenied):
        return AuthenticationError(
            f"authentication failed as {user} (offered {offered}); check the user name and "
            f"that one of these keys is in its authorized_keys",
            host=host,
        )
    if _too_many_attempts(exc):
        # the server gave up after MaxAuthTries refused keys: the same without pipelining
        return AuthenticationError(
            f"authentication failed as {user}: the server closed the connection after too "
            f"many refused keys (offered {offered}); offer only the right key "
            f"(sshjobs -i KEY, SshNode(keys=[...]))",
            host=host,
        )
    return None


def _config_jump(options: ConnectOptions) -> str | None:
    """The ProxyJump the ssh config gives the host, as written (for messages)."""
    jump = options.host_config().get("ProxyJump")
    if isinstance(jump, str) and jump and jump.lower() != "none":
        return jump
    return None


def _through_jump(exc: BaseException, options: ConnectOptions, jump: str) -> SshJobsError | None:
    """Errors of a connection through a ProxyJump of the ssh config, naming the jump host: a
    TCP failure is the first hop's (later hops are tunnels), a refused tunnel the jump host's."""
    host, where = options.hostname, options.where()
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
            f"timed out after {_timeout_text(options)} connecting to {where} "
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


def _timeout_text(options: ConnectOptions) -> str:
    """The connect timeout that applied: the node's, or a shorter ``ConnectTimeout`` from the
    ssh config (asyncssh honours it), named as such so that the user knows where to change it."""
    configured = options.host_config().get("ConnectTimeout")
    if isinstance(configured, (int, float)) and 0 < configured < options.timeout:
        # the files the user wrote, not the one sshjobs writes for ssh_options (-O)
        files = [path for path in options.config_paths if not written_by_us(path)]
        return f"{configured:g}s (ConnectTimeout in {', '.join(files)})"
    return f"{options.timeout:g}s"
