"""Sandbox nodes: a command cancelled by the client (channel closed mid-output, a forever job
at the end of a run) or by the sandbox itself (a session task cancelled when its loop stops)
leaves nothing behind on the server side: its process group is killed and reaped, and no
future, transport or pipe is left unretrieved or unclosed."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator

from fixtures.leftovers import kill_matching
from fixtures.waiting import wait_until_async

from asynciojobs import Scheduler
from sshjobs import Run, SshJob
from sshjobs.testing import ThreadedSandbox

from .helpers import connect, leftovers, pids_matching


def _marker() -> str:
    return f"6{uuid.uuid4().int % 10**6:06d}"


@contextlib.contextmanager
def _escaped_child(marker: str, then: str = "yes") -> Iterator[str]:
    """A command with a background child that leaves the process group (``setsid``) and keeps
    the output pipes open, then ``then`` (endless output by default). The escaped child is
    killed by the test."""
    try:
        yield f"setsid sleep 3{marker} & {then} {marker}"
    finally:
        kill_matching(f"sleep 3{marker}")


async def _output_flows(process, marker: str) -> None:
    await process.stdout.readexactly(1 << 16)
    await wait_until_async(
        lambda: pids_matching(f"sleep 3{marker}"), message="the child has left the group"
    )


def test_channel_closed_while_an_escaped_child_holds_the_pipes(with_sandbox):
    """The client closes the channel mid-output: the session ends at once. It used to wait
    for an EOF the escaped child prevented, until the sandbox stopped and cancelled it:
    "_GatheringFuture exception was never retrieved", unclosed subprocess transport and
    pipes, and close() waiting its whole grace period."""
    marker = _marker()

    async def body(sandbox) -> float:
        async with connect(sandbox, sandbox.nodes[0]) as conn:
            process = await conn.create_process(command, encoding=None)
            await _output_flows(process, marker)
            process.close()
            await process.wait_closed()
        closing = time.monotonic()
        await sandbox.close()
        assert pids_matching(f"yes {marker}") == []
        return time.monotonic() - closing

    with leftovers("sshjobs") as found, _escaped_child(marker) as command:
        closing_time = with_sandbox(body, count=1)
    assert found == []
    assert closing_time < 4  # below the 5 s grace close() gives sessions that do not end


def test_cancelled_session_kills_and_reaps_its_command(with_sandbox):
    """A session task cancelled while its command runs (what happens to the sessions still
    running when the sandbox's loop stops) kills the group and reaps it before it ends."""
    marker = _marker()

    async def body(sandbox) -> None:
        async with connect(sandbox, sandbox.nodes[0]) as conn:
            process = await conn.create_process(command, encoding=None)
            await _output_flows(process, marker)
            sessions = set(sandbox._sessions)
            assert len(sessions) == 1
            for task in sessions:
                task.cancel()
            await asyncio.gather(*sessions, return_exceptions=True)
            assert all(task.cancelled() for task in sessions)
            assert pids_matching(f"yes {marker}") == []
            process.close()

    with leftovers("sshjobs") as found, _escaped_child(marker) as command:
        with_sandbox(body, count=1)
    assert found == []


def test_forever_jobs_cancelled_at_the_end_of_a_run(tmp_path):
    """Forever jobs (one of them with a child that left its group) cancelled when the run
    ends: their commands are gone, and stopping the sandbox leaves nothing to collect."""
    marker = _marker()

    def run(sandbox_nodes) -> None:
        nodes = sandbox_nodes.ssh_nodes(gateway=sandbox_nodes.gateway_ssh_node())
        forever = [
            SshJob(nodes[0], command=Run(f"sleep {marker}"), forever=True),
            SshJob(nodes[1], command=Run(command), forever=True),
        ]
        ends = SshJob(nodes[2], command=Run(f"sleep 0.5; pgrep -f 'sleep 3{marker}'"))
        # time for the client to kill and close (its own concern, not the sandbox's)
        assert Scheduler(*forever, ends, shutdown_timeout=10).run()

    with leftovers("sshjobs") as found, _escaped_child(marker, "sleep") as command:
        with ThreadedSandbox(tmp_path / "sandbox", 3) as sandbox_nodes:
            run(sandbox_nodes)
        assert pids_matching(f"sleep {marker}") == []
    assert found == []
