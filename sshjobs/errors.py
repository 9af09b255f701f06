"""Exceptions of the sshjobs library.

Every error raised on behalf of a host derives from :class:`SshJobsError` and carries that host
in ``.host`` (``None`` when no host is involved), so that a caller handling many hosts at once
can tell which one failed. The underlying asyncssh or OS error is kept as ``__cause__``.

The hierarchy lets callers (the command line in particular) map failures to distinct outcomes:
unreachable hosts (:class:`SshConnectionError` and subclasses) versus commands that ran and
failed (:class:`CommandFailedError`) versus bad local input (:class:`LocalFileError`).
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "CommandFailedError",
    "CommandTimeoutError",
    "GatewayError",
    "HostKeyError",
    "KeyLoadError",
    "LocalFileError",
    "SshConnectionError",
    "SshJobsError",
    "TransferError",
]


class SshJobsError(Exception):
    """Root of every sshjobs error; ``host`` names the host concerned (or None)."""

    def __init__(self, message: str, *, host: str | None = None) -> None:
        super().__init__(message)
        self.host = host
        self.message = message

    def __str__(self) -> str:
        if self.host and not self.message.startswith(f"{self.host}:"):
            return f"{self.host}: {self.message}"
        return self.message


class SshConnectionError(SshJobsError):
    """The SSH connection to the host could not be opened, or was lost.

    Covers unknown host names, refused ports, timeouts and dead links.
    """


class AuthenticationError(SshConnectionError):
    """The server refused every credential we offered."""


class HostKeyError(SshConnectionError):
    """The host key could not be verified (unknown host, or a key mismatch).

    ``received`` is the fingerprint of the key the server presented, ``expected`` the
    fingerprints recorded for that host (empty when the host is unknown).
    """

    def __init__(
        self,
        message: str,
        *,
        host: str | None = None,
        received: str | None = None,
        expected: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message, host=host)
        self.received = received
        self.expected = expected


class GatewayError(SshConnectionError):
    """The host is behind a gateway and the gateway could not reach it (or is itself down).

    ``gateway`` names the gateway host.
    """

    def __init__(
        self, message: str, *, host: str | None = None, gateway: str | None = None
    ) -> None:
        super().__init__(message, host=host)
        self.gateway = gateway


class CommandFailedError(SshJobsError):
    """A command ran and did not succeed (exit status not allowed, or killed by a signal).

    Kept compatible with apssh: ``CommandFailedError(message)`` works. Structured fields:
    ``command``, ``exit_status``, ``signal`` (name such as ``"TERM"``) and ``stderr_tail``
    (the last lines of the command's stderr, as text).
    """

    def __init__(
        self,
        message: str,
        *,
        host: str | None = None,
        command: str | None = None,
        exit_status: int | None = None,
        signal: str | None = None,
        stderr_tail: str = "",
    ) -> None:
        super().__init__(message, host=host)
        self.command = command
        self.exit_status = exit_status
        self.signal = signal
        self.stderr_tail = stderr_tail

    def __str__(self) -> str:
        text = super().__str__()
        if self.stderr_tail:
            tail = self.stderr_tail.rstrip("\n").splitlines()[-3:]
            text += " -- stderr: " + " | ".join(tail)
        return text


class CommandTimeoutError(CommandFailedError):
    """A command exceeded its timeout; it was killed on the remote side."""


class TransferError(SshJobsError):
    """A file transfer (push / pull / script upload) failed."""


class KeyLoadError(SshJobsError):
    """A private key could not be loaded (unreadable, or passphrase-protected and no passphrase).

    We never prompt: add the key to an ssh-agent, or pass the passphrase explicitly.
    """


class LocalFileError(SshJobsError):
    """A local file needed by a command (script, include, file to push) is missing.

    Raised before any connection is made.
    """
