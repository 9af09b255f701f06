"""Running one command on a connection: session slots, line splitting, remote kill wrapper.

* :class:`SessionSlots` - OpenSSH refuses more than ``MaxSessions`` (10 by default) sessions
  per connection; since every job on a node shares one connection, commands beyond the limit
  wait here for a free slot. If the server refuses a channel anyway (a lower MaxSessions), the
  limit shrinks to what the server accepted and the command waits for a slot again.
* :class:`LineSession` - an asyncssh session receiving **bytes**: output is cut into complete
  lines (one ``formatter.line`` call per line, the partial tail kept until its newline or EOF),
  or kept whole when captured. Only the tail of stderr is kept for error messages.
* :func:`wrap_killable` - OpenSSH may ignore SSH ``signal`` requests, so to kill a remote command
  (timeout, cancelled job) we run it under a tiny POSIX-shell wrapper that watches the channel's
  stdin: when we send EOF, the wrapper kills its whole process group (sshd makes each session a
  process-group leader). The command itself gets ``/dev/null`` as stdin, like ``ssh -n``.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections import deque
from typing import Any

import asyncssh
from asyncssh import EXTENDED_DATA_STDERR

from .results import STDERR_TAIL_BYTES, CommandResult

__all__ = ["SessionSlots", "LineSession", "wrap_killable", "emit_lines"]

logger = logging.getLogger("sshjobs.session")

# The wrapper: fd 3 keeps the channel's stdin, the command reads /dev/null. A background watcher
# blocks on fd 3; EOF from the client means "kill": TERM then KILL to the whole process group.
# A command killed by a signal makes the wrapper re-raise that signal on itself, so that the
# client still sees an exit *signal* (apssh's allowed_exits such as "TERM" keep working).
_WRAPPER = (
    'exec 3<&0 </dev/null; '
    '(read _ <&3; kill -TERM 0; sleep 2; kill -KILL 0) >/dev/null 2>&1 & w=$!; '
    '"${SHELL:-/bin/sh}" -c "$1" 3<&-; s=$?; '
    'kill $w 2>/dev/null; '
    'if [ $s -gt 128 ] && [ $s -lt 160 ]; then trap - $((s-128)); kill -$((s-128)) $$; fi; '
    'exit $s'
)


def wrap_killable(command: str) -> str:
    """The remote command line running ``command`` under the kill wrapper."""
    return f"exec sh -c {shlex.quote(_WRAPPER)} sshjobs {shlex.quote(command)}"


class SessionSlots:
    """Counts sessions open on one connection; waits when the limit is reached."""

    def __init__(self, limit: int) -> None:
        self.limit = self.maximum = max(1, limit)
        self.in_use = 0
        self._waiters: deque[asyncio.Future] = deque()

    async def acquire(self) -> None:
        while self.in_use >= self.limit:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()      # we were woken up: pass the turn on
                raise
        self.in_use += 1

    def release(self) -> None:
        """Give a slot back (synchronous: usable in a ``finally`` even when cancelled)."""
        self.in_use -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def opened(self) -> None:
        """A session opened: if we had shrunk the limit, probe one higher (up to the max)."""
        if self.in_use >= self.limit and self.limit < self.maximum:
            self.limit += 1

    def refused(self) -> bool:
        """The server refused a channel while we held a slot: shrink the limit to the number
        of other sessions open. (sshd also refuses briefly while it frees a closing session,
        hence :meth:`opened` growing the limit back.)

        Returns False when no other session is open (waiting for one would not help).
        """
        others = self.in_use - 1
        if others <= 0:
            return False
        self.limit = max(1, min(self.limit, others))
        logger.debug("server refused a session: now at most %d sessions per connection",
                     self.limit)
        return True


#: a line longer than this is passed on in pieces (bounds memory on newline-free output)
MAX_LINE = 1 << 20


def emit_lines(partial: dict[Any, bytearray], data: bytes, datatype: Any, hostname: str,
               formatter: Any) -> None:
    """Send every complete line of ``partial[datatype] + data`` to the formatter; keep the
    incomplete tail in ``partial[datatype]``."""
    last = data.rfind(b"\n")
    if last < 0:
        pending = partial.get(datatype)
        if pending is None:
            partial[datatype] = pending = bytearray()
        pending += data
        if len(pending) >= MAX_LINE:
            formatter.line(bytes(pending), datatype, hostname)
            pending.clear()
        return
    pending = partial.get(datatype)
    if pending:
        head = bytes(pending) + data[:last + 1]
        pending.clear()
    else:
        head = data[:last + 1]
    if last + 1 < len(data):
        if pending is None:
            partial[datatype] = pending = bytearray()
        pending += data[last + 1:]
    line_cb = formatter.line
    start = 0
    while True:
        end = head.find(b"\n", start)
        if end < 0:
            break
        line_cb(head[start:end + 1], datatype, hostname)
        start = end + 1


class LineSession(asyncssh.SSHClientSession):
    """Client session feeding a formatter line by line (bytes), or a capture buffer."""

    def __init__(self, hostname: str, formatter: Any, result: CommandResult,
                 capture: bool) -> None:
        self._hostname = hostname
        self._formatter = formatter
        self._result = result
        self._capture: bytearray | None = bytearray() if capture else None
        self._stderr_tail = bytearray()
        self._partial: dict[Any, bytearray] = {}
        self.closed = asyncio.get_running_loop().create_future()
        self.lost_exc: BaseException | None = None

    def data_received(self, data: bytes, datatype: Any) -> None:
        if datatype == EXTENDED_DATA_STDERR:
            tail = self._stderr_tail
            tail += data
            if len(tail) > 2 * STDERR_TAIL_BYTES:
                del tail[:-STDERR_TAIL_BYTES]
        elif self._capture is not None:
            self._capture += data
            return
        emit_lines(self._partial, data, datatype, self._hostname, self._formatter)

    def _flush(self) -> None:
        for datatype, rest in list(self._partial.items()):
            if rest:
                self._formatter.line(bytes(rest), datatype, self._hostname)
        self._partial.clear()

    def eof_received(self) -> bool:
        self._flush()
        return False

    def exit_status_received(self, status: int) -> None:
        self._result.exit_status = status

    def exit_signal_received(self, signal: str, core_dumped: bool, msg: str, lang: str) -> None:
        self._result.signal = signal

    def connection_lost(self, exc: Exception | None) -> None:
        self._flush()
        self.lost_exc = exc
        self._result.stderr_tail = bytes(self._stderr_tail[-STDERR_TAIL_BYTES:])
        if self._capture is not None:
            self._result.stdout = bytes(self._capture)
        if not self.closed.done():
            self.closed.set_result(None)
