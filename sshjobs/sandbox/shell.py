"""Run one SSH session of a sandbox node as a real local process.

Each exec (or shell) request becomes ``/bin/sh -c COMMAND`` started in its own process group
(its own session, like sshd does), in the node's home directory. Standard input, output and
error are copied between the SSH channel and the process; the exit status or the killing
signal is reported back to the client exactly as a real sshd would. When the client sends a
``signal`` request, the signal goes to the whole process group; when the channel closes
before the command is done, the group is killed, so a cancelled job leaves nothing behind.
A pty request is honoured with a real pseudo-terminal (stdout and stderr merged, as with sshd).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import struct
import termios
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncssh

logger = logging.getLogger("sshjobs.sandbox.shell")

CHUNK = 65536
REAP_GRACE = 5.0  # seconds a cancelled session still waits for its killed process


@dataclass
class NodeHost:
    """What a session needs to know about the node it runs on."""

    name: str
    home: str
    #: process groups started by this node that may still have members
    groups: set[int] = field(default_factory=set)

    def environment(self, username: str, extra: dict[str, str]) -> dict[str, str]:
        """The environment of a command: a small login-like one, plus what the client sent."""
        env = {
            "HOME": self.home,
            "USER": username,
            "LOGNAME": username,
            "SHELL": "/bin/sh",
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "SSHJOBS_SANDBOX_NODE": self.name,
        }
        env.update(extra)
        return env

    def kill_group(self, pgid: int, signum: int = signal.SIGKILL) -> None:
        """Send a signal to one of our process groups; forget it when it is gone."""
        try:
            os.killpg(pgid, signum)
        except ProcessLookupError:
            self.groups.discard(pgid)
        except PermissionError:  # pragma: no cover - the pgid was reused by someone else
            self.groups.discard(pgid)

    def forget_if_empty(self, pgid: int) -> None:
        """Drop a process group from the books once no process is left in it."""
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            self.groups.discard(pgid)

    def kill_all(self) -> None:
        """Kill every process group this node started (used when the sandbox stops)."""
        for pgid in list(self.groups):
            self.kill_group(pgid)
            self.groups.discard(pgid)


def _signal_number(name: str) -> int | None:
    try:
        return int(getattr(signal, "SIG" + name.upper().removeprefix("SIG")))
    except AttributeError:
        return None


async def _copy_to_channel(reader: asyncio.StreamReader, writer: asyncssh.SSHWriter[bytes]) -> None:
    """Copy a process pipe to the channel until EOF (or until the channel is gone)."""
    while data := await reader.read(CHUNK):
        try:
            writer.write(data)
            await writer.drain()
        except (BrokenPipeError, ConnectionError, asyncssh.Error):
            # the client went away: keep draining the pipe so the process is not blocked
            continue


async def _channel_input(process: asyncssh.SSHServerProcess[bytes]) -> AsyncIterator[bytes]:
    """The chunks the client sends on the session's stdin, until EOF or the channel is gone
    (break, window-size and signal notifications skipped)."""
    while True:
        try:
            data = await process.stdin.read(CHUNK)
        except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged, asyncssh.SignalReceived):
            continue
        except (asyncssh.Error, ConnectionError):
            return
        if not data:
            return
        yield data


async def _feed_process(
    process: asyncssh.SSHServerProcess[bytes], stdin: asyncio.StreamWriter
) -> None:
    """Copy the channel's input to the process, then close its stdin on EOF."""
    broken = False
    async for data in _channel_input(process):
        if broken:
            continue
        try:
            stdin.write(data)
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            broken = True
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stdin.close()


def _on_signal(process: asyncssh.SSHServerProcess[bytes], action: Callable[[int], None]) -> None:
    """Route the session's ``signal`` requests to ``action`` rather than to the stdin stream.

    asyncssh queues signals into the input stream, where they are never seen once the client
    has sent EOF; a signal must reach the process whatever the state of its input.
    """

    def signal_received(name: str) -> None:
        signum = _signal_number(name)
        if signum is None:
            logger.warning("ignoring unknown signal %r", name)
        else:
            action(signum)

    process.signal_received = signal_received  # type: ignore[method-assign,assignment]


def _report_exit(process: asyncssh.SSHServerProcess[bytes], returncode: int) -> None:
    """Send exit-status, or exit-signal when the process was killed, and close the channel."""
    try:
        if returncode < 0:
            process.exit_with_signal(signal.Signals(-returncode).name.removeprefix("SIG"))
        else:
            process.exit(returncode)
    except (OSError, asyncssh.Error):  # the channel is already closed
        pass


def _succeeded(future: asyncio.Future[Any]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


async def _supervise(
    process: asyncssh.SSHServerProcess[bytes],
    host: NodeHost,
    pgid: int,
    wait: asyncio.Future[int],
    pumps: list[asyncio.Task[None]],
    release: Callable[[], None] = lambda: None,
) -> None:
    """Wait for the process (and its output) or for the channel to close, whichever first.

    When the command does not finish by itself - the channel closed, copying its output
    failed, or this session is cancelled (the sandbox stopping) - its process group is
    killed, ``release`` lets go of its pipes (a child that left the group may still hold
    them open: EOF would never come) and the process is reaped, so that no future is left
    unretrieved and no transport unclosed.
    """
    closed = asyncio.ensure_future(process.channel.wait_closed())
    finished: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(wait, *pumps))
    try:
        done, _ = await asyncio.wait([finished, closed], return_when=asyncio.FIRST_COMPLETED)
        if _succeeded(finished):
            _report_exit(process, wait.result())
        elif finished in done:
            logger.warning(
                "%s: copying the output of process group %d failed: %r",
                host.name,
                pgid,
                finished.exception(),
            )
        else:
            logger.debug("%s: channel closed, killing process group %d", host.name, pgid)
    finally:
        closed.cancel()
        if not _succeeded(finished):
            host.kill_group(pgid)
            release()
            for pump in pumps:
                pump.cancel()
            await _reap(asyncio.gather(wait, finished, closed, return_exceptions=True))
        host.forget_if_empty(pgid)


