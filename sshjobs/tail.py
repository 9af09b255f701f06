"""The last output lines of the job running a command, for the live monitor and the report.

An :class:`~sshjobs.job.SshJob` sets :data:`OUTPUT_TAIL` to a small deque while it runs;
``execute()`` of a node then wraps the formatter of each command in :class:`TailFormatter`,
which keeps every line it forwards in that deque (as bytes: decoded only when shown). A
context variable, because a node's formatter is shared by all the jobs on that node while
each job runs in a task of its own.
"""

from __future__ import annotations

from collections import deque
from contextvars import ContextVar
from typing import Any

__all__ = ["OUTPUT_TAIL", "TailFormatter", "with_tail"]

#: the deque of the job whose task is running (None outside jobs)
OUTPUT_TAIL: ContextVar[deque[bytes | str] | None] = ContextVar("sshjobs_output_tail", default=None)


class TailFormatter:
    """Forwards everything to ``formatter``, keeping a copy of each output line."""

    def __init__(self, formatter: Any, tail: deque[bytes | str]) -> None:
        self._formatter = formatter
        self._tail = tail

    def line(self, line: bytes | str, datatype: int | None, hostname: str) -> None:
        self._tail.append(line)
        self._formatter.line(line, datatype, hostname)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._formatter, name)


def with_tail(formatter: Any) -> Any:
    """``formatter``, wrapped when a job wants its output tail."""
    tail = OUTPUT_TAIL.get()
    return formatter if tail is None else TailFormatter(formatter, tail)
