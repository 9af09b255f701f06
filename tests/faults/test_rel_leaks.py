"""Leaks (issue 8, case 4): 200 consecutive scheduler runs with SSH jobs in one process - ok,
failing, timed-out (killed), cancelled, refused and gatewayed jobs mixed in - leave open file
descriptors, asyncio tasks, threads and SSH connections at their baseline, and produce no
"coroutine ... was never awaited", "Task exception was never retrieved", unclosed-resource
warning or asyncio logger error, with warnings turned into errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import sys
import threading
import warnings
import weakref
from pathlib import Path

from faultkit import Lines, node, sessions, wait_sessions_closed

from asynciojobs import Scheduler
from sshjobs import CommandTimeoutError, Run, SshJob, SshNode

RUNS = 200


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _fds() -> set[str]:
    """Open descriptors of this process, as "fd -> target" (the target shows what leaked)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the descriptor listdir itself used
            found.add(f"{fd} -> {os.readlink(f'/proc/self/fd/{fd}')}")
    return found


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _tcp_to(farm) -> int:
    """Established TCP connections of this network namespace to the farm's direct sshds."""
    import socket
    import struct

    ends = {
        f"{struct.unpack('<I', socket.inet_aton(h.address))[0]:08X}:{h.port:04X}"
        for h in farm.hosts
        if h.network == "A"
    }
    rows = Path("/proc/self/net/tcp").read_text().splitlines()[1:]
    return sum(1 for row in rows if row.split()[3] == "01" and row.split()[2] in ends)


def test_200_runs_with_ssh_jobs_leave_nothing_behind(farm):
    host, other = farm.direct
    lines = Lines()
    gateway = node(farm, farm.gateway, formatter=lines)
    shared = node(farm, host, formatter=lines)  # one node reused by every run
    behind = node(farm, farm.private[0], via=gateway, formatter=lines)
    unraisable: list[str] = []
    handler = _Records()
    loggers = [logging.getLogger(name) for name in ("asyncio", "asynciojobs", "sshjobs")]
    sessions_before = sessions(farm, farm.hosts)

    other_node = node(farm, other, formatter=lines)

    def scheduler_for(i: int) -> tuple[Scheduler, list[SshJob]]:
        jobs = [SshJob(shared, critical=False, commands=[Run(f"echo {i}; exit {i % 2 * 3}")])]
        if i % 20 == 3:  # timed out: killed on the remote side
            jobs.append(SshJob(other_node, critical=False, command=Run("sleep 30", timeout=0.2)))
        if i % 20 == 7:  # through the gateway
            jobs.append(SshJob(behind, command="echo behind", critical=False))
        if i % 25 == 11:  # refused
            jobs.append(
                SshJob(
                    SshNode("127.0.0.1", port=1, formatter=lines, timeout=5),
                    command="true",
                    critical=False,
                )
            )
        timeout = None
        if i % 50 == 29:  # the whole run times out: a job is cancelled
            jobs.append(
                SshJob(node(farm, other, formatter=lines), command="sleep 30", critical=False)
            )
            timeout = 0.5
        return Scheduler(*jobs, timeout=timeout), jobs

    async def runs(start: int, stop: int, samples: list) -> None:
        for block in range(start, stop, 10):
            async with shared:  # one connection for 10 runs, then closed
                for i in range(block, block + 10):
                    scheduler, jobs = scheduler_for(i)
                    finished = await scheduler.co_run()
                    assert finished is (i % 50 != 29), i
                    result = jobs[0].results[0]
                    assert result.stdout is None and result.exit_status == i % 2 * 3, i
                    if i % 20 == 3:
                        assert isinstance(jobs[1].results[0].error, CommandTimeoutError), (
                            jobs[1].results[0].error
                        )
                    if i % 20 == 7:
                        assert jobs[-1].raised_exception() is None and jobs[-1].results[0].ok
                    assert shared.is_connected(), i
                    assert not gateway.is_connected() and not other_node.is_connected(), i
            assert not shared.is_connected()
        await asyncio.sleep(0)
        samples.append(asyncio.all_tasks() - {asyncio.current_task()})

    gc.collect()  # earlier tests' garbage is theirs: only ours reaches the hook below
    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda info: unraisable.append(
        f"{info.exc_type.__name__}: {info.exc_value} in {info.object!r}"
    )
    for logger in loggers:
        logger.addHandler(handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warm: list = []
            asyncio.run(runs(0, 10, warm))  # warm-up: keys, caches, imports
            gc.collect()
            fds, threads, tcp = _fds(), _threads(), _tcp_to(farm)
            samples: list = []

            async def many() -> None:
                tasks_before = asyncio.all_tasks() - {asyncio.current_task()}
                await runs(10, RUNS - 10, samples)
                samples.append(tasks_before)

            asyncio.run(many())  # 180 runs in one event loop
            for i in range(RUNS - 10, RUNS):  # 10 runs with run(): a loop each
                scheduler, jobs = scheduler_for(i)
                scheduler.run()
                assert jobs[0].results[0].exit_status == i % 2 * 3
            gc.collect()
            fds_after, threads_after, tcp_after = _fds(), _threads(), _tcp_to(farm)
    finally:
        sys.unraisablehook = old_hook
        for logger in loggers:
            logger.removeHandler(handler)
    assert unraisable == []
    assert [
        f"{r.name}: {r.getMessage()}"
        for r in handler.records
        if r.levelno >= logging.ERROR or r.name == "asyncio"
    ] == []
    assert samples[0] == set() and samples[1] == set()  # no task outlives its run
    assert fds_after - fds == set()
    assert threads_after <= threads, (threads, threads_after, threading.enumerate())
    assert tcp == tcp_after == 0
    wait_sessions_closed(farm, farm.hosts, sessions_before)
    assert shared.connections_opened == (RUNS - 10) // 10 + 10  # really shared, then closed


def test_keep_connection_jobs_are_released_by_their_node(farm):
    shared = node(farm, farm.direct[0], formatter=Lines())

    async def main():
        kept = [SshJob(shared, command="true", keep_connection=True) for _ in range(3)]
        for job in kept:
            assert await Scheduler(job).co_run()
        assert shared.is_connected()  # kept open, as asked
        refs = [weakref.ref(job) for job in kept]
        del kept, job
        await shared.close()  # the caller's duty with keep_connection
        gc.collect()
        return [ref for ref in refs if ref() is not None]

    assert asyncio.run(main()) == []