async def _reap(reaping: asyncio.Future[Any]) -> None:
    """Await ``reaping`` even when cancelled meanwhile (then for a bounded time only, and the
    cancellation goes on once it is done)."""
    try:
        await asyncio.shield(reaping)
    except asyncio.CancelledError:
        await asyncio.wait([reaping], timeout=REAP_GRACE)
        if not reaping.done():  # pragma: no cover - a process SIGKILL does not end
            logger.warning("process not reaped within %ss", REAP_GRACE)
        raise


def _close_pipes(proc: asyncio.subprocess.Process) -> Callable[[], None]:
    """What releases the pipes of ``proc``: closing each pipe's transport; the process
    transport then closes itself once the process is reaped. (Not the process transport
    itself: its close() would poll, hence maybe reap, the child behind the child watcher's
    back - "Unknown child process pid ..." and a wrong exit status.)"""

    def release() -> None:
        transport = getattr(proc, "_transport", None)  # asyncio keeps it private
        if transport is None or transport.is_closing():
            return
        for fd in (0, 1, 2):
            pipe = transport.get_pipe_transport(fd)
            if pipe is not None:
                pipe.close()

    return release


async def _run_with_pipes(
    process: asyncssh.SSHServerProcess[bytes], host: NodeHost, argv: list[str], env: dict[str, str]
) -> None:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=host.home,
        env=env,
        start_new_session=True,
    )
    host.groups.add(proc.pid)
    _on_signal(process, lambda signum: host.kill_group(proc.pid, signum))
    assert proc.stdin and proc.stdout and proc.stderr
    feeder = asyncio.create_task(_feed_process(process, proc.stdin))
    pumps = [
        asyncio.create_task(_copy_to_channel(proc.stdout, process.stdout)),
        asyncio.create_task(_copy_to_channel(proc.stderr, process.stderr)),
    ]
    try:
        await _supervise(
            process, host, proc.pid, asyncio.ensure_future(proc.wait()), pumps, _close_pipes(proc)
        )
    finally:
        feeder.cancel()
        await asyncio.gather(feeder, return_exceptions=True)
        # the process is gone: close its stdin now, so that its transport closes with it
        # rather than whenever the loop notices the broken pipe (maybe after the loop ends)
        proc.stdin.close()


def _set_window(fd: int, size: tuple[int, int, int, int]) -> None:
    width, height, pixwidth, pixheight = size
    if width and height:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, pixwidth, pixheight))


async def _run_with_pty(
    process: asyncssh.SSHServerProcess[bytes], host: NodeHost, argv: list[str], env: dict[str, str]
) -> None:
    master, slave = os.openpty()
    _set_window(master, tuple(process.term_size))  # type: ignore[arg-type]
    env = {**env, "TERM": process.term_type or "dumb"}
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=host.home,
            env=env,
            start_new_session=True,
            # make the pty the controlling terminal, so that closing it hangs the group up
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
    finally:
        os.close(slave)
    host.groups.add(proc.pid)
    _on_signal(process, lambda signum: host.kill_group(proc.pid, signum))
    resize = lambda w, h, pw, ph: _set_window(master, (w, h, pw, ph))  # noqa: E731
    process.terminal_size_changed = resize  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    output_done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        try:
            data = os.read(master, CHUNK)
        except OSError:  # EIO: every process holding the terminal is gone
            data = b""
        if data:
            with contextlib.suppress(OSError, asyncssh.Error):
                process.stdout.write(data)
            return
        loop.remove_reader(master)
        if not output_done.done():
            output_done.set_result(None)

    async def feed() -> None:
        async for data in _channel_input(process):
            with contextlib.suppress(OSError):
                os.write(master, data)

    async def output() -> None:
        await output_done

    loop.add_reader(master, readable)
    feeder = asyncio.create_task(feed())
    try:
        await _supervise(
            process,
            host,
            proc.pid,
            asyncio.ensure_future(proc.wait()),
            [asyncio.create_task(output())],
        )
    finally:
        feeder.cancel()
        loop.remove_reader(master)
        os.close(master)
        await asyncio.gather(feeder, return_exceptions=True)


async def run_session(process: asyncssh.SSHServerProcess[bytes], host: NodeHost) -> None:
    """Serve one exec/shell request of ``process`` on ``host``: the process factory."""
    command = process.command
    interactive = process.term_type is not None
    if command is None:
        argv = ["/bin/sh", "-i"] if interactive else ["/bin/sh"]
    else:
        argv = ["/bin/sh", "-c", command]
    username = process.get_extra_info("username") or "sandbox"
    env = host.environment(username, {str(k): str(v) for k, v in process.env.items()})
    logger.debug("%s: running %r (pty=%s)", host.name, command, interactive)
    try:
        if interactive:
            await _run_with_pty(process, host, argv, env)
        else:
            await _run_with_pipes(process, host, argv, env)
    except OSError as exc:
        logger.warning("%s: cannot start %r: %s", host.name, command, exc)
        with contextlib.suppress(OSError, asyncssh.Error):
            process.stderr.write(f"sandbox: cannot start command: {exc}\n".encode())
            process.exit(127)
