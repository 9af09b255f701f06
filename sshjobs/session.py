"""Running one command on a connection: session slots, line splitting, remote kill wrapper.

* :class:`SessionSlots` - OpenSSH refuses more than ``MaxSessions`` (10 by default) sessions
  per connection; since every job on a node shares one connection, commands beyond the limit
  wait here for a free slot. If the server refuses a channel anyway (a lower MaxSessions), the
  limit shrinks to what the server accepted and the command waits for a slot again.
* :class:`LineSession` - an asyncssh session receiving **bytes**: output is cut into complete
  lines (one ``formatter.line`` call per line, the partial tail kept until its newline or EOF),
  or kept whole when captured. Only the tail of stderr is kept for error messages.
* :func:`report_pid` - OpenSSH may ignore SSH ``signal`` requests (Debian's 9.2 does), so to
  kill a remote command (timeout, cancelled job) we need its process group: sshd makes each
  session's shell a process-group leader, so the command line starts with ``echo`` of the
  shell's ``$$`` on stderr (a builtin: no extra process, no extra round trip). The session strips
  that line and keeps the pid; killing is then ``kill -TERM -PID`` (then ``-KILL``) in another
  session of the same connection. The command itself runs exactly as before, in the login shell.
* :data:`OUTPUT_GRACE` - a command that leaves a process in the background (``server &``)
  exits, but that process still holds the session's stdout/stderr, so sshd never closes the
  channel. Once the exit status has come we wait that long for the end of the output, then
  close our end (see :func:`wait_for_end`); the background process keeps running.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import asyncssh
from asyncssh import EXTENDED_DATA_STDERR

from .results import STDERR_TAIL_BYTES, CommandResult
from .transport import fastpath

__all__ = [
    "OUTPUT_GRACE",
    "PID_MARKER",
    "LineSession",
    "SessionSlots",
    "emit_lines",
    "feed_stdin",
    "kill_group_command",
    "report_held_output",
    "report_pid",
    "wait_for_end",
]

logger = logging.getLogger("sshjobs.session")

#: seconds we wait for the end of a command's output once its exit status has come
OUTPUT_GRACE = 2.0

#: the line a command prints first on stderr (stripped from the output) to tell us its pid
PID_MARKER = b"sshjobs-pid:"


def report_pid(command: str) -> str:
    """The remote command line running ``command`` after reporting the shell's pid."""
    return f'echo "sshjobs-pid:$$" >&2; {command}'


def kill_group_command(pid: int, grace: float = 2.0) -> str:
    """A remote command line that kills process group ``pid``: TERM, then KILL after ``grace``
    seconds if anything is left (in the background, so that it returns at once)."""
    # ``kill -s SIG`` rather than ``kill -SIG``: dash (``/bin/sh`` on Debian) reads
    # ``kill -TERM -- -PID`` as a bad number and kills nothing
    return (
        f"kill -s TERM -- -{pid} 2>/dev/null; "
        f"(sleep {grace}; kill -s KILL -- -{pid}) </dev/null >/dev/null 2>&1 &"
    )


class SessionSlots:
    """Counts sessions open on one connection; waits when the limit is reached."""

    def __init__(self, limit: int) -> None:
        self.limit = self.maximum = max(1, limit)
        self.in_use = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self, front: bool = False) -> None:
        """Take a slot, waiting if none is free (``front``: before everyone already waiting,
        for our own short helper sessions such as kills)."""
        while self.in_use >= self.limit:
            waiter = asyncio.get_running_loop().create_future()
            if front:
                self._waiters.appendleft(waiter)
            else:
                self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # we were woken up: pass the turn on
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
        logger.debug("server refused a session: now at most %d sessions per connection", self.limit)
        return True


async def feed_stdin(chan: Any, session: LineSession, reader: Any) -> None:
    """Write what ``reader`` (an :class:`~sshjobs.sharedinput.InputReader`) gives to the
    command's stdin at the pace the channel accepts, then EOF. Stops quietly when the command
    ends without reading everything; the reader is closed in any case."""
    try:
        while not session.closed.done():
            data = await reader.read()
            if not data:
                break
            await session.writable.wait()
            await fastpath.transport_room(chan.get_connection())
            if session.closed.done():
                break
            chan.write(data)
        if not session.closed.done():
            chan.write_eof()
    except (OSError, asyncssh.Error) as exc:  # the channel closed under us
        logger.debug("stdin feeding stopped: %s", exc)
    finally:
        reader.close()


#: a line longer than this is passed on in pieces (bounds memory on newline-free output)
MAX_LINE = 1 << 20


def emit_lines(
    partial: dict[Any, bytearray], data: bytes, datatype: Any, hostname: str, formatter: Any
) -> None:
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
        head = bytes(pending) + data[: last + 1]
        pending.clear()
    else:
        head = data[: last + 1]
    if last + 1 < len(data):
        if pending is None:
            partial[datatype] = pending = bytearray()
        pending += data[last + 1 :]
    line_cb = formatter.line
    start = 0
    while True:
        end = head.find(b"\n", start)
        if end < 0:
            break
        line_cb(head[start : end + 1], datatype, hostname)
        start = end + 1


