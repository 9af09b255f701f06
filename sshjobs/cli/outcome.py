"""What happened on one host during a run, and how it maps to the exit-code table.

A :class:`HostOutcome` is filled while the host runs (output bytes, times) and settled when it
ends (exit status, signal, or the exception that stopped it). Every output mode (live lines,
gather, JSON, per-host files, marks, host lists) renders these objects; the exit code of the
process is computed from their ``code``.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import asyncssh

from sshjobs.cli.exit import ExitCode
from sshjobs.errors import (
    CommandFailedError,
    CommandTimeoutError,
    SshConnectionError,
    SshJobsError,
    TransferError,
)
from sshjobs.targets import Target

__all__ = ["HostOutcome", "classify_error", "error_reason"]

#: asyncssh / OS errors that mean "the host was not reached" when the library lets one through
_UNREACHABLE_ERRORS: tuple[type[BaseException], ...] = (
    SshConnectionError,
    asyncssh.DisconnectError,
    asyncssh.ChannelOpenError,
    ConnectionError,
    socket.gaierror,
    OSError,
)


def classify_error(error: BaseException) -> ExitCode:
    """The exit-code class of an exception that ended a host's work."""
    if isinstance(error, (CommandTimeoutError, TimeoutError, asyncio.TimeoutError)):
        return ExitCode.TIMEOUT
    if isinstance(error, (asyncio.CancelledError, KeyboardInterrupt)):
        return ExitCode.INTERRUPTED
    if isinstance(error, (CommandFailedError, TransferError, asyncssh.SFTPError)):
        return ExitCode.FAILED
    if isinstance(error, _UNREACHABLE_ERRORS):
        return ExitCode.UNREACHABLE
    return ExitCode.FAILED


def error_reason(error: BaseException) -> str:
    """One line saying why, without repeating the host name the caller already shows."""
    if isinstance(error, SshJobsError):
        text = error.message  # the library's messages are complete; the host is shown apart
    elif isinstance(error, (TimeoutError, asyncio.TimeoutError)) and not str(error):
        text = "timed out"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


@dataclass
class HostOutcome:
    """One target's run: its output so far and, once settled, how it ended."""

    target: Target
    name: str
    user: str | None = None  # the login actually used (the target's, ssh config's or root)
    code: ExitCode | None = None
    exit_status: int | None = None
    signal: str | None = None
    error: BaseException | None = None
    start: float | None = None
    end: float | None = None
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    #: whether output is kept in memory (gather and JSON need it; live lines and files do not)
    keep_output: bool = True
    #: settled by the end of the run (interruption, deadline), not by the host itself
    stopped_by_run: bool = False
    #: the host's path/format fields (:func:`sshjobs.cli.path_fields.host_fields`), once known
    fields: dict[str, str] | None = None

    @property
    def settled(self) -> bool:
        """Whether the host is finished (successfully or not)."""
        return self.code is not None

    @property
    def ok(self) -> bool:
        """Whether the host succeeded."""
        return self.code == ExitCode.OK

    @property
    def reached(self) -> bool:
        """False when the host could not be connected, authenticated or verified."""
        return self.code != ExitCode.UNREACHABLE

    def begin(self) -> None:
        """The host's job started (first call wins)."""
        if self.start is None:
            self.start = time.time()

    def succeed(self) -> None:
        """Every command of the host succeeded."""
        self._settle(ExitCode.OK)
        self.exit_status = 0

    def returned(self, exit_status: int | None, signal: str | None = None) -> None:
        """The command finished with this status (non-zero or a signal means failure)."""
        self.exit_status, self.signal = exit_status, signal
        ok = exit_status == 0 and signal is None
        self._settle(ExitCode.OK if ok else ExitCode.FAILED)

    def fail(self, error: BaseException, code: ExitCode | None = None) -> None:
        """The host's work ended on an exception."""
        self.error = error
        if isinstance(error, CommandFailedError):
            self.exit_status = error.exit_status
            self.signal = error.signal
        self._settle(code or classify_error(error))

    def _settle(self, code: ExitCode) -> None:
        if self.code is None:
            self.code = code
            self.end = time.time()

    @property
    def reason(self) -> str:
        """Short one-line status: ``ok``, ``exit status 3``, ``killed by TERM``,
        ``unreachable: ...``."""
        if self.code is None:
            return "did not finish"
        if self.code == ExitCode.OK:
            return "ok"
        prefix = {
            ExitCode.UNREACHABLE: "unreachable",
            ExitCode.TIMEOUT: "timed out",
            ExitCode.INTERRUPTED: "interrupted",
        }.get(self.code)
        if (
            self.error is not None and not isinstance(self.error, CommandFailedError)
        ) or self.code in (ExitCode.TIMEOUT, ExitCode.INTERRUPTED):
            detail = error_reason(self.error) if self.error is not None else ""
            if prefix and detail and detail != prefix and not detail.startswith(prefix):
                return f"{prefix}: {detail}"
            return detail or prefix or "failed"
        if self.signal:
            return f"killed by signal {self.signal}"
        if self.exit_status is not None:
            return f"exit status {self.exit_status}"
        return error_reason(self.error) if self.error is not None else "failed"

    def as_record(self) -> dict[str, Any]:
        """JSON record: exact output decoded with replacement (base64 too when not UTF-8)."""
        record: dict[str, Any] = {
            "host": self.name,
            "target": str(self.target),
            "user": self.user or self.target.user,
            "status": self.code.name.lower() if self.code is not None else "unfinished",
            "exit_status": self.exit_status,
            "signal": self.signal,
            "error": None
            if self.error is None
            else {"class": type(self.error).__name__, "message": error_reason(self.error)},
            "start": self.start,
            "end": self.end,
            "duration": None
            if self.start is None or self.end is None
            else round(self.end - self.start, 6),
        }
        for stream in ("stdout", "stderr"):
            data = bytes(getattr(self, stream))
            record[stream] = data.decode("utf-8", "replace")
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                record[f"{stream}_base64"] = base64.b64encode(data).decode("ascii")
        return record
