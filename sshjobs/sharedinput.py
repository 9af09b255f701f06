"""One input fed to the stdin of many remote commands: ``Run("sha256sum", stdin=shared)``.

A :class:`SharedInput` reads its source once (a binary file or pipe such as
``sys.stdin.buffer``, bytes, or an async iterable of bytes) and serves it to any number of
:class:`InputReader` s - one per command - each reading at its own pace:

* ``spill=False`` (default): chunks are kept in memory only until every open reader has read
  them, and reading the source pauses while ``max_buffered`` bytes are waiting for the slowest
  reader. Memory stays bounded whatever the input size; the readers must all be able to run at
  once (a reader that is never read holds the others back once the buffer is full - close it).
* ``spill=True``: what was read is appended to an unlinked temporary file and each reader reads
  from it at its own offset: memory stays flat, nobody waits for anybody, and a reader may start
  long after the others (commands run a few at a time by a jobs window). The disk holds a copy
  of the input until the SharedInput is closed.

Readers must be created before reading starts (when the commands are built): a reader created
later would miss what was already dropped. A reader is closed when its command ends (the
command's job closes it even when the command never ran), so that it holds nobody back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
import tempfile
from collections import deque
from collections.abc import AsyncIterable
from typing import IO, Any

__all__ = ["CHUNK_SIZE", "MAX_BUFFERED", "InputReader", "SharedInput"]

logger = logging.getLogger("sshjobs.sharedinput")

#: bytes read from the source at once
CHUNK_SIZE = 64 * 1024
#: bytes kept in memory for readers behind the fastest one (spill=False)
MAX_BUFFERED = 4 * 1024 * 1024


class SharedInput:
    """The source of the stdin of many commands (see the module docstring)."""

    def __init__(
        self,
        source: IO[bytes] | bytes | AsyncIterable[bytes],
        *,
        spill: bool = False,
        chunk_size: int = CHUNK_SIZE,
        max_buffered: int = MAX_BUFFERED,
    ) -> None:
        self._source = source
        self.spill = spill
        self.chunk_size = chunk_size
        self.max_chunks = max(1, max_buffered // chunk_size)
        self._chunks: deque[bytes] = deque()  # memory mode: chunks [base, end)
        self._base = 0  # index of _chunks[0]
        self._end = 0  # chunks read from the source so far
        self._size = 0  # bytes read so far (spill file size)
        self._eof = False
        self._error: BaseException | None = None
        self._readers: set[InputReader] = set()
        self._changed: asyncio.Condition | None = None
        self._filling: asyncio.Task[None] | None = None
        self._file: IO[bytes] | None = None
        self._iterator: Any = None
        self._pipe: asyncio.StreamReader | None = None
        self._pipe_fd: int | None = None
        self._caller_fd: int | None = None
        self._was_blocking = True
        self._pipe_transport: Any = None

    # -- readers -------------------------------------------------------------------------
    def reader(self) -> InputReader:
        """A new reader from the start of the input (create them all before reading)."""
        if self._base > 0:
            raise RuntimeError(
                "SharedInput.reader(): reading has started, the start of the "
                "input is gone (create the readers first, or use spill=True)"
            )
        reader = InputReader(self)
        self._readers.add(reader)
        return reader

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:
            self._changed = asyncio.Condition()
        return self._changed

    def _notify(self) -> None:
        condition = self._condition()

        async def wake() -> None:
            async with condition:
                condition.notify_all()

        asyncio.get_running_loop().create_task(wake())

    def _release(self, reader: InputReader) -> None:
        self._readers.discard(reader)
        self._trim()
        if self._changed is not None:
            with contextlib.suppress(RuntimeError):  # no running loop: nobody can be waiting
                self._notify()
        if not self._readers:  # nobody left to read: stop reading the source
            with contextlib.suppress(RuntimeError):  # the loop is gone already
                self.close()

    def _trim(self) -> None:
        """Memory mode: drop the chunks every open reader has read."""
        if self.spill:
            return
        lowest = min((r._index for r in self._readers), default=self._end)
        while self._base < lowest and self._chunks:
            self._chunks.popleft()
            self._base += 1

    # -- the source --------------------------------------------------------------------------
    async def _read_source(self) -> bytes:
        source = self._source
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source[self._size : self._size + self.chunk_size])
            return data
        if hasattr(source, "__aiter__"):
            if self._iterator is None:
                self._iterator = source.__aiter__()
            try:
                return bytes(await self._iterator.__anext__())
            except StopAsyncIteration:
                return b""
        fd = _fileno(source)
        if fd is None:  # a file-like object without descriptor: read it in a thread
            read = getattr(source, "read1", None) or source.read
            return bytes(await asyncio.to_thread(read, self.chunk_size))
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode) or (stat.S_ISCHR(mode) and not os.isatty(fd)):
            return os.read(fd, self.chunk_size)  # a file, /dev/null: reads do not block
        if self._pipe is None:
            # a pipe, socket or terminal: read without blocking a thread (a thread blocked on
            # a pipe nobody closes would keep the process from exiting), from a duplicate of
            # the descriptor so that closing ours leaves the caller's open
            loop = asyncio.get_running_loop()
            self._pipe = asyncio.StreamReader(limit=self.chunk_size)
            self._caller_fd, self._was_blocking = fd, os.get_blocking(fd)
            self._pipe_fd = os.dup(fd)
            self._pipe_transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(self._pipe),  # type: ignore[arg-type]
                os.fdopen(self._pipe_fd, "rb", buffering=0),
            )
        return await self._pipe.read(self.chunk_size)

    async def _fill(self) -> None:
        """Read the source chunk by chunk (memory mode: while the buffer has room)."""
        condition = self._condition()
        try:
            while not self._eof:
                if not self.spill:
                    async with condition:
                        await condition.wait_for(
                            lambda: self._end - self._base < self.max_chunks or not self._readers
                        )
                data = await self._read_source()
                if not data:
                    self._eof = True
                elif self.spill:
                    if self._file is None:
                        self._file = tempfile.TemporaryFile(  # noqa: SIM115  lives as long as self, close() closes it
                            prefix="sshjobs-stdin-"
                        )
                    await asyncio.to_thread(os.pwrite, self._file.fileno(), data, self._size)
                    self._end += 1
                else:
                    self._chunks.append(data)
                    self._end += 1
                self._size += len(data)
                async with condition:
                    condition.notify_all()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the source failed: every reader sees it
            logger.debug("reading the shared input failed: %s", exc)
            self._error = exc
            self._eof = True
            async with condition:
                condition.notify_all()

    def _start(self) -> None:
        if self._filling is None:
            self._filling = asyncio.get_running_loop().create_task(self._fill())

    def close(self) -> None:
        """Stop reading the source and drop what is kept (memory or the spill file)."""
        if self._filling is not None and not self._filling.done():
            self._filling.cancel()
        self._chunks.clear()
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._pipe_transport is not None:
            self._pipe_transport.close()
            self._pipe_transport = None
            # the file description is shared with the caller's descriptor: as it was
            with contextlib.suppress(OSError, ValueError, TypeError):
                os.set_blocking(self._caller_fd, self._was_blocking)  # type: ignore[arg-type]


def _fileno(source: Any) -> int | None:
    try:
        return int(source.fileno())
    except (AttributeError, OSError, ValueError):
        return None


class InputReader:
    """One command's view of a :class:`SharedInput`: ``await read()`` until ``b""``."""

    def __init__(self, shared: SharedInput) -> None:
        self.shared = shared
        self._index = 0  # memory mode: next chunk
        self._offset = 0  # spill mode: next byte
        self.closed = False

    async def read(self) -> bytes:
        """The next piece of the input; ``b""`` at its end (the reader is then closed) or once
        closed. An error of the source is raised here."""
        shared = self.shared
        if self.closed:
            return b""
        shared._start()
        condition = shared._condition()
        async with condition:
            await condition.wait_for(lambda: self._ready() or self.closed)
        if shared._error is not None:
            raise shared._error
        if self.closed:
            return b""
        if shared.spill:
            size = min(shared.chunk_size * 4, shared._size - self._offset)
            if size <= 0:
                self.close()  # at the end: holds nothing any more
                return b""
            assert shared._file is not None
            data = await asyncio.to_thread(os.pread, shared._file.fileno(), size, self._offset)
            self._offset += len(data)
            return data
        if self._index >= shared._end:
            self.close()
            return b""
        data = shared._chunks[self._index - shared._base]
        self._index += 1
        shared._trim()
        if shared._end - shared._base < shared.max_chunks:
            async with condition:
                condition.notify_all()
        return data

    def _ready(self) -> bool:
        shared = self.shared
        if shared.spill:
            return self._offset < shared._size or shared._eof
        return self._index < shared._end or shared._eof

    def close(self) -> None:
        """This command reads no more: it holds the other readers back no longer."""
        if not self.closed:
            self.closed = True
            self.shared._release(self)
