"""What a connected SshNode can do: run a command, transfer files (apssh ``SshProxy`` methods).

Kept apart from :mod:`sshjobs.node` (which manages the connection itself) to keep both short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import asyncssh

from .errors import CommandTimeoutError, SshConnectionError, TransferError
from .results import CommandResult
from .session import (
    OUTPUT_GRACE,
    LineSession,
    SessionSlots,
    feed_stdin,
    kill_group_command,
    report_held_output,
    report_pid,
    wait_for_end,
)
from .tail import with_tail

__all__ = ["RemoteMixin"]

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


def _names(paths: Any) -> str:
    """``a, b`` for a list of paths, the path itself for one (no Python list in messages)."""
    if isinstance(paths, (list, tuple)):
        return ", ".join(str(path) for path in paths)
    return str(paths)


class RemoteMixin:
    """Commands and transfers over the node's shared connection (mixed into SshNode)."""

    hostname: str
    formatter: Any
    command_timeout: float | None
    kill_on_cancel: bool
    output_grace: float | None = OUTPUT_GRACE
    _kills: set[asyncio.Task]  # remote kills in progress (the node's close() awaits them)

    if TYPE_CHECKING:  # provided by SshNode (the connection's owner)

        async def connect_lazy(self) -> asyncssh.SSHClientConnection: ...

        def slots_of(self, conn: Any) -> SessionSlots | None: ...

        async def sftp_lazy(self) -> Any: ...

    async def execute(
        self,
        command: str,
        *,
        label: str = "",
        capture: bool = False,
        timeout: float | None = None,
        x11: bool = False,
        formatter: Any = None,
        report: bool = True,
        stdin: Any = None,
        output_grace: float | None = None,
    ) -> CommandResult:
        """Run ``command`` (a remote shell command line) and return its structured result.

        Output lines go to ``formatter`` (default: the node's) unless ``capture`` is True, in
        which case stdout is kept whole in ``result.stdout`` (stderr still goes to the
        formatter). A command still running after ``timeout`` seconds (default: the node's
        ``command_timeout``) is killed and ``result.error`` is a
        :class:`~sshjobs.errors.CommandTimeoutError`. Connection problems raise.
        ``stdin``: an :class:`~sshjobs.sharedinput.InputReader` whose data the command reads on
        its standard input (default: an empty stdin, as ``ssh -n``); it is closed at the end.

        Once the exit status has come, the end of the output is awaited at most
        ``output_grace`` seconds (default: the node's ``output_grace``): a process the command
        left in the background may hold it open for ever. We then close our end of the
        session and return; that process keeps running on the host.
        """
        formatter = with_tail(formatter or self.formatter)
        timeout = timeout if timeout is not None else self.command_timeout
        grace = output_grace if output_grace is not None else self.output_grace
        result = CommandResult(host=self.hostname, command=command, label=label)
        killable = self.kill_on_cancel and report
        remote_command = report_pid(command) if killable else command
        slots, chan, session = await self._open_session(
            lambda: LineSession(self.hostname, formatter, result, capture, expect_pid=killable),
            remote_command,
            x11,
            priority=not report,
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
        self, factory: Any, remote_command: str, x11: bool, priority: bool = False
    ) -> tuple[Any, Any, LineSession]:
        """Wait for a session slot and open an exec session; returns (slots, chan, session).

        A refused channel (the server's MaxSessions is lower than ours, or it is still freeing a
        closed session) shrinks the limit and waits for another slot."""
        lonely_refusals = 0
        while True:
            conn = await self.connect_lazy()
            slots = self.slots_of(conn)
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
        """Cancelled: kill the remote command in the background; the node's ``close()`` waits
        for these kills before closing the connection."""
        self._in_background(self._kill(chan, session))

    def _in_background(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        kills = self._kills
        kills.add(task)
        task.add_done_callback(kills.discard)

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
                    report=False,
                )
            else:  # no pid will come (kill_on_cancel=False...): best effort
                chan.send_signal("KILL")
        except (OSError, asyncssh.Error, SshConnectionError) as exc:
            logger.debug("%s: killing a command: %s", self.hostname, exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(session.closed), KILL_GRACE)
        chan.close()

    async def run(self, command: str, **kwds: Any) -> int | str | None:
        """apssh ``SshProxy.run``: exit status, or the signal name, or None."""
        result = await self.execute(command, **kwds)
        return result.returned

    # -- files (SFTP) --------------------------------------------------------------------------
    async def _sftp_call(self, what: str, method: str, *args: Any, **kwds: Any) -> Any:
        sftp = await self.sftp_lazy()
        try:
            return await getattr(sftp, method)(*args, **kwds)
        except (OSError, asyncssh.SFTPError, asyncssh.Error) as exc:
            raise TransferError(
                f"{what} failed: {getattr(exc, 'reason', None) or exc}", host=self.hostname
            ) from exc

    async def mkdir(self, remotedir: str, mode: int = 0o755) -> None:
        """Create a remote directory (and its parents) if missing."""
        sftp = await self.sftp_lazy()
        attrs = asyncssh.SFTPAttrs(permissions=mode)
        try:
            await sftp.makedirs(remotedir, attrs=attrs, exist_ok=True)
        except (OSError, asyncssh.SFTPError) as exc:
            raise TransferError(
                f"cannot create remote directory {remotedir}: {exc}", host=self.hostname
            ) from exc

    async def put_file_s(
        self, localpaths: str | Sequence[str], remotepath: str, **kwds: Any
    ) -> None:
        """SFTP-upload file(s) (asyncssh ``put`` options: ``recurse``, ``preserve``...)."""
        await self._sftp_call(
            f"push of {_names(localpaths)} to {remotepath}", "put", localpaths, remotepath, **kwds
        )

    async def get_file_s(
        self, remotepaths: str | Sequence[str], localpath: str, **kwds: Any
    ) -> None:
        """SFTP-download file(s) (asyncssh ``get`` options)."""
        await self._sftp_call(
            f"pull of {_names(remotepaths)} to {localpath}", "get", remotepaths, localpath, **kwds
        )

    async def put_string_script(
        self, body: str | bytes, remotefile: str, mode: int = 0o755
    ) -> None:
        """Write ``body`` into ``remotefile`` with ``mode``."""
        data = body.encode() if isinstance(body, str) else body
        sftp = await self.sftp_lazy()
        try:
            async with sftp.open(
                remotefile, "wb", attrs=asyncssh.SFTPAttrs(permissions=mode)
            ) as handle:
                await handle.write(data)
            await sftp.chmod(remotefile, mode)
        except (OSError, asyncssh.SFTPError) as exc:
            raise TransferError(f"cannot write {remotefile}: {exc}", host=self.hostname) from exc

    async def stage_script(
        self, name: str, body: bytes, includes: Sequence[str] = ()
    ) -> tuple[str, str]:
        """Upload a script (mode 0700) and its includes into a new private directory.

        Returns ``(directory, script path)``, relative to the remote home directory.
        """
        sftp = await self.sftp_lazy()
        directory = f".sshjobs-{secrets.token_hex(5)}"
        path = f"{directory}/{name}"
        try:
            await sftp.mkdir(directory, asyncssh.SFTPAttrs(permissions=0o700))
            async with sftp.open(path, "wb", attrs=asyncssh.SFTPAttrs(permissions=0o700)) as handle:
                await handle.write(body)
            if includes:
                await sftp.put(list(includes), directory, preserve=True, recurse=True)
        except (OSError, asyncssh.SFTPError) as exc:
            raise TransferError(f"cannot upload script {name}: {exc}", host=self.hostname) from exc
        return directory, path

    async def unstage_script(self, directory: str) -> None:
        """Remove a directory made by :meth:`stage_script` (failures are only logged)."""
        try:
            sftp = await self.sftp_lazy()
            await sftp.rmtree(directory)
        except (OSError, asyncssh.Error, asyncssh.SFTPError) as exc:
            logger.warning("%s: cannot remove %s: %s", self.hostname, directory, exc)

    async def remote_home(self) -> str:
        """The remote user's home directory (SFTP's idea of ``.``)."""
        sftp = await self.sftp_lazy()
        return str(PurePosixPath(await sftp.realpath(".")))
