"""Remote commands over a node's shared connection: run one, time it out, kill it.

A command runs in an exec session of the node's :class:`~sshjobs.connection.Connection` once a
session slot is free; its output goes line by line to a formatter (or is captured whole). A
command cancelled or timed out is killed on the host with its whole process group, from
another session: the command reports its process group first (``kill_on_cancel``), as OpenSSH
ignores SSH signal requests in some configurations.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import asyncssh

from .connection import Connection
from .errors import CommandTimeoutError, SshConnectionError
from .results import CommandResult
from .session import (
    LineSession,
    SessionSlots,
    feed_stdin,
    kill_group_command,
    report_held_output,
    report_pid,
    wait_for_end,
)
from .tail import with_tail

__all__ = ["RemoteCommands", "wire_command"]

logger = logging.getLogger("sshjobs.remote")

#: seconds we wait for a killed command to report how it ended
KILL_GRACE = 3.0
#: seconds we wait for the output of a command whose exit status came at its timeout
EXIT_GRACE = 0.5
#: bound on the wait for a cancelled command's pid: it comes with the shell's first word, or the
#: session ends (which settles it too), so this only matters on a stuck connection; a shorter
#: bound let commands survive on a loaded machine (the fallback, an SSH signal, is ignored by
#: OpenSSH for root)
PID_WAIT = 30.0
#: times we retry opening a session refused while none of ours is open
LONELY_RETRIES = 20


def wire_command(command: str) -> str | bytes:
    """The command as sent: text, or - when it holds arguments that are not UTF-8 (Python
    decodes such command-line bytes as lone surrogates) - the original bytes, as ssh sends
    them, instead of failing to encode them after connecting."""
    try:
        command.encode("utf-8")
    except UnicodeEncodeError:
        return command.encode("utf-8", "surrogateescape")
    return command


class _Silent:
    """A formatter that discards everything (for our own helper commands)."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwds: None


_SILENT = _Silent()


