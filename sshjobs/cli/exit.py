"""The one table of exit codes of the ``sshjobs`` command, and how a run's outcome maps to it.

Scripts branch on these codes, so they are a contract: never renumber, only add. The table is
shown by ``sshjobs --help`` and copied in the README.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

__all__ = ["EXIT_TABLE", "ExitCode", "exit_code_for", "exit_table_text", "stopped_by"]


class ExitCode(enum.IntEnum):
    """Process exit statuses; when hosts end differently the highest-ranked one wins."""

    OK = 0
    FAILED = 1
    USAGE = 2
    UNREACHABLE = 3
    TIMEOUT = 4
    INTERRUPTED = 130
    OUTPUT_CLOSED = 141
    TERMINATED = 143


#: precedence when hosts end differently: the first of this list present wins
_PRECEDENCE = (
    ExitCode.OUTPUT_CLOSED,
    ExitCode.TERMINATED,
    ExitCode.INTERRUPTED,
    ExitCode.TIMEOUT,
    ExitCode.UNREACHABLE,
    ExitCode.FAILED,
    ExitCode.OK,
)

_MEANINGS = {
    ExitCode.OK: "every host succeeded",
    ExitCode.FAILED: "some remote command failed (non-zero or killed), or a transfer failed",
    ExitCode.USAGE: "bad command line or input: nothing was run, no connection made",
    ExitCode.UNREACHABLE: "some host could not be reached, authenticated or verified (host key)",
    ExitCode.TIMEOUT: "some command exceeded --timeout, or the run hit --deadline",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C); remote commands were stopped",
    ExitCode.OUTPUT_CLOSED: "standard output was closed (e.g. | head); remote commands were "
    "stopped",
    ExitCode.TERMINATED: "terminated (SIGTERM); remote commands were stopped",
}

EXIT_TABLE: list[tuple[int, str]] = [(int(code), _MEANINGS[code]) for code in ExitCode]


def stopped_by(state: dict[str, bool]) -> ExitCode:
    """The exit code of a run stopped by a signal: 143 for SIGTERM (``state["sigterm"]``), 130
    for Ctrl-C (SIGINT), as a shell reports a command killed by either."""
    return ExitCode.TERMINATED if state.get("sigterm") else ExitCode.INTERRUPTED


def exit_code_for(outcomes: Iterable[ExitCode]) -> ExitCode:
    """The process exit code of a run from each host's outcome (OK for an empty run)."""
    present = set(outcomes)
    for code in _PRECEDENCE:
        if code in present:
            return code
    return ExitCode.OK


def exit_table_text() -> str:
    """The table as shown in ``--help``: one ``code  meaning`` line each, then the precedence."""
    lines = [f"{code:>5}  {meaning}" for code, meaning in EXIT_TABLE]
    lines.append("when hosts end differently: 141 > 130 > 4 > 3 > 1 > 0")
    return "\n".join(lines)
