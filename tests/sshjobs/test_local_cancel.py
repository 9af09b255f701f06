"""LocalNode: a command cancelled mid-run (scheduler timeout, command timeout) is killed with
its whole process group, reaped, and its subprocess transport closed - nothing outlives the
run, no ResourceWarning once the loop is gone."""
# ruff: noqa: F811 (test parameters are the fixtures imported from sshjobs_helpers)

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator

from fixtures.leftovers import kill_matching, leftovers
from fixtures.waiting import wait_until_async
from sshjobs_helpers import collect, pids_matching  # noqa: F401 (fixtures)

from asynciojobs import Scheduler
from sshjobs import CommandTimeoutError, LocalNode, Run, SshJob


def _marker() -> str:
    """A sleep duration unique to this test: found in the command line of the processes."""
    return f"7{uuid.uuid4().int % 10**6:06d}"


def test_job_timeout_kills_reaps_and_closes(collect):
    """The scheduler's per-job timeout cancels the command: killed, reaped, transport closed
    (it was left to a loop that was gone: "Loop ... that handles pid ... is closed", then
    "unclosed transport")."""
    marker = _marker()
    with leftovers() as found:
        node = LocalNode(formatter=collect)
        job = SshJob(node, command=Run(f"sleep {marker}"), critical=False, timeout=0.3)
        assert Scheduler(job).run() is True  # non-critical: the run goes on
        assert isinstance(job.raised_exception(), TimeoutError)
        assert pids_matching(marker) == []
    assert found == []


def test_scheduler_timeout_kills_the_whole_group(collect):
    marker = _marker()
    with leftovers() as found:
        node = LocalNode(formatter=collect)
        # a child in the background and one in the foreground: the whole group must go
        job = SshJob(node, command=Run(f"sleep {marker} & sleep 1{marker}; echo never"))
        assert Scheduler(job, timeout=0.3).run() is False
        assert pids_matching(marker) == []
    assert found == []
    assert b"never" not in collect.stdout()


@contextlib.contextmanager
def _escaped(marker: str) -> Iterator[str]:
    """A command whose background child leaves the process group (``setsid``) and keeps the
    output pipes open: the pipes never reach EOF when the group is killed. The escaped child
    is killed by the test itself afterwards."""
    try:
        yield f"setsid sleep 3{marker} & echo started; sleep 1{marker}"
    finally:
        kill_matching(f"sleep 3{marker}")


def test_cancelled_command_closes_pipes_still_held_by_an_escaped_child(collect):
    """Cancelled while a child outside the group holds the pipes: the transport is closed by
    us, not left open until that child exits (an unclosed transport once the loop is gone)."""
    marker = _marker()

    async def main() -> None:
        node = LocalNode(formatter=collect)
        job = SshJob(node, command=Run(command))
        task = asyncio.create_task(Scheduler(job).co_run())
        await wait_until_async(
            collect.stdout,
            until=lambda out: b"started" in out,
            message="the command runs",
        )
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert pids_matching(f"sleep 1{marker}") == []

    with leftovers() as found, _escaped(marker) as command:
        asyncio.run(main())
    assert found == []


def test_command_timeout_returns_while_an_escaped_child_holds_the_pipes(collect):
    """A command ``timeout=`` waited for EOF on pipes that an escaped child kept open: the job
    hung until that child exited."""
    marker = _marker()
    with leftovers() as found, _escaped(marker) as command:
        node = LocalNode(formatter=collect)
        job = SshJob(node, command=Run(command, timeout=0.3), timeout=10)
        assert Scheduler(job).run() is False
        assert isinstance(job.raised_exception(), CommandTimeoutError), job.raised_exception()
        assert pids_matching(f"sleep 1{marker}") == []
    assert found == []


def test_killed_commands_report_the_kill_signal(collect):
    """Killing a timed-out command must not reap it behind asyncio's child watcher (closing
    the process transport polls it): that logged "Unknown child process pid ..." and reported
    exit status 255 instead of the KILL signal, now and then."""
    with leftovers() as found:
        node = LocalNode(formatter=collect)
        job = SshJob(
            node,
            critical=False,
            commands=[Run("sleep 5 & sleep 6", timeout=0.05) for _ in range(40)],
        )
        Scheduler(job).run()
        assert [(r.exit_status, r.signal) for r in job.results] == [(None, "KILL")] * 40
    assert found == []
