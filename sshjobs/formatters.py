"""Formatters: where the remote output of commands goes (apssh-compatible).

A formatter receives every complete output line of every command of the nodes that use it, as
**bytes** (``line(line, datatype, hostname)``; ``datatype`` is ``None`` for stdout and
``asyncssh.EXTENDED_DATA_STDERR`` for stderr), plus connection / session events. Lines are
decoded with replacement only here, for display; each line is written with a single ``write``
call, so a line from one host is never split by a line from another.

Format specials (apssh): ``{linenl}`` line with its newline, ``{line}``, ``{nl}``, ``{fqdn}``,
``{host}`` (domain stripped unless an IP address), ``{user}`` (``user@`` or empty), ``{time}``
(``%H-%M-%S``) and any ``strftime`` code such as ``%H``. Unlike apssh, text coming from the
remote side is never itself interpreted as a format.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
import time
from pathlib import Path
from typing import IO, Any

from asyncssh import EXTENDED_DATA_STDERR

__all__ = [
    "CaptureFormatter",
    "ColonFormatter",
    "Formatter",
    "HostFormatter",
    "RawFormatter",
    "SubdirFormatter",
    "TerminalFormatter",
    "TimeColonFormatter",
    "TimeHostFormatter",
    "VerboseFormatter",
    "short_hostname",
]

logger = logging.getLogger("sshjobs.formatters")


def short_hostname(hostname: str) -> str:
    """``fit01.example.org`` → ``fit01``; IP addresses are kept whole."""
    try:
        ipaddress.ip_address(hostname)
        return hostname
    except ValueError:
        return hostname.split(".", 1)[0]


def _decode(line: bytes | str) -> str:
    if isinstance(line, str):
        return line
    return line.decode("utf-8", errors="replace")


class Formatter:
    """Base formatter: receives events and lines; by default shows nothing but verbose events.

    Subclasses override :meth:`line`. ``verbose`` makes connection / session events appear on
    stderr (apssh ``VerboseFormatter`` behaviour).
    """

    def __init__(self, custom_format: str = "{linenl}", *, verbose: bool = False) -> None:
        self.format = custom_format
        self.verbose = verbose
        self._widths = {"host": 0, "fqdn": 0, "user": 0}
        self._users: dict[str, str] = {}

    # sinks, looked up at write time so that redirections of sys.stdout are honoured
    @staticmethod
    def _stdout() -> IO[str]:
        return sys.stdout

    @staticmethod
    def _stderr() -> IO[str]:
        return sys.stderr

    def adapt_to_proxy(self, proxy: Any) -> None:
        """Record a node's host/user, to align columns and to fill ``{user}``."""
        hostname = str(getattr(proxy, "hostname", ""))
        username = getattr(proxy, "username", None)
        if username:
            self._users[hostname] = username
        self._widths["fqdn"] = max(self._widths["fqdn"], len(hostname))
        self._widths["host"] = max(self._widths["host"], len(short_hostname(hostname)))
        self._widths["user"] = max(self._widths["user"], len(username) + 1 if username else 0)

    # the apssh events
    def connection_made(self, hostname: str, username: str | None, direct: bool) -> None:
        if self.verbose:
            how = "direct" if direct else "tunnelled"
            self._event(hostname, f"Connected ({how}) to {_userhost(username, hostname)}")

    def connection_lost(
        self, hostname: str, exc: BaseException | None, username: str | None = None
    ) -> None:
        if self.verbose:
            reason = f": {exc}" if exc else ""
            self._event(hostname, f"Connection closed to {_userhost(username, hostname)}{reason}")

    def auth_completed(self, hostname: str, username: str | None) -> None:
        if self.verbose:
            self._event(hostname, "Authorization OK with user " + str(username))

    def session_start(self, hostname: str, command: str) -> None:
        if self.verbose:
            self._event(hostname, f"Session started for {command}")

    def session_stop(self, hostname: str, command: str) -> None:
        if self.verbose:
            self._event(hostname, f"Session ended for {command}")

    def sftp_start(self, hostname: str) -> None:
        if self.verbose:
            self._event(hostname, "SFTP subsystem started")

    def sftp_stop(self, hostname: str) -> None:
        if self.verbose:
            self._event(hostname, "SFTP subsystem stopped")

    def output_held(self, hostname: str, command: str, grace: float) -> None:
        """A command exited but a process it left in the background kept its output open;
        we stopped waiting after ``grace`` seconds. Shown once per host with ``verbose``."""
        told = self.__dict__.setdefault("_held_told", set())
        if self.verbose and hostname not in told:
            told.add(hostname)
            self._event(
                hostname,
                f"{command!r} exited; a background process kept its output "
                f"open, stopped waiting after {grace:g}s (it keeps running)",
            )

    def line(self, line: bytes | str, datatype: int | None, hostname: str) -> None:
        """One complete output line (bytes, newline included when there was one)."""

    def stderr_line(self, line: str, hostname: str) -> None:
        """A message of ours about a host (not remote output), shown on stderr."""
        self._stderr().write(self._render(line, hostname))

    def _event(self, hostname: str, message: str) -> None:
        self.stderr_line(f"{10 * '='} {message}", hostname)

    # rendering
    def _render(self, text: bytes | str, hostname: str) -> str:
        line = _decode(text)
        if line.endswith("\n"):
            line = line[:-1]
        fmt = self.format
        if "%" in fmt or "{time}" in fmt:
            fmt = time.strftime(fmt.replace("{time}", "%H-%M-%S"))
        if fmt == "{linenl}":
            return line + "\n"
        user = self._users.get(hostname)
        fields = {
            "linenl": line + "\n",
            "line": line,
            "nl": "\n",
            "fqdn": hostname.center(self._widths["fqdn"]),
            "host": short_hostname(hostname).center(self._widths["host"]),
            "user": (f"{user}@" if user else "").center(self._widths["user"]),
        }
        try:
            return fmt.format_map(fields)
        except (KeyError, ValueError, IndexError):
            return fmt + line + "\n"