class RemoteCommands:
    """Commands run over ``connection`` (the node's)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @property
    def hostname(self) -> str:
        return self.connection.host

    async def execute(
        self,
        command: str,
        *,
        formatter: Any,
        label: str = "",
        capture: bool = False,
        timeout: float | None = None,
        x11: bool = False,
        killable: bool = True,
        priority: bool = False,
        stdin: Any = None,
        output_grace: float | None = None,
    ) -> CommandResult:
        """Run ``command`` and return its result (see :meth:`sshjobs.node.SshNode.execute`:
        here every setting is given, none is taken from the node).

        ``killable``: have the command report its process group, so that it can be killed
        with all its children; ``priority``: take the next free session slot before the
        commands waiting (our own helper commands: kills).
        """
        formatter = with_tail(formatter)
        grace = output_grace
        result = CommandResult(host=self.hostname, command=command, label=label)
        remote_command = report_pid(command) if killable else command
        slots, chan, session = await self._open_session(
            lambda: LineSession(self.hostname, formatter, result, capture, expect_pid=killable),
            remote_command,
            x11,
            priority=priority,
        )
        result.start = time.time()
        formatter.session_start(self.hostname, command)
        timed_out = held = False
        feeder = None
        try:
            if stdin is None:
                chan.write_eof()  # commands read an empty stdin, like ssh -n
            else:
                feeder = asyncio.ensure_future(feed_stdin(chan, session, stdin))
            try:
                async with asyncio.timeout(timeout):
                    held = await wait_for_end(session.closed, session.exited, grace)
                    if held:
                        await self._stop_listening(chan, session)
            except TimeoutError:
                # the exit status arrived before the limit, the channel is only kept open (a
                # background child holding the output): the command finished in time
                timed_out = result.exit_status is None and result.signal is None
                if not timed_out:
                    await self._close_after_exit(chan, session)
        except asyncio.CancelledError:
            self._kill_nowait(chan, session)
            raise
        finally:
            if feeder is not None and not feeder.done():
                feeder.cancel()
            if stdin is not None:
                stdin.close()
            slots.release()
            result.end = time.time()
            formatter.session_stop(self.hostname, command)
        if held:
            report_held_output(formatter, self.hostname, label or command, grace or 0.0)
        if timed_out:
            await self._kill(chan, session)
            result.error = CommandTimeoutError(
                f"command timed out after {timeout}s and was killed: {label or command}",
                host=self.hostname,
                command=command,
                signal=result.signal,
                stderr_tail=result.stderr_tail.decode("utf-8", "replace"),
            )
        elif result.exit_status is None and result.signal is None:
            raise SshConnectionError(
                f"connection lost while running {label or command}"
                + (f": {session.lost_exc}" if session.lost_exc else ""),
                host=self.hostname,
            ) from session.lost_exc
        return result

    async def _open_session(
        self,
        factory: Callable[[], LineSession],
        remote_command: str,
        x11: bool,
        priority: bool = False,
    ) -> tuple[SessionSlots, asyncssh.SSHClientChannel[bytes], LineSession]:
        """Wait for a session slot and open an exec session; returns (slots, chan, session).

        A refused channel (the server's MaxSessions is lower than ours, or it is still freeing a
        closed session) shrinks the limit and waits for another slot."""
        lonely_refusals = 0
        while True:
            conn = await self.connection.connect_lazy()
            slots = self.connection.slots_of(conn)
            if slots is None:  # closed meanwhile: connect again
                continue
            await slots.acquire(front=priority)
            if conn.is_closed():  # lost while we waited for a slot
                slots.release()
                continue
            # (asyncssh sends a bytes command as it is, though its hint says str)
            opening: asyncio.Future[Any] = asyncio.ensure_future(
                conn.create_session(
                    factory,
                    wire_command(remote_command),  # type: ignore[arg-type]
                    encoding=None,
                    x11_forwarding=x11,
                )
            )
            try:
                chan, session = await asyncio.shield(opening)
            except asyncio.CancelledError:
                # the exec request may be on its way: the command would start all the same,
                # out of our hands - kill it once the session is open
                slots.release()
                self._in_background(self._kill_once_open(opening))
                raise
            except asyncssh.ChannelOpenError as exc:
                retry = slots.refused()
                slots.release()
                if retry:
                    continue
                lonely_refusals += 1
                if lonely_refusals <= LONELY_RETRIES:
                    await asyncio.sleep(0.05)
                    continue
                raise SshConnectionError(
                    f"cannot open a session: {exc.reason}", host=self.hostname
                ) from exc
            except BaseException as exc:
                slots.release()
                if isinstance(exc, (OSError, asyncssh.Error)):
                    raise SshConnectionError(
                        f"cannot open a session: {exc}", host=self.hostname
                    ) from exc
                raise
            slots.opened()
            return slots, chan, session

    async def _close_after_exit(self, chan: Any, session: LineSession) -> None:
        """The command returned but its channel stays open: take what output is on its way,
        then stop listening (what was received is kept)."""
        try:
            await asyncio.wait_for(asyncio.shield(session.closed), EXIT_GRACE)
        except TimeoutError:
            await self._stop_listening(chan, session)

    @staticmethod
    async def _stop_listening(chan: Any, session: LineSession) -> None:
        """The command has exited but its output is held open: close our end of the session
        (nothing is killed) and keep what was received."""
        session.finish()
        chan.close()
        try:
            await asyncio.wait_for(asyncio.shield(session.closed), KILL_GRACE)
        except TimeoutError:
            logger.debug("session close not acknowledged after %gs", KILL_GRACE)

    def _kill_nowait(self, chan: Any, session: LineSession) -> None:
        """Cancelled: kill the remote command in the background; the connection's ``close()``
        waits for these kills before closing."""
        self._in_background(self._kill(chan, session))

    def _in_background(self, coroutine: Coroutine[Any, Any, None]) -> None:
        self.connection.in_background(coroutine)

    async def _kill_once_open(self, opening: asyncio.Future[Any]) -> None:
        """A session whose opening was cancelled may open all the same: kill its command."""
        try:
            chan, session = await opening
        except Exception:  # never opened: nothing runs remotely
            return
        await self._kill(chan, session)

    async def _kill(self, chan: Any, session: LineSession) -> None:
        """Kill the command's process group (TERM, then KILL) from another session, then
        close its channel (sshd keeps a session open as long as its process lives).

        Cancelled right after its start, a command may not have reported its pid yet: it is
        on its way (the shell's first word), so wait for it rather than fall back on an SSH
        signal request, which OpenSSH ignores for root (the command would survive)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(session.pid_settled), PID_WAIT)
        pid = session.remote_pid
        try:
            if pid is not None:
                # bounded like the pid wait, not by KILL_GRACE: on a loaded machine the kill's
                # own shell may take seconds to start; given up on, its TERM still had to come
                # when close() returned (the command outlived the node's close)
                await self.execute(
                    kill_group_command(pid),
                    label="kill",
                    timeout=PID_WAIT,
                    formatter=_SILENT,
                    killable=False,
                    priority=True,
                )
            else:  # no pid will come (kill_on_cancel=False...): best effort
                chan.send_signal("KILL")
        except (OSError, asyncssh.Error, SshConnectionError) as exc:
            logger.debug("%s: killing a command: %s", self.hostname, exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(session.closed), KILL_GRACE)
        chan.close()
