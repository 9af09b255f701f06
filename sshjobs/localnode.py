"""LocalNode: the same command API as SshNode, run as local subprocesses.

Commands run through the shell (``/bin/sh -c``) in their own process group, so that a timeout
or a cancelled job kills the whole tree. Output is handled exactly as for remote commands
(bytes, complete lines to the formatter, capture kept whole). Scripts are staged in a private
temporary directory (0700) removed afterwards; ``Push``/``Pull`` are local copies.

A command that leaves a child in the background holding its pipes (``server &``) is done
``output_grace`` seconds after it exits, as on an SshNode: we close our ends of the pipes and
return its exit status; the child keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from asyncssh import EXTENDED_DATA_STDERR

from .errors import CommandTimeoutError, SshJobsError, TransferError
from .formatters import Formatter, HostFormatter
from .results import STDERR_TAIL_BYTES, CommandResult
from .session import OUTPUT_GRACE, emit_lines, report_held_output, wait_for_end
from .tail import with_tail

__all__ = ["LocalNode"]

logger = logging.getLogger("sshjobs.localnode")


class _ExitAwareProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's protocol for ``Process``, also telling when the process itself has exited
    (``Process.wait()`` also waits for the pipes, which a background child may hold)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=2**16, loop=loop)
        self.exited: asyncio.Future[None] = loop.create_future()

    def process_exited(self) -> None:
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(None)


def _close_pipes(proc: asyncio.subprocess.Process) -> None:
    """Close our ends of the process' pipes.

    Each pipe, not the process transport: its close() would poll, hence maybe reap, the child
    behind the child watcher's back ("Unknown child process pid ...", exit status 255); it
    closes itself once the process is reaped and the pipes closed."""
    transport = getattr(proc, "_transport", None)  # asyncio keeps it private
    if transport is not None and not transport.is_closing():
        for fd in (0, 1, 2):
            pipe = transport.get_pipe_transport(fd)
            if pipe is not None:
                pipe.close()


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "LOCALUSER"


class _Output:
    """The output of one local command: complete lines to the formatter (stdout kept whole
    instead when captured), and the tail of stderr."""

    def __init__(self, host: str, formatter: Any, capture: bool) -> None:
        self.host = host
        self.formatter = formatter
        self.capture = capture
        self.captured = bytearray()
        self.tail = bytearray()
        self.partial: dict[Any, bytearray] = {}

    async def pump(self, stream: asyncio.StreamReader, datatype: Any) -> None:
        while data := await stream.read(65536):
            if datatype == EXTENDED_DATA_STDERR:
                self.tail.extend(data)
                if len(self.tail) > 2 * STDERR_TAIL_BYTES:
                    del self.tail[:-STDERR_TAIL_BYTES]
            elif self.capture:
                self.captured.extend(data)
                continue
            emit_lines(self.partial, data, datatype, self.host, self.formatter)
        rest = self.partial.pop(datatype, None)
        if rest:
            self.formatter.line(bytes(rest), datatype, self.host)

    async def complete(
        self, proc: asyncio.subprocess.Process, exited: asyncio.Future[None], grace: float | None
    ) -> bool:
        """Pump the output to its end, or until ``grace`` seconds after the command exited;
        True when a background child still held the pipes then."""
        assert proc.stdout is not None and proc.stderr is not None
        pumps = asyncio.gather(
            self.pump(proc.stdout, None), self.pump(proc.stderr, EXTENDED_DATA_STDERR)
        )
        try:
            held = await wait_for_end(pumps, exited, grace)
            if not held:
                await pumps  # raises what a pump raised (a formatter error)
                await proc.wait()
                return False
        finally:
            if not pumps.done():
                pumps.cancel()
                await asyncio.gather(pumps, return_exceptions=True)
        for datatype, rest in list(self.partial.items()):
            if rest:
                self.formatter.line(bytes(rest), datatype, self.host)
        self.partial.clear()
        _close_pipes(proc)
        await proc.wait()
        return True

    def settle(self, result: CommandResult, code: int | None) -> None:
        """Fill ``result`` with how the command ended and what it output."""
        if code is not None and code < 0:
            result.signal = signal.Signals(-code).name.removeprefix("SIG")
        else:
            result.exit_status = code
        result.stderr_tail = bytes(self.tail[-STDERR_TAIL_BYTES:])
        if self.capture:
            result.stdout = bytes(self.captured)


class LocalNode:
    """Run commands on this machine (apssh: ``LocalNode(formatter=None, verbose=None)``)."""

    is_local = True
    #: the name the monitor and the run report show for this node (see SshNode.monitor_name)
    monitor_name: str | None = None

    def __init__(
        self,
        formatter: Formatter | None = None,
        verbose: bool | None = None,
        *,
        command_timeout: float | None = None,
        cwd: str | None = None,
        output_grace: float | None = OUTPUT_GRACE,
    ) -> None:
        self.hostname = "LOCALNODE"
        self.username = _local_user()
        self.gateway = None
        self.formatter = formatter if formatter is not None else HostFormatter()
        if verbose is not None:
            self.formatter.verbose = verbose
        self.formatter.adapt_to_proxy(self)
        self.command_timeout = command_timeout
        self.cwd = cwd
        self.output_grace = output_grace

    def __str__(self) -> str:
        return "LOCALNODE"

    def __repr__(self) -> str:
        return "LocalNode()"

    def user_host(self) -> str:
        return f"{self.username}@localhost"

    def distance(self) -> int:
        return 0

    # connection life cycle: nothing to do, same interface as SshNode
    def add_user(self, user: Any) -> None:
        pass

    async def remove_user(self, user: Any) -> None:
        pass

    async def connect_lazy(self) -> None:
        return None

    def is_connected(self) -> bool:
        return False

    async def close(self) -> None:
        pass

    async def __aenter__(self) -> LocalNode:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        pass

    async def execute(
        self,
        command: str,
        *,
        label: str = "",
        capture: bool = False,
        timeout: float | None = None,
        x11: bool = False,
        formatter: Any = None,
        stdin: Any = None,
        output_grace: float | None = None,
    ) -> CommandResult:
        """Run ``command`` through the local shell; same contract as ``SshNode.execute``
        (``stdin``: an :class:`~sshjobs.sharedinput.InputReader`, closed at the end)."""
        formatter = with_tail(formatter or self.formatter)
        timeout = timeout if timeout is not None else self.command_timeout
        grace = output_grace if output_grace is not None else self.output_grace
        result = CommandResult(host=self.hostname, command=command, label=label)
        proc, exited = await self._start(command, stdin)
        formatter.session_start(self.hostname, command)
        feeder = None if stdin is None else asyncio.ensure_future(_feed(proc, stdin))
        output = _Output(self.hostname, formatter, capture)
        held = False
        try:
            async with asyncio.timeout(timeout):
                held = await output.complete(proc, exited, grace)
        except TimeoutError:
            await self._stop(proc)
            result.error = CommandTimeoutError(
                f"command timed out after {timeout}s and was killed: {label or command}",
                host=self.hostname,
                command=command,
            )
        except BaseException:  # cancelled (job timeout, scheduler), or a formatter error
            await self._stop(proc)
            raise
        finally:
            if feeder is not None:
                feeder.cancel()
                stdin.close()
            result.end = time.time()
            formatter.session_stop(self.hostname, command)
        if held:
            report_held_output(formatter, self.hostname, label or command, grace or 0.0)
        output.settle(result, proc.returncode)
        return result

    async def _start(
        self, command: str, stdin: Any
    ) -> tuple[asyncio.subprocess.Process, asyncio.Future[None]]:
        """Start ``command`` in a new session (its own process group); returns the process
        and a future done when it has exited. ``stdin`` is closed if it cannot start."""
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.subprocess_shell(
                lambda: _ExitAwareProtocol(loop),
                command,
                stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                cwd=self.cwd,
            )
        except OSError as exc:
            if stdin is not None:
                stdin.close()
            raise SshJobsError(f"cannot start {command!r}: {exc}", host=self.hostname) from exc
        return asyncio.subprocess.Process(transport, protocol, loop), protocol.exited

    @staticmethod
    async def _stop(proc: asyncio.subprocess.Process) -> None:
        """Kill the command's whole process group, close its pipes and reap it.

        Closing the pipes matters: output left unread in the pipes (reading paused, or a
        background child escaping the group still holding them) would otherwise keep it open,
        so ``wait()`` would never return and the transport would outlive the loop.
        Runs to the end even when cancelled again meanwhile (the cancellation is re-raised).
        """
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        _close_pipes(proc)
        reaping = asyncio.ensure_future(proc.wait())
        cancelled = False
        while not reaping.done():
            try:
                await asyncio.shield(reaping)
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError

    async def run(
        self, command: str, *, ignore_outputs: bool = False, cwd: str | None = None, **kwds: Any
    ) -> int | str | None:
        """apssh: exit status (or signal name); ``ignore_outputs`` sends both streams to
        /dev/null (e.g. to spawn a background process), ``cwd`` runs elsewhere."""
        if ignore_outputs:
            command = f"{command} >/dev/null 2>&1"
        if cwd is not None:
            import shlex

            command = f"cd {shlex.quote(cwd)} && {command}"
        return (await self.execute(command, **kwds)).returned

    # -- scripts and files ---------------------------------------------------------------------
    async def stage_script(
        self, name: str, body: bytes, includes: Sequence[str] = ()
    ) -> tuple[str, str]:
        return await asyncio.to_thread(self._stage, name, body, includes)

    @staticmethod
    def _stage(name: str, body: bytes, includes: Sequence[str]) -> tuple[str, str]:
        directory = tempfile.mkdtemp(prefix="sshjobs-")  # mode 0700
        path = os.path.join(directory, name)
        with open(path, "wb") as handle:
            handle.write(body)
        os.chmod(path, 0o700)
        for include in includes:
            target = os.path.join(directory, os.path.basename(include))
            if os.path.isdir(include):
                shutil.copytree(include, target, symlinks=True)
            else:
                shutil.copy2(include, target)
        return directory, path

    async def unstage_script(self, directory: str) -> None:
        await asyncio.to_thread(shutil.rmtree, directory, ignore_errors=True)

    async def put_file_s(
        self, localpaths: str | Sequence[str], remotepath: str, **kwds: Any
    ) -> None:
        await asyncio.to_thread(self._copy, localpaths, remotepath, kwds)

    async def get_file_s(
        self, remotepaths: str | Sequence[str], localpath: str, **kwds: Any
    ) -> None:
        await asyncio.to_thread(self._copy, remotepaths, localpath, kwds)

    def _copy(self, sources: str | Sequence[str], destination: str, kwds: dict[str, Any]) -> None:
        sources = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
        dest = Path(destination).expanduser()
        try:
            for source in map(Path, sources):
                target = dest / source.name if dest.is_dir() else dest
                if source.is_dir():
                    if not kwds.get("recurse", True):
                        raise IsADirectoryError(f"{source} is a directory (recurse=False)")
                    shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
                elif kwds.get("preserve", True):
                    shutil.copy2(source, target)
                else:
                    shutil.copyfile(source, target)
        except OSError as exc:
            raise TransferError(
                f"copy of {sources} to {destination} failed: {exc}", host=self.hostname
            ) from exc


async def _feed(proc: asyncio.subprocess.Process, reader: Any) -> None:
    """Write what ``reader`` gives to the command's stdin, then close it; stops quietly when
    the command no longer reads."""
    assert proc.stdin is not None
    try:
        while data := await reader.read():
            proc.stdin.write(data)
            await proc.stdin.drain()
        proc.stdin.close()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        reader.close()