def _userhost(username: str | None, hostname: str) -> str:
    return f"{username}@{hostname}" if username else hostname


class VerboseFormatter(Formatter):
    """A formatter that shows events (verbose) and nothing else."""

    def __init__(self, custom_format: str = "{linenl}", *, verbose: bool = True) -> None:
        super().__init__(custom_format, verbose=verbose)


class TerminalFormatter(Formatter):
    """stdout lines to stdout, stderr lines to stderr, through ``custom_format``."""

    def __init__(self, custom_format: str = "{linenl}", verbose: bool = False) -> None:
        super().__init__(custom_format, verbose=verbose)

    def line(self, line: bytes | str, datatype: int | None, hostname: str) -> None:
        sink = self._stderr() if datatype == EXTENDED_DATA_STDERR else self._stdout()
        sink.write(self._render(line, hostname))


class RawFormatter(TerminalFormatter):
    """Lines exactly as they come (``{linenl}``)."""

    def __init__(self, custom_format: str = "{linenl}", *, verbose: bool = False) -> None:
        super().__init__(custom_format, verbose=verbose)


class HostFormatter(TerminalFormatter):
    """Lines prefixed with the host name: ``host:line`` (apssh's default)."""

    def __init__(self, custom_format: str = "{host}:{linenl}", *, verbose: bool = False) -> None:
        super().__init__(custom_format, verbose=verbose)


class TimeHostFormatter(TerminalFormatter):
    """Lines prefixed with time and host: ``HH-MM-SS:host:line``."""

    def __init__(
        self, custom_format: str = "{time}:{host}:{linenl}", *, verbose: bool = False
    ) -> None:
        super().__init__(custom_format, verbose=verbose)


ColonFormatter = HostFormatter
TimeColonFormatter = TimeHostFormatter


class SubdirFormatter(Formatter):
    """Output of each host into files: stdout to ``<run_name>/<host>``, stderr to
    ``<run_name>/<host>.err``, as raw bytes (exact). Files are truncated the first time a host
    writes in this formatter's life, and closed when the host has no running session.
    """

    def __init__(self, run_name: str | os.PathLike[str], *, verbose: bool = False) -> None:
        super().__init__("{linenl}", verbose=verbose)
        self.run_name = Path(run_name)
        self._seen: set[Path] = set()
        self._open: dict[Path, IO[bytes]] = {}
        self._sessions: dict[str, int] = {}

    def _file(self, hostname: str, stderr: bool) -> IO[bytes]:
        path = self.run_name / (hostname + (".err" if stderr else ""))
        handle = self._open.get(path)
        if handle is None:
            self.run_name.mkdir(parents=True, exist_ok=True)
            handle = open(path, "ab" if path in self._seen else "wb")  # noqa: SIM115
            self._seen.add(path)
            self._open[path] = handle
        return handle

    def connection_made(self, hostname: str, username: str | None, direct: bool) -> None:
        if self.verbose:
            self._file(hostname, False).write(
                f"Connected ({'direct' if direct else 'tunnelled'}) to "
                f"{_userhost(username, hostname)}\n".encode()
            )
            self._close(hostname)

    def session_start(self, hostname: str, command: str) -> None:
        self._sessions[hostname] = self._sessions.get(hostname, 0) + 1

    def session_stop(self, hostname: str, command: str) -> None:
        count = self._sessions.get(hostname, 1) - 1
        self._sessions[hostname] = count
        if count <= 0:
            self._close(hostname)

    def line(self, line: bytes | str, datatype: int | None, hostname: str) -> None:
        data = line.encode() if isinstance(line, str) else line
        handle = self._file(hostname, datatype == EXTENDED_DATA_STDERR)
        handle.write(data)
        if self._sessions.get(hostname, 0) <= 0:
            self._close(hostname)

    def _close(self, hostname: str) -> None:
        for path in (self.run_name / hostname, self.run_name / (hostname + ".err")):
            handle = self._open.pop(path, None)
            if handle is not None:
                handle.close()

    def close(self) -> None:
        """Close every file still open."""
        for handle in self._open.values():
            handle.close()
        self._open.clear()


class CaptureFormatter(Formatter):
    """Accumulates stdout (as text) between ``start_capture()`` and ``get_capture()``; stderr is
    shown on stderr. Kept for apssh compatibility: prefer ``Capture`` on a command, which does
    not touch the node's formatter.
    """

    def __init__(self, custom_format: str = "{linenl}", *, verbose: bool = False) -> None:
        super().__init__(custom_format, verbose=verbose)
        self._chunks: list[str] = []

    def start_capture(self) -> None:
        self._chunks = []

    def get_capture(self) -> str:
        return "".join(self._chunks)

    def line(self, line: bytes | str, datatype: int | None, hostname: str) -> None:
        if datatype == EXTENDED_DATA_STDERR:
            self._stderr().write(self._render(line, hostname))
        else:
            self._chunks.append(self._render(line, hostname))
