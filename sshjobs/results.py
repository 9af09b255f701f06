"""Structured per-command results.

Every command an :class:`~sshjobs.job.SshJob` runs leaves a :class:`CommandResult` in
``job.results`` (in order), whether it succeeded, failed, timed out or could not even start.
This is what a summary table, a JSON export or a retry list is built from - apssh only left
printed lines and an integer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["STDERR_TAIL_BYTES", "CommandResult"]

#: how much of a command's stderr is always kept (for error messages)
STDERR_TAIL_BYTES = 4096


@dataclass
class CommandResult:
    """What happened to one command on one host.

    ``exit_status`` is the remote exit code (None if killed by a signal or never finished);
    ``signal`` the signal name (``"TERM"``...) if the command was killed. ``stdout`` holds the
    exact bytes of standard output when the command captured it (``capture=`` or
    ``keep_output=True``), else None. ``stderr_tail`` always holds the last few KB of stderr.
    ``error`` is the exception that ended the command, if any (connection lost, timeout...).
    Times are wall-clock seconds since the epoch.
    """

    host: str
    command: str
    label: str = ""
    exit_status: int | None = None
    signal: str | None = None
    start: float = field(default_factory=time.time)
    end: float | None = None
    stdout: bytes | None = None
    stderr_tail: bytes = b""
    error: BaseException | None = None
    allowed: bool = False

    @property
    def duration(self) -> float | None:
        """Seconds the command took, or None if it did not finish."""
        return None if self.end is None else self.end - self.start

    @property
    def ok(self) -> bool:
        """True when the command finished with an allowed outcome (0 or ``allowed_exits``)."""
        return self.error is None and self.allowed

    @property
    def returned(self) -> int | str | None:
        """apssh's notion of a command's outcome: exit code, else signal name, else None."""
        return self.exit_status if self.exit_status is not None else self.signal

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view (bytes decoded with replacement)."""
        return {
            "host": self.host,
            "command": self.command,
            "label": self.label,
            "exit_status": self.exit_status,
            "signal": self.signal,
            "start": self.start,
            "end": self.end,
            "duration": self.duration,
            "ok": self.ok,
            "stdout": None if self.stdout is None else self.stdout.decode("utf-8", "replace"),
            "stderr_tail": self.stderr_tail.decode("utf-8", "replace"),
            "error": None if self.error is None else f"{type(self.error).__name__}: {self.error}",
        }