class LineSession(asyncssh.SSHClientSession[bytes]):
    """Client session feeding a formatter line by line (bytes), or a capture buffer."""

    def __init__(
        self,
        hostname: str,
        formatter: Any,
        result: CommandResult,
        capture: bool,
        expect_pid: bool = False,
    ) -> None:
        self._hostname = hostname
        self._formatter = formatter
        self._result = result
        self._capture: bytearray | None = bytearray() if capture else None
        self._stderr_tail = bytearray()
        self._partial: dict[Any, bytearray] = {}
        self.closed = asyncio.get_running_loop().create_future()
        #: done when the exit status (or signal) has come
        self.exited = asyncio.get_running_loop().create_future()
        self.lost_exc: BaseException | None = None
        #: the remote shell's pid (= its process group), once reported
        self.remote_pid: int | None = None
        self._scan: bytearray | None = bytearray() if expect_pid else None
        #: done once the pid is known, or known never to come (no marker, session over)
        self.pid_settled = asyncio.get_running_loop().create_future()
        if not expect_pid:
            self.pid_settled.set_result(None)
        #: set while the channel accepts more data (SSH flow control, for the command's stdin)
        self.writable = asyncio.Event()
        self.writable.set()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def _settle_pid(self) -> None:
        if not self.pid_settled.done():
            self.pid_settled.set_result(self.remote_pid)

    def _take_pid(self, data: bytes) -> bytes:
        """Strip our pid line from the start of stderr (possibly after a few lines the login
        shell printed first); returns what remains to be handled as stderr."""
        scan = self._scan
        assert scan is not None
        scan += data
        out = bytearray()
        while True:
            end = scan.find(b"\n")
            if end < 0:
                if len(scan) > 4096:  # no marker coming: stop looking
                    out += scan
                    self._scan = None
                break
            line = bytes(scan[: end + 1])
            del scan[: end + 1]
            if line.startswith(PID_MARKER):
                try:
                    self.remote_pid = int(line[len(PID_MARKER) :].strip())
                except ValueError:
                    out += line
                    continue
                out += scan
                self._scan = None
                break
            out += line
        return bytes(out)

    def data_received(self, data: bytes, datatype: Any) -> None:
        if datatype == EXTENDED_DATA_STDERR and self._scan is not None:
            data = self._take_pid(data)
            if self._scan is None:
                self._settle_pid()
            if not data:
                return
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
        if self._scan is not None:
            scanned, self._scan = bytes(self._scan), None
            if scanned:
                self.data_received(scanned, EXTENDED_DATA_STDERR)
        self._settle_pid()
        for datatype, rest in list(self._partial.items()):
            if rest:
                self._formatter.line(bytes(rest), datatype, self._hostname)
        self._partial.clear()

    def eof_received(self) -> bool:
        self._flush()
        return False

    def _exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def exit_status_received(self, status: int) -> None:
        self._result.exit_status = status
        self._exited()

    def exit_signal_received(self, signal: str, core_dumped: bool, msg: str, lang: str) -> None:
        self._result.signal = signal
        self._exited()

    def finish(self) -> None:
        """Hand what was received to the result (at the end of the session, or when we stop
        listening to it); idempotent."""
        self._flush()
        self._result.stderr_tail = bytes(self._stderr_tail[-STDERR_TAIL_BYTES:])
        if self._capture is not None:
            self._result.stdout = bytes(self._capture)

    def connection_lost(self, exc: Exception | None) -> None:
        self.writable.set()  # a feeder waiting for room finds the channel closed
        self.finish()
        self.lost_exc = exc
        if not self.closed.done():
            self.closed.set_result(None)


async def wait_for_end(
    closed: asyncio.Future[Any], exited: asyncio.Future[Any], grace: float | None
) -> bool:
    """Wait until the output of a command ends (``closed``), or, once it has exited
    (``exited``), at most ``grace`` more seconds (None: no limit). Returns True when the
    output was still open after the grace: a background process holds it.

    Neither future is cancelled, even when this wait is (they belong to the session)."""
    await asyncio.wait([closed, exited], return_when=asyncio.FIRST_COMPLETED)
    if closed.done():
        return False
    if grace is None or grace == float("inf"):
        await asyncio.shield(closed)
        return False
    await asyncio.wait([closed], timeout=max(0.0, grace))
    return not closed.done()


def report_held_output(formatter: Any, hostname: str, command: str, grace: float) -> None:
    """Say (debug log; once per host on stderr with a verbose formatter) that a background
    process kept a command's output open after it exited."""
    logger.debug(
        "%s: %r exited but a background process kept its output open; stopped "
        "waiting after %gs (the process keeps running)",
        hostname,
        command,
        grace,
    )
    event = getattr(formatter, "output_held", None)
    if event is not None:
        event(hostname, command, grace)
