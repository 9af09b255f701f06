"""``SharedInput``: one input, many readers at their own pace, bounded memory or spilled to a
file; and ``Run(stdin=...)`` on real sshd nodes (several nodes, a script, a pipe source)."""
# ruff: noqa: F811 (test parameters are the fixtures imported from sshjobs_helpers)

from __future__ import annotations

import asyncio
import hashlib
import os
import threading

import pytest
from sshjobs_helpers import collect, nodes  # noqa: F401 (fixtures)

from asynciojobs import Scheduler
from sshjobs import Run, RunString, SshJob
from sshjobs.sharedinput import SharedInput


async def _drain(reader, pause: float = 0.0, limit: int | None = None) -> bytes:
    data = bytearray()
    while chunk := await reader.read():
        data += chunk
        if limit is not None and len(data) >= limit:
            reader.close()
            break
        if pause:
            await asyncio.sleep(pause)
    return bytes(data)


def test_readers_at_their_own_pace_get_everything_within_the_bound():
    payload = os.urandom(300_000)
    shared = SharedInput(payload, chunk_size=1000, max_buffered=10_000)
    readers = [shared.reader() for _ in range(3)]
    most = 0

    async def watch() -> None:
        nonlocal most
        while not shared._eof or shared._chunks:
            most = max(most, len(shared._chunks))
            await asyncio.sleep(0)

    async def main() -> list[bytes]:
        watcher = asyncio.ensure_future(watch())
        got = await asyncio.gather(
            _drain(readers[0]), _drain(readers[1], 0.0005), _drain(readers[2], 0.001)
        )
        watcher.cancel()
        return got

    assert asyncio.run(main()) == [payload] * 3
    assert 0 < most <= 10  # never more than max_buffered in memory


def test_a_closed_reader_holds_nobody_back():
    payload = os.urandom(100_000)
    shared = SharedInput(payload, chunk_size=1000, max_buffered=5_000)
    fast, quitter = shared.reader(), shared.reader()

    async def main() -> tuple[bytes, bytes]:
        return await asyncio.gather(_drain(fast), _drain(quitter, limit=3000))

    full, part = asyncio.run(main())
    assert full == payload and part == payload[: len(part)] and len(part) >= 3000


def test_spill_lets_a_reader_start_after_the_others_finished():
    payload = os.urandom(200_000)
    shared = SharedInput(payload, spill=True, chunk_size=4096)
    early, late = shared.reader(), shared.reader()

    async def main() -> tuple[bytes, bytes]:
        first = await _drain(early)
        return first, await _drain(late)

    assert asyncio.run(main()) == (payload, payload)
    assert not shared._chunks  # nothing of it in memory


def test_a_pipe_source_is_read_without_blocking_and_the_caller_keeps_its_descriptor():
    read_end, write_end = os.pipe()
    payload = os.urandom(500_000)

    def write() -> None:
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)

    writer = threading.Thread(target=write)
    writer.start()
    source = os.fdopen(read_end, "rb")
    shared = SharedInput(source)
    first, second = shared.reader(), shared.reader()

    async def main() -> list[bytes]:
        return await asyncio.gather(_drain(first), _drain(second))

    try:
        assert asyncio.run(main()) == [payload, payload]
        writer.join()
        os.fstat(read_end)  # still open: ours was a duplicate
        assert os.get_blocking(read_end)  # and blocking again
    finally:
        source.close()


def test_a_failing_source_reaches_every_reader():
    async def broken():
        yield b"start"
        raise OSError("source broke")

    shared = SharedInput(broken())
    readers = [shared.reader(), shared.reader()]

    async def main() -> None:
        for reader in readers:
            with pytest.raises(OSError, match="source broke"):
                await _drain(reader)

    asyncio.run(main())


def test_readers_must_exist_before_reading_starts():
    shared = SharedInput(os.urandom(10_000), chunk_size=100, max_buffered=200)
    reader = shared.reader()
    asyncio.run(_drain(reader, limit=1000))
    with pytest.raises(RuntimeError, match="create the readers first"):
        shared.reader()


def test_run_stdin_on_several_nodes_and_a_script(nodes, collect):
    payload = os.urandom(3 * 1024 * 1024)
    digest = hashlib.sha256(payload).hexdigest()
    shared = SharedInput(payload)
    hosts = nodes.farm.direct
    jobs = [SshJob(nodes.node(host), commands=[Run("sha256sum", stdin=shared)]) for host in hosts]
    assert Scheduler(*jobs).run()
    for job in jobs:
        assert collect.stdout(job.node.hostname) == f"{digest}  -\n".encode()
    script = SshJob(
        jobs[0].node, commands=[RunString("#!/bin/sh\nhead -c 5; echo\n", stdin=b"hello world")]
    )
    assert Scheduler(script).run()
    assert collect.stdout(script.node.hostname).endswith(b"hello\n")


def test_local_node_commands_read_the_shared_input_too():
    from sshjobs_helpers import Collect

    from sshjobs import LocalNode

    out = Collect()
    shared = SharedInput(os.urandom(2_000_000))
    jobs = [
        SshJob(LocalNode(formatter=out), commands=[Run("wc -c", stdin=shared)]) for _ in range(3)
    ]
    jobs.append(SshJob(LocalNode(formatter=out), commands=[Run("true", stdin=shared)]))
    assert Scheduler(*jobs).run()
    assert sorted(line for _, _, line in out.lines) == [b"2000000\n"] * 3
